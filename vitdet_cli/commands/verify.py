"""`vitdet verify`: every file of an artifacts folder against its manifest, like sha256sum -c."""

from __future__ import annotations

from pathlib import Path

import typer

from vitdet_cli.commands._common import JsonOption, use_json
from vitdet_cli.report.console import console, emit


def _short(sha: str | None) -> str:
    return f"{sha[:16]}…" if sha else "-"


def command(
    artifacts: Path = typer.Argument(..., help="The --out directory of `vitdet export`."),
    json_output: bool = JsonOption,
) -> None:
    """Check sizes and sha256 of every file, the paths, the metas and the checkpoint (exit 1 on
    any failure). atc, infer, compare, eval and bench run the same check on open."""
    use_json(json_output)
    from rich.markup import escape
    from rich.table import Table

    from vitdet_cli.artifacts import verify_folder

    report = verify_folder(artifacts)

    def render() -> None:
        table = Table(title=f"vitdet verify {artifacts}")
        for col in ("file", "size", "expected sha256", "actual sha256", "status"):
            table.add_column(col, justify="right" if col == "size" else "left")
        for row in report.rows:
            status = "[green]ok[/green]" if row.ok else f"[red]{row.status}[/red]"
            size = "-" if row.size is None else str(row.size)
            table.add_row(row.path, size, _short(row.expected), _short(row.actual), status)
        console.print(table)
        for problem in report.problems:
            console.print(f"[red]✗[/red] {escape(problem['message'])}")
            if problem.get("hint"):
                console.print(f"  [yellow]hint:[/yellow] {escape(problem['hint'])}")
        bad = sum(not r.ok for r in report.rows) + len(report.problems)
        verdict = "[green]OK[/green]" if report.ok else f"[red]FAILED[/red] ({bad} problem(s))"
        console.print(f"{len(report.rows)} file(s) checked: {verdict}")

    emit(report.to_dict(), render)
    if not report.ok:
        raise typer.Exit(1)
