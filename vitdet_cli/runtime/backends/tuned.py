"""The tuned pipeline: each stage on the runtime and precision ``vitdet tune`` chose for it.

A :class:`TunedBackend` is a :class:`Backend` like the others: :class:`StagedModel` opens each
graph through it, and it hands the graph to the backend of its stage (e.g. the backbone on
OpenVINO, the heads on ONNX Runtime). :func:`open_backend` is what infer, eval and bench call:
``auto`` (their default) takes the folder's tuning when it has one, else ONNX Runtime.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.tuning import Tuning
from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.backends import get_backend
from vitdet_cli.runtime.backends.base import Backend, StageSession

AUTO = "auto"
"""The default backend name: the tuned pipeline when the folder holds one, else ONNX Runtime."""
TUNED = "tuned"
DEFAULT = "onnxruntime"
OV_PRECISION = {"fp32": "f32", "bf16": "bf16"}
"""Tuning precision → OpenVINO's inference precision hint."""


def stage_backend(name: str, precision: str = "fp32", threads: int = 0) -> Backend:
    """A CPU backend ``name`` running at ``precision`` (``fp32``; ``bf16`` on OpenVINO)."""
    if name == "openvino" and precision in OV_PRECISION:
        return get_backend(name, threads=threads, precision=OV_PRECISION[precision])
    if name == "onnxruntime" and precision == "fp32":
        return get_backend(name, device="cpu", threads=threads)
    raise VitdetError(
        f"no CPU candidate {name} at {precision}",
        hint="re-run `vitdet tune`; candidates are onnxruntime fp32, openvino fp32/bf16",
        code="bad_candidate",
    )


class TunedSession(StageSession):
    """A session of the stage's chosen backend; :meth:`info` adds backend and precision."""

    def __init__(self, inner: StageSession, backend: str, precision: str) -> None:
        super().__init__(inner.stage, inner.graph, inner.meta)
        self.inner, self.backend, self.precision = inner, backend, precision

    def run(self, feeds):
        return self.inner.run(feeds)

    def close(self) -> None:
        self.inner.close()

    def info(self) -> dict:
        return {**self.inner.info(), "backend": self.backend, "tuned_precision": self.precision}


class TunedBackend(Backend):
    """Each stage on its own backend.

    Args:
        choices: stage → (backend name, precision), e.g. from :class:`Tuning`.
        threads: intra-op threads of every backend (0 = each runtime's default).
    """

    name = TUNED

    def __init__(self, choices: Mapping[str, tuple[str, str]], threads: int = 0) -> None:
        self.choices = dict(choices)
        self.threads = threads
        self._backends: dict[tuple[str, str], Backend] = {}

    @classmethod
    def from_tuning(cls, tuning: Tuning, threads: int = 0) -> "TunedBackend":
        return cls({s: (c.backend, c.precision) for s, c in tuning.stages.items()}, threads)

    def describe(self) -> str:
        return ", ".join(f"{s}: {b} {p}" for s, (b, p) in self.choices.items())

    def open(self, artifacts: Artifacts, stage: str, graph: str) -> StageSession:
        key = self.choices[stage]
        if key not in self._backends:
            self._backends[key] = stage_backend(*key, threads=self.threads)
        return TunedSession(self._backends[key].open(artifacts, stage, graph), *key)

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()
        self._backends.clear()


def open_backend(
    artifacts: Artifacts, name: str = AUTO, options: Optional[Mapping[str, Any]] = None
) -> Backend:
    """The backend ``name`` for ``artifacts``: ``auto`` → the tuned pipeline when the folder
    holds ``tune/tuning.json`` (refused when stale), else ONNX Runtime; ``tuned`` → the tuning
    (required); any other name → that backend on every stage."""
    options = dict(options or {})
    if name == AUTO:
        name = TUNED if artifacts.tuning is not None else DEFAULT
    if name == TUNED:
        return TunedBackend.from_tuning(artifacts.current_tuning(), options.get("threads", 0))
    return get_backend(name, **options)


def backend_label(backend: Backend) -> str:
    """What runs, for tables and ``--json``: ``onnxruntime``, or ``tuned (backbone: ...)``."""
    if isinstance(backend, TunedBackend):
        return f"{TUNED} ({backend.describe()})"
    return backend.name
