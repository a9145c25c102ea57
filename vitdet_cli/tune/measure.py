"""Time one stage on its candidates with real inputs and diff their outputs with the reference."""

from __future__ import annotations

import statistics
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.layout import STAGE_GRAPHS
from vitdet_cli.compare.gates import FP32
from vitdet_cli.compare.tensors import TensorParity, scaled_parity
from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.backends.base import StageSession
from vitdet_cli.runtime.backends.tuned import TunedBackend
from vitdet_cli.runtime.staged import Recorded
from vitdet_cli.runtime.timing import interleaved
from vitdet_cli.tune.candidates import Candidate


@dataclass
class Trial:
    """One candidate on one stage: times (ms per stage run: all its graphs), tensor diffs
    against the reference, and the verdict (``status``: chosen, accepted, rejected, failed)."""

    stage: str
    candidate: Candidate
    times_ms: list[float] = field(default_factory=list)
    parity: list[tuple[str, TensorParity]] = field(default_factory=list)
    error: str = ""
    status: str = ""
    why: str = ""

    @property
    def median_ms(self) -> Optional[float]:
        return statistics.median(self.times_ms) if self.times_ms else None

    @property
    def tensors_ok(self) -> bool:
        return not self.error and bool(self.parity) and all(p.within_tol for _, p in self.parity)

    def _max(self, key: str) -> Optional[float]:
        values = [getattr(p, key) for _, p in self.parity if getattr(p, key) is not None]
        return max(values) if values else None

    @property
    def max_abs(self) -> Optional[float]:
        return self._max("max_abs")

    @property
    def max_rel(self) -> Optional[float]:
        return self._max("max_rel")

    @property
    def min_cosine(self) -> Optional[float]:
        values = [p.cosine for _, p in self.parity if p.cosine is not None]
        return min(values) if values else None

    def to_dict(self) -> dict:
        return {
            "stage": self.stage,
            "backend": self.candidate.backend,
            "precision": self.candidate.precision,
            "median_ms": self.median_ms,
            "times_ms": self.times_ms,
            "max_abs": self.max_abs,
            "max_rel": self.max_rel,
            "min_cosine": self.min_cosine,
            "tensors_ok": self.tensors_ok,
            "status": self.status,
            "why": self.why,
            "error": self.error,
            "tensors": [{"graph": g, **p.to_dict()} for g, p in self.parity],
        }


def output_parity(graph: str, outputs: list, reference: list, names) -> list:
    """Each output against the reference's within ``FP32.tensor_atol * max(1, max |ref|)``,
    as ``compare`` judges stage tensors."""
    return [
        (graph, scaled_parity(a, b, name, FP32.tensor_atol))
        for name, a, b in zip(names, outputs, reference)
    ]


def measure_stage(
    artifacts: Artifacts,
    stage: str,
    candidate: Candidate,
    recorded: Recorded,
    warmup: int = 1,
    repeat: int = 5,
    threads: int = 0,
    files: Optional[dict[str, Path]] = None,
    om: Optional[Mapping[str, Any]] = None,
) -> Trial:
    """:func:`measure_candidates` of one candidate (``files``: graph → its file)."""
    files_of = {candidate: files or {}}
    return measure_candidates(
        artifacts, stage, [candidate], recorded, warmup, repeat, threads, files_of, om
    )[0]


def measure_candidates(
    artifacts: Artifacts,
    stage: str,
    candidates: Sequence[Candidate],
    recorded: Recorded,
    warmup: int = 1,
    repeat: int = 5,
    threads: int = 0,
    files: Optional[Mapping[Candidate, Mapping[str, Path]]] = None,
    om: Optional[Mapping[str, Any]] = None,
) -> list[Trial]:
    """One trial per candidate: the stage's graphs opened on each (``files``: candidate → graph
    → another file to run, e.g. int8 or an OM; ``om``: the om backend's options), run once on
    the recorded feeds for the diffs, then timed in interleaved rounds (``warmup`` untimed runs
    in all, ``repeat`` timed), so that a neighbour's load spreads over every candidate instead
    of landing on one. A candidate that cannot load or run gives a failed trial, not an error."""
    trials = {c: Trial(stage, c) for c in candidates}
    opened: dict[Candidate, tuple[TunedBackend, dict[str, StageSession]]] = {}
    try:
        for cand, trial in trials.items():
            choice = {stage: (cand.backend, cand.precision)}
            paths = {stage: dict((files or {}).get(cand, {}))}
            backend = TunedBackend(choice, threads, paths, om)
            sessions: dict[str, StageSession] = {}
            opened[cand] = (backend, sessions)
            with _failures(trial):
                for graph in STAGE_GRAPHS[stage]:
                    sessions[graph] = backend.open(artifacts, stage, graph)
                for graph, session in sessions.items():  # the first warm-up run
                    outs = session.run(recorded[stage, graph][0])
                    names = session.meta.output_names
                    trial.parity += output_parity(graph, outs, recorded[stage, graph][1], names)
        runners = {
            cand: _runner(trials[cand], sessions, recorded)
            for cand, (_, sessions) in opened.items()
            if not trials[cand].error
        }
        for cand, ms in interleaved(runners, max(1, repeat), max(0, warmup - 1)).items():
            trials[cand].times_ms = ms  # dropped below if the candidate failed meanwhile
    finally:
        for backend, sessions in opened.values():
            for session in sessions.values():
                session.close()
            backend.close()
    for trial in trials.values():
        if trial.error:
            trial.status, trial.why, trial.times_ms = "failed", trial.error, []
    return list(trials.values())


def _runner(trial: Trial, sessions: Mapping[str, StageSession], recorded: Recorded):
    """One run of every graph of the stage; after a failure (recorded in ``trial``), nothing."""

    def run() -> None:
        if trial.error:
            return
        with _failures(trial):
            for graph, session in sessions.items():
                session.run(recorded[trial.stage, graph][0])

    return run


@contextmanager
def _failures(trial: Trial) -> Iterator[None]:
    """Record a runtime's failure as ``trial.error`` (the candidate's row) instead of raising."""
    try:
        yield
    except VitdetError as err:
        trial.error = err.message
    except Exception as exc:  # noqa: BLE001 - a runtime's own failure is this candidate's row
        trial.error = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"
