from vitdet_cli.app import app

app(prog_name="vitdet")
