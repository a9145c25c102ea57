"""`vitdet atc`: compile the exported stage graphs to Ascend OM files."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vitdet_cli.atc.argv import DEFAULT_PRECISION
from vitdet_cli.commands._common import AtcOption, JsonOption, SocVersionOption, use_json
from vitdet_cli.report.console import console, emit


def _size(n: Optional[int]) -> str:
    return "-" if n is None else f"{n / 2**20:.1f} MB"


def command(
    artifacts: Path = typer.Option(
        ..., "--artifacts", help="The --out directory of vitdet export."
    ),
    soc_version: Optional[str] = SocVersionOption,
    precision_mode: str = typer.Option(
        DEFAULT_PRECISION,
        "--precision-mode",
        help="atc --precision_mode or --precision_mode_v2 value.",
    ),
    keep_fp32: bool = typer.Option(
        True,
        "--keep-fp32/--no-keep-fp32",
        help="Keep LayerNorm/Softmax fp32 (--keep_dtype) under modes that lower precision.",
    ),
    stages: Optional[str] = typer.Option(
        None, "--stages", help="Comma list of backbone,rpn,roi (default: all)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the atc commands; run nothing."),
    atc: Optional[str] = AtcOption,
    json_output: bool = JsonOption,
) -> None:
    """Run atc per stage graph; writes atc/<stage>/<graph>.om and atc_meta.json."""
    use_json(json_output)
    from rich.table import Table

    from vitdet_cli.artifacts import Artifacts
    from vitdet_cli.atc.run import compile_artifacts
    from vitdet_cli.report.progress import ConsoleProgress

    report = compile_artifacts(
        Artifacts.open(artifacts),
        soc_version=soc_version,
        precision_mode=precision_mode,
        stages=stages,
        dry_run=dry_run,
        keep_fp32=keep_fp32,
        atc=atc,
        progress=ConsoleProgress(),
    )

    def render() -> None:
        table = Table(title=f"vitdet atc ({report.atc_version or 'atc version unknown'})")
        for col in ("stage", "graph", "soc", "precision", "seconds", "om size", "status"):
            table.add_column(col, justify="right" if col in ("seconds", "om size") else "left")
        for r in report.results:
            status = "[green]ok[/green]" if r.status == "ok" else r.status
            seconds = f"{r.seconds:.1f}" if r.status == "ok" else "-"
            table.add_row(
                r.stage,
                r.graph,
                report.soc.value,
                report.precision_mode,
                seconds,
                _size(r.om_bytes),
                status,
            )
        console.print(table)
        console.print(f"SoC {report.soc.value} from {report.soc.source}")
        if report.dry_run:
            for r in report.results:
                console.print(r.command, markup=False)
        for path in report.metas:
            console.print(f"wrote {path}")

    emit(report.to_dict(), render)
