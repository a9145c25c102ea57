"""The CLI skin: global options, registered commands, error rendering."""

import subprocess
import sys

from vitdet_cli import __version__


def test_help_lists_only_real_commands(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for name in ("env-check", "build-mmcv", "config"):
        assert name in result.stdout
    from vitdet_cli.commands import COMMANDS

    for name, module in COMMANDS:
        assert hasattr(module, "app") or callable(module.command), name


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0 and __version__ in result.stdout


def test_json_flag_before_and_after_subcommand(cli, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\n")
    a = cli("--json", "config", "show", str(path))
    b = cli("config", "show", str(path), "--json")
    assert a.exit_code == b.exit_code == 0 and a.stdout == b.stdout and a.stdout.startswith("{")


def test_console_script_entry_has_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("trian: {}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "vitdet_cli", "config", "show", str(bad)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "did you mean 'train'" in proc.stderr and "Traceback" not in proc.stderr


def test_resume_value_is_optional():
    from vitdet_cli.app import fill_optional_values

    assert fill_optional_values(["train", "c.yaml", "--resume"]) == [
        "train",
        "c.yaml",
        "--resume",
        "latest",
    ]
    assert fill_optional_values(["train", "--resume", "--devices", "0"])[1:3] == [
        "--resume",
        "latest",
    ]
    assert fill_optional_values(["train", "--resume", "w/iter_8.pth"]) == [
        "train",
        "--resume",
        "w/iter_8.pth",
    ]
    assert fill_optional_values(["train", "--resume", "c.yaml"]) == [
        "train",
        "--resume",
        "latest",
        "c.yaml",
    ]
