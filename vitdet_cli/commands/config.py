"""`vitdet config show`: print a resolved experiment config."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.syntax import Syntax

from vitdet_cli.commands._common import JsonOption, SetOption, load, use_json
from vitdet_cli.report.console import console, emit

app = typer.Typer(help="Inspect experiment configs.", no_args_is_help=True)


@app.command("show")
def show(
    config: Path = typer.Argument(..., help="YAML experiment config."),
    overrides: Optional[List[str]] = SetOption,
    json_output: bool = JsonOption,
) -> None:
    """Print CONFIG with defaults filled in and overrides applied."""
    use_json(json_output)
    from vitdet_cli.config import dump_config

    cfg = load(config, overrides)
    emit(cfg.model_dump(mode="json"), lambda: console.print(Syntax(dump_config(cfg), "yaml")))
