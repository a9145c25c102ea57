"""`vitdet build-mmcv`: mmcv 2.1.0 with compiled ops, built once and cached."""

from __future__ import annotations

import typer

from vitdet_cli.commands._common import JsonOption, use_json
from vitdet_cli.report.console import console, emit


def command(
    target: str = typer.Option("auto", "--target", help="auto | cpu | cuda | npu"),
    force: bool = typer.Option(False, "--force", help="Rebuild even if a cached wheel exists."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and exit."),
    no_install: bool = typer.Option(False, "--no-install", help="Build/cache the wheel only."),
    json_output: bool = JsonOption,
) -> None:
    """Download, patch, compile, cache, install and verify mmcv (CPU here: ~20 min once)."""
    use_json(json_output)
    from vitdet_cli.mmcv_build import builder
    from vitdet_cli.report.tables import checks_table

    if dry_run:
        p = builder.plan(target)

        def show_plan() -> None:
            console.print(f"[bold]target[/bold] {p.choice.target} ({p.choice.reason})")
            console.print(f"[bold]key[/bold] {p.spec.key}")
            console.print("cached wheel: " + (str(p.cached_wheel) if p.cached_wheel else "none"))
            if p.cached_wheel and not force:
                console.print("→ would reuse the cached wheel, install it and verify")
            else:
                for i, step in enumerate(p.steps, 1):
                    console.print(f"  {i}. {step}")

        emit({"dry_run": True, **p.to_dict()}, show_plan)
        return
    result = builder.build_mmcv(target, force=force, install_wheel=not no_install)

    def render() -> None:
        if result.checks:
            console.print(checks_table(result.checks, title="mmcv checks"))
        how = "reused from cache" if result.from_cache else "built"
        console.print(f"[green]mmcv ready[/green]: {result.wheel} ({how}, {result.seconds:.1f}s)")
        console.print(f"log: {result.log_path}")

    emit(result.to_dict(), render)
