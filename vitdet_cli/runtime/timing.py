"""The pipeline's steps, the timer that times them, and statistics over timed runs.

:data:`STEPS` is the one list of step names, in pipeline order: the four stage graphs and the
host steps between them. :func:`~vitdet_cli.runtime.host.run_pipeline` times every step of one
image with a :class:`StepTimer`; :class:`TimingStats` summarises many such runs (what infer,
bench and the timing tables show); :func:`interleaved` times configurations against each other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

STEPS = (
    "preprocess",
    "backbone",
    "rpn",
    "rpn_post",
    "roi_bbox",
    "bbox_post",
    "roi_mask",
    "mask_post",
)
"""Pipeline steps in order: the stage graphs (:data:`GRAPH_STEPS`) and the host steps between
them (``bbox_post`` includes the policies)."""
GRAPH_STEPS = ("backbone", "rpn", "roi_bbox", "roi_mask")
"""The steps that run a stage graph on the backend."""
HOST_STEPS = tuple(s for s in STEPS if s not in GRAPH_STEPS)
"""The numpy steps between the graphs."""


class StepTimer:
    """Wall time of each step of one run, in ms: every step of :data:`STEPS` (0.0 until timed);
    a step timed twice adds up."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = dict.fromkeys(STEPS, 0.0)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        if name not in self.ms:
            raise KeyError(f"unknown pipeline step {name!r}; the steps are {STEPS}")
        t0 = time.perf_counter()
        yield
        self.ms[name] += (time.perf_counter() - t0) * 1e3


def interleaved(
    runners: Mapping[str, Callable[[], object]], rounds: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Wall ms of each runner's timed runs: ``warmup`` untimed runs each, then ``rounds`` rounds
    that run every runner once, the order rotated every round, so that a neighbour's load
    spreads over all of them instead of landing on whichever ran then."""
    for run in runners.values():
        for _ in range(warmup):
            run()
    names = list(runners)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds if names else 0):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter()
            runners[name]()
            times[name].append((time.perf_counter() - t0) * 1e3)
    return times


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

    @classmethod
    def from_dict(cls, d: Mapping) -> StepStats:
        return cls(d["median_ms"], d["p90_ms"], d["mean_ms"], d["min_ms"], d["runs"])

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
        cls, runs: Sequence[Mapping[str, float]], order: Sequence[str] = STEPS
    ) -> TimingStats:
        """Summarise per-run ``{step: ms}`` dicts; a step missing from a run counts as absent.
        Steps not in ``order`` follow it, in order of first appearance."""
        if not runs:
            raise ValueError("no timed runs to summarise")
        names = _ordered((k for run in runs for k in run), order)
        steps = {n: StepStats.of([run[n] for run in runs if n in run]) for n in names}
        sums = [float(sum(run.values())) for run in runs]
        grand = sum(sums)
        share = {n: 100.0 * s.mean * s.runs / grand if grand else 0.0 for n, s in steps.items()}
        return cls(steps, StepStats.of(sums), share, len(runs))

    @classmethod
    def from_dict(cls, data: Mapping) -> TimingStats:
        """The inverse of :meth:`to_dict` (e.g. what a bench worker sends back)."""
        steps = {n: StepStats.from_dict(d) for n, d in data["steps"].items()}
        share = {n: d["share_pct"] for n, d in data["steps"].items()}
        return cls(steps, StepStats.from_dict(data["total"]), share, data["runs"])

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
