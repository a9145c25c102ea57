"""`vitdet env-check`: is this machine ready for the device asked for?"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vitdet_cli.commands._common import JsonOption, use_json
from vitdet_cli.report.console import console, emit


def command(
    device: str = typer.Option("auto", "--device", help="auto | npu | cuda | cpu"),
    soc_version: Optional[str] = typer.Option(
        None, "--soc-version", help="SoC for atc, e.g. Ascend910B3."
    ),
    no_ops: bool = typer.Option(False, "--no-ops", help="Skip the mmcv op smoke tests."),
    config: Optional[Path] = typer.Option(
        None, "--config", help="Experiment config whose device.soc_version joins the SoC order."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Check Python packages, mmcv ops, devices and CANN; exit 1 if a required check fails."""
    use_json(json_output)
    from vitdet_cli.envcheck.checks import failed, run_checks
    from vitdet_cli.report.tables import checks_table

    config_soc = None
    if config is not None:
        from vitdet_cli.config import load_config

        config_soc = load_config(config, []).device.soc_version
    checks = run_checks(device, soc_flag=soc_version, ops=not no_ops, config_soc=config_soc)
    bad = failed(checks)

    def render() -> None:
        console.print(checks_table(checks, title=f"vitdet env-check (--device {device})"))
        if bad:
            console.print(
                f"[red]{len(bad)} required check(s) failed:[/red] " + ", ".join(c.name for c in bad)
            )
        else:
            console.print("[green]ready[/green]")

    emit({"device": device, "ok": not bad, "checks": [c.to_dict() for c in checks]}, render)
    if bad:
        raise typer.Exit(1)
