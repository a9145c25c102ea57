"""The table of every candidate ``vitdet tune`` tried (from :meth:`TuneReport.to_dict`)."""

from __future__ import annotations

from typing import Optional

from rich.table import Table

_STYLE = {"chosen": "bold green", "accepted": "green", "rejected": "yellow", "failed": "red"}


def _num(v: Optional[float], fmt: str) -> str:
    return "—" if v is None else format(v, fmt)


def candidates_table(report: dict) -> Table:
    """Stage, runtime, precision, median ms, time vs the stage's fastest candidate, max abs and
    rel. error vs the reference, verdict (``*``: a reason in :func:`reasons`)."""
    table = Table(title=f"vitdet tune: every candidate (reference {report['reference']})")
    cols = ("stage", "runtime", "precision", "median ms", "vs fastest", "max abs", "max rel")
    for col in (*cols, "verdict"):
        numeric = col in cols[3:]
        table.add_column(col, justify="right" if numeric else "left", overflow="fold")
    trials = report["trials"]
    for stage in dict.fromkeys(t["stage"] for t in trials):
        rows = [t for t in trials if t["stage"] == stage]
        times = [t["median_ms"] for t in rows if t["median_ms"] is not None]
        fastest = min(times) if times else None
        for t in rows:
            ratio = t["median_ms"] / fastest if t["median_ms"] and fastest else None
            status = t["status"] or "—"
            verdict = f"[{_STYLE.get(status, 'white')}]{status}[/]" + ("*" if t["why"] else "")
            table.add_row(
                stage,
                t["backend"],
                t["precision"],
                _num(t["median_ms"], ".2f"),
                _num(ratio, ".2f") + ("×" if ratio is not None else ""),
                _num(t["max_abs"], ".2e"),
                _num(t["max_rel"], ".2e"),
                verdict,
            )
    return table


def reasons(report: dict) -> list[str]:
    """``* <stage> <runtime> <precision>: why`` for every candidate whose verdict has a reason."""
    return [
        f"* {t['stage']} {t['backend']} {t['precision']}: {t['why']}"
        for t in report["trials"]
        if t["why"]
    ]
