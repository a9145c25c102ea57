"""The tables of timings: :func:`timing_table` shows one backend's steps (a
:class:`~vitdet_cli.runtime.timing.TimingStats`, which the runtime measures), :func:`bench_table`
compares backends in the manner of ``yolo benchmark``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from rich.table import Table


def timing_table(stats: Any, title: str = "Timing") -> Table:
    """Rows of step, median ms, p90 ms and share of total; then the total and img/s.

    ``stats`` is a ``TimingStats`` (read by its fields: ``steps``, ``share``, ``total``,
    ``runs``, ``img_per_s``)."""
    table = Table(title=title, caption=f"{stats.runs} run(s)")
    table.add_column("step")
    for col in ("median ms", "p90 ms", "share %"):
        table.add_column(col, justify="right")
    for name, s in stats.steps.items():
        table.add_row(name, f"{s.median:.2f}", f"{s.p90:.2f}", f"{stats.share[name]:.1f}")
    table.add_section()
    t = stats.total
    table.add_row("[bold]total[/bold]", f"{t.median:.2f}", f"{t.p90:.2f}", "100.0")
    table.add_row("img/s", f"{stats.img_per_s:.2f}", "", "")
    return table


BENCH_COLUMNS = (
    ("backend", "backend"),
    ("status", "status"),
    ("size_mb", "size MB"),
    ("bbox_map", "bbox mAP"),
    ("segm_map", "segm mAP"),
    ("median_ms", "median ms/img"),
    ("p90_ms", "p90 ms/img"),
    ("img_per_s", "img/s"),
    ("peak_mb", "peak MB"),
)
"""(row key, column heading) of :func:`bench_table`."""

_DASH = "—"


def _short(message: str, limit: int = 40) -> str:
    first = message.strip().splitlines()[0] if message.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _status(row: Mapping) -> str:
    error = row.get("error")
    if row.get("ok", not error):
        return "✅"
    message = error.get("message") if isinstance(error, dict) else error  # {code, message, hint}
    return f"❌ {_short(str(message or 'failed'))}"


def _cell(value: object, digits: int) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return _DASH
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else str(value)


_DIGITS = {
    "size_mb": 1,
    "bbox_map": 4,
    "segm_map": 4,
    "median_ms": 2,
    "p90_ms": 2,
    "img_per_s": 2,
    "peak_mb": 0,
}


def bench_table(rows: Sequence[Mapping], title: str = "Benchmark") -> Table:
    """One row per backend, as ``yolo benchmark`` prints.

    Row keys: ``backend`` (str), ``ok`` (bool; defaults to "no ``error``"), ``error``
    (``{code, message, hint}`` or a str; the message shortened to its first line), ``size_mb``,
    ``bbox_map``, ``segm_map``, ``median_ms``, ``p90_ms``, ``img_per_s``, ``peak_mb`` (numbers,
    each optional: missing or None shows —).
    """
    table = Table(title=title)
    for key, heading in BENCH_COLUMNS:
        table.add_column(heading, justify="left" if key in ("backend", "status") else "right")
    for row in rows:
        cells = [str(row.get("backend", "?")), _status(row)]
        cells += [_cell(row.get(key), _DIGITS[key]) for key, _ in BENCH_COLUMNS[2:]]
        table.add_row(*cells)
    return table
