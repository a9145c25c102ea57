"""The table of every candidate ``vitdet tune`` tried (from :meth:`TuneReport.to_dict`).

Fixed-width text rather than a boxed table so that it stays readable at 80 columns (a pipe's
width): one row per candidate (about 70 columns), its reason folded on the lines below it.
"""

from __future__ import annotations

import textwrap
from typing import Optional

from rich.text import Text

_STYLE = {"chosen": "bold green", "accepted": "green", "rejected": "yellow", "failed": "red"}
_HEAD = ("stage", "candidate", "ms", "× best", "max abs", "max rel", "verdict")
_WIDTHS = (9, 17, 9, 8, 9, 9, 0)
_INDENT = " " * (_WIDTHS[0] + 2)


def _num(v: Optional[float], fmt: str) -> str:
    return "—" if v is None else format(v, fmt)


def _row(cells) -> str:
    out = ""
    for i, (cell, width) in enumerate(zip(cells, _WIDTHS)):
        out += cell.rjust(width) if 2 <= i <= 5 else cell.ljust(width)
        out += " " if i < len(_WIDTHS) - 1 else ""
    return out


def candidates_table(report: dict, width: int = 80) -> Text:
    """Stage (on its first row), candidate (runtime and precision), median ms, time vs the
    stage's fastest candidate, max abs and rel. error vs the reference, verdict; each reason
    wrapped to ``width`` under its row."""
    text = Text(f"vitdet tune: every candidate (reference {report['reference']})\n")
    text.append(_row(_HEAD).rstrip() + "\n", style="bold")
    trials = report["trials"]
    for stage in dict.fromkeys(t["stage"] for t in trials):
        rows = [t for t in trials if t["stage"] == stage]
        times = [t["median_ms"] for t in rows if t["median_ms"] is not None]
        fastest = min(times) if times else None
        for i, t in enumerate(rows):
            ratio = t["median_ms"] / fastest if t["median_ms"] and fastest else None
            status = t["status"] or "—"
            cells = (
                stage if i == 0 else "",
                f"{t['backend']} {t['precision']}",
                _num(t["median_ms"], ".2f"),
                _num(ratio, ".2f") + ("×" if ratio is not None else ""),
                _num(t["max_abs"], ".1e"),
                _num(t["max_rel"], ".1e"),
                "",
            )
            text.append(_row(cells))
            text.append(status + "\n", style=_STYLE.get(status, "white"))
            if t["why"]:
                lines = textwrap.wrap(t["why"], max(20, width - len(_INDENT) - 2))
                text.append("".join(f"{_INDENT}  {line}\n" for line in lines), style="dim")
    text.rstrip()
    return text
