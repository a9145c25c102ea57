"""Time one stage on one candidate with real inputs and diff its outputs with the reference."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.layout import STAGE_GRAPHS
from vitdet_cli.compare.gates import FP32
from vitdet_cli.compare.tensors import TensorParity, scaled_parity
from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.backends.tuned import TunedBackend
from vitdet_cli.runtime.staged import Recorded
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
    """Open the stage's graphs on ``candidate`` (``files``: graph → another file to run, e.g.
    int8 or an OM; ``om``: the om backend's options), run them ``warmup`` + ``repeat`` times
    on the recorded feeds; a candidate that cannot load or run gives a failed trial, not an
    error."""
    trial = Trial(stage, candidate)
    sessions = {}
    backend = None
    try:
        choice = {stage: (candidate.backend, candidate.precision)}
        backend = TunedBackend(choice, threads, {stage: files or {}}, om)
        for graph in STAGE_GRAPHS[stage]:
            sessions[graph] = backend.open(artifacts, stage, graph)
        outputs = {g: s.run(recorded[stage, g][0]) for g, s in sessions.items()}  # 1st warmup
        for _ in range(max(0, warmup - 1)):
            for graph, session in sessions.items():
                session.run(recorded[stage, graph][0])
        for _ in range(max(1, repeat)):
            t0 = time.perf_counter()
            for graph, session in sessions.items():
                session.run(recorded[stage, graph][0])
            trial.times_ms.append((time.perf_counter() - t0) * 1e3)
        for graph, session in sessions.items():
            names = session.meta.output_names
            trial.parity += output_parity(graph, outputs[graph], recorded[stage, graph][1], names)
    except VitdetError as err:
        trial.error = err.message
    except Exception as exc:  # noqa: BLE001 - a runtime's own failure is this candidate's row
        trial.error = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"
    finally:
        for session in sessions.values():
            session.close()
        if backend is not None:
            backend.close()
    if trial.error:
        trial.status, trial.why = "failed", trial.error
    return trial
