"""The tuned pipeline: each stage on the runtime and precision ``vitdet tune`` chose for it.

A :class:`TunedBackend` is a :class:`Backend` like the others: :class:`StagedModel` opens each
graph through it, and it hands the graph to the backend of its stage (e.g. the backbone on
OpenVINO, the heads on ONNX Runtime). :func:`open_backend` is what infer, eval and bench call:
``auto`` (their default) takes the folder's tuning when it has one, else ONNX Runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.layout import TUNING
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
    """A CPU backend ``name`` running at ``precision`` (``fp32``; ``bf16`` on OpenVINO; ``int8``
    on ONNX Runtime, which runs the quantized graph file it is given)."""
    if name == "openvino" and precision in OV_PRECISION:
        return get_backend(name, threads=threads, precision=OV_PRECISION[precision])
    if name == "onnxruntime" and precision in ("fp32", "int8"):
        return get_backend(name, device="cpu", threads=threads)
    raise VitdetError(
        f"no CPU candidate {name} at {precision}",
        hint="re-run `vitdet tune`; candidates are onnxruntime fp32/int8, openvino fp32/bf16",
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
        files: stage → graph → the quantized graph file of each ``int8`` stage.
    """

    name = TUNED

    def __init__(
        self,
        choices: Mapping[str, tuple[str, str]],
        threads: int = 0,
        files: Optional[Mapping[str, Mapping[str, Path]]] = None,
    ) -> None:
        self.choices = dict(choices)
        self.threads = threads
        self.files = {s: dict(f) for s, f in (files or {}).items()}
        self._backends: dict[tuple[str, str], Backend] = {}

    @classmethod
    def from_tuning(cls, artifacts: Artifacts, threads: int = 0) -> "TunedBackend":
        """The folder's current tuning (refused when stale); its files checked as sealed."""
        tuning = artifacts.current_tuning()
        files = {
            s: {g: artifacts.path(rel, TUNING) for g, rel in c.files.items()}
            for s, c in tuning.stages.items()
        }
        return cls({s: (c.backend, c.precision) for s, c in tuning.stages.items()}, threads, files)

    def describe(self) -> str:
        return ", ".join(f"{s}: {b} {p}" for s, (b, p) in self.choices.items())

    def open(self, artifacts: Artifacts, stage: str, graph: str) -> StageSession:
        key = self.choices[stage]
        if key not in self._backends:
            self._backends[key] = stage_backend(*key, threads=self.threads)
        backend = self._backends[key]
        if key[1] != "int8":
            return TunedSession(backend.open(artifacts, stage, graph), *key)
        path = self.files.get(stage, {}).get(graph)
        if path is None:
            raise VitdetError(
                f"no int8 graph file given for {stage}/{graph}",
                hint="re-run `vitdet tune --precision auto`",
                code="bad_candidate",
            )
        return TunedSession(backend.open_file(artifacts, stage, graph, path), *key)

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
        return TunedBackend.from_tuning(artifacts, options.get("threads", 0))
    return get_backend(name, **options)


def backend_label(backend: Backend) -> str:
    """What runs, for tables and ``--json``: ``onnxruntime``, or ``tuned (backbone: ...)``."""
    if isinstance(backend, TunedBackend):
        return f"{TUNED} ({backend.describe()})"
    return backend.name
