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
    check: bool = typer.Option(
        False,
        "--check",
        help="With --target npu: compile mmcv's NPU sources against the torch/torch_npu wheels' "
        "headers and resolve their torch_npu symbols in libtorch_npu.so; no CANN or NPU needed.",
    ),
    json_output: bool = JsonOption,
) -> None:
    """Download, patch, compile, cache, install and verify mmcv (CPU here: ~20 min once)."""
    use_json(json_output)
    if check:
        _check(target)
        return
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
    from vitdet_cli.report.progress import ConsoleProgress

    build = builder.build_mmcv
    result = build(target, force=force, install_wheel=not no_install, progress=ConsoleProgress())

    def render() -> None:
        if result.checks:
            console.print(checks_table(result.checks, title="mmcv checks"))
        how = "reused from cache" if result.from_cache else "built"
        console.print(f"[green]mmcv ready[/green]: {result.wheel} ({how}, {result.seconds:.1f}s)")
        console.print(f"log: {result.log_path}")

    emit(result.to_dict(), render)


def _check(target: str) -> None:
    from vitdet_cli.errors import VitdetError
    from vitdet_cli.mmcv_build import npu_check
    from vitdet_cli.report.tables import npu_check_table

    if target != "npu":
        raise VitdetError(
            f"--check is for --target npu (got --target {target})",
            hint="vitdet build-mmcv --target npu --check",
            code="bad_target",
            exit_code=2,
        )
    from vitdet_cli.report.progress import ConsoleProgress

    report = npu_check.run_check(progress=ConsoleProgress())

    def render() -> None:
        console.print(npu_check_table(report))
        bad = [f for f in report.files if not f.ok]
        verdict = (
            "[green]all NPU sources compile and their torch_npu symbols resolve[/green]"
            if report.ok
            else f"[red]{len(bad)} of {len(report.files)} NPU sources fail[/red]"
        )
        console.print(f"{verdict} ({report.seconds:.0f}s); log: {report.log}")
        console.print(
            "[dim]proves: sources compile, symbols resolve; only an NPU proves the ops run and "
            "agree with CPU (vitdet env-check --device npu)[/dim]"
        )

    emit(report.to_dict(), render)
    if not report.ok:
        raise typer.Exit(1)
