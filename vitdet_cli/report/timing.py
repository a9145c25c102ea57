"""Per-step latency statistics over repeated runs, and the tables that show them.

:class:`TimingStats` summarises runs of ``{step: ms}`` (a :class:`HostResult`'s ``timings``
merged with its ``stage_timings``); :func:`timing_table` shows one backend's steps,
:func:`bench_table` compares backends in the manner of ``yolo benchmark``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from rich.table import Table

STEP_ORDER = (
    "preprocess",
    "backbone",
    "rpn",
    "rpn_post",
    "roi_bbox",
    "bbox",
    "bbox_post",
    "roi_mask",
    "mask",
    "mask_post",
)
"""Pipeline order of the steps; ``bbox``/``mask`` are the stage names ``run_pipeline`` uses
for ``roi_bbox``/``roi_mask``. Steps not listed follow, in order of first appearance."""


@dataclass(frozen=True)
class StepStats:
    """Latency of one step over the runs that had it, in ms."""

    median: float
    p90: float
    mean: float
    min: float
    runs: int

    @classmethod
    def of(cls, values: Sequence[float]) -> StepStats:
        v = np.asarray(values, dtype=np.float64)
        return cls(
            float(np.median(v)),
            float(np.percentile(v, 90)),
            float(v.mean()),
            float(v.min()),
            len(v),
        )

    def to_dict(self) -> dict[str, float]:
        return {
            "median_ms": self.median,
            "p90_ms": self.p90,
            "mean_ms": self.mean,
            "min_ms": self.min,
            "runs": self.runs,
        }


def _ordered(keys: Iterable[str], order: Sequence[str]) -> list[str]:
    seen = list(dict.fromkeys(keys))
    return [k for k in order if k in seen] + [k for k in seen if k not in order]


@dataclass(frozen=True)
class TimingStats:
    """Per-step and total latency over ``runs`` runs.

    ``total`` is over each run's sum of steps (its median is the median of the sums, not the
    sum of the step medians); ``share`` is each step's part of all time spent, in %.
    """

    steps: dict[str, StepStats]
    total: StepStats
    share: dict[str, float]
    runs: int

    @classmethod
    def from_runs(
        cls, runs: Sequence[Mapping[str, float]], order: Sequence[str] = STEP_ORDER
    ) -> TimingStats:
        """Summarise per-run ``{step: ms}`` dicts; a step missing from a run counts as absent."""
        if not runs:
            raise ValueError("no timed runs to summarise")
        names = _ordered((k for run in runs for k in run), order)
        steps = {n: StepStats.of([run[n] for run in runs if n in run]) for n in names}
        sums = [float(sum(run.values())) for run in runs]
        grand = sum(sums)
        share = {n: 100.0 * s.mean * s.runs / grand if grand else 0.0 for n, s in steps.items()}
        return cls(steps, StepStats.of(sums), share, len(runs))

    @property
    def img_per_s(self) -> float:
        """Throughput implied by the median total (one image per run)."""
        return 1000.0 / self.total.median if self.total.median > 0 else float("inf")

    def to_dict(self) -> dict:
        """JSON-ready: steps (in order) with their stats and share, total, img/s, runs."""
        return {
            "runs": self.runs,
            "steps": {
                n: {**s.to_dict(), "share_pct": self.share[n]} for n, s in self.steps.items()
            },
            "total": self.total.to_dict(),
            "img_per_s": self.img_per_s,
        }


def timing_table(stats: TimingStats, title: str = "Timing") -> Table:
    """Rows of step, median ms, p90 ms and share of total; then the total and img/s."""
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
