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


OM_PRECISIONS = ("fp32", "mixed", "fp16")
"""Precisions of ``om`` stages: each runs the OM files compiled with that atc mode."""
OM_OPTIONS = ("device_id", "runner")
"""Backend options that reach ``om`` stages (the NPU id and ais_bench/acl)."""
NEEDS_FILES = {"int8", "mixed", "fp16"}
"""Precisions that run another file than the exported graph (or ``vitdet atc``'s OM)."""


def stage_backend(
    name: str, precision: str = "fp32", threads: int = 0, om: Optional[Mapping] = None
) -> Backend:
    """A backend ``name`` running at ``precision``: on the CPU ``fp32``, ``bf16`` on OpenVINO,
    ``int8`` on ONNX Runtime (which runs the quantized graph file it is given); ``om`` at the
    precision of the OM files it is given (``om``: its options, e.g. ``device_id``)."""
    if name == "openvino" and precision in OV_PRECISION:
        return get_backend(name, threads=threads, precision=OV_PRECISION[precision])
    if name == "onnxruntime" and precision in ("fp32", "int8"):
        return get_backend(name, device="cpu", threads=threads)
    if name == "om" and precision in OM_PRECISIONS:
        return get_backend(name, **dict(om or {}))
    raise VitdetError(
        f"no candidate {name} at {precision}",
        hint="re-run `vitdet tune`; candidates are onnxruntime fp32/int8, openvino fp32/bf16, "
        f"om {'/'.join(OM_PRECISIONS)}",
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
        files: stage → graph → the file each graph runs instead of its default: the quantized
            graph of an ``int8`` stage, the OM of an ``om`` stage (required for precisions in
            :data:`NEEDS_FILES`; an ``om`` stage without one runs ``vitdet atc``'s OM).
        om: options of ``om`` stages (``device_id``, ``runner``).
    """

    name = TUNED

    def __init__(
        self,
        choices: Mapping[str, tuple[str, str]],
        threads: int = 0,
        files: Optional[Mapping[str, Mapping[str, Path]]] = None,
        om: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self.choices = dict(choices)
        self.threads = threads
        self.files = {s: dict(f) for s, f in (files or {}).items()}
        self.om = dict(om or {})
        self._backends: dict[tuple[str, str], Backend] = {}

    @classmethod
    def from_tuning(
        cls, artifacts: Artifacts, threads: int = 0, om: Optional[Mapping[str, Any]] = None
    ) -> "TunedBackend":
        """The folder's current tuning (refused when stale); its files checked as sealed."""
        tuning = artifacts.current_tuning()
        files = {
            s: {g: artifacts.path(rel, TUNING) for g, rel in c.files.items()}
            for s, c in tuning.stages.items()
        }
        choices = {s: (c.backend, c.precision) for s, c in tuning.stages.items()}
        return cls(choices, threads, files, om)

    def describe(self) -> str:
        return ", ".join(f"{s}: {b} {p}" for s, (b, p) in self.choices.items())

    def open(self, artifacts: Artifacts, stage: str, graph: str) -> StageSession:
        path = self.files.get(stage, {}).get(graph)
        return self.open_choice(artifacts, stage, graph, self.choices[stage], path)

    def open_choice(
        self,
        artifacts: Artifacts,
        stage: str,
        graph: str,
        key: tuple[str, str],
        path: Optional[Path] = None,
    ) -> StageSession:
        """``graph`` of ``stage`` on ``key`` (backend, precision), run from ``path`` when given;
        backends are made once per key."""
        if key not in self._backends:
            self._backends[key] = stage_backend(*key, threads=self.threads, om=self.om)
        backend = self._backends[key]
        if path is not None:
            return TunedSession(backend.open_file(artifacts, stage, graph, path), *key)
        if key[1] in NEEDS_FILES:
            raise VitdetError(
                f"no {key[1]} file given for {stage}/{graph}",
                hint="re-run `vitdet tune --precision auto`",
                code="bad_candidate",
            )
        return TunedSession(backend.open(artifacts, stage, graph), *key)

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()
        self._backends.clear()


def open_backend(
    artifacts: Artifacts, name: str = AUTO, options: Optional[Mapping[str, Any]] = None
) -> Backend:
    """The backend ``name`` for ``artifacts``: ``auto`` → the tuned pipeline when the folder
    holds ``tune/tuning.json`` (refused when stale), else ONNX Runtime; ``tuned`` → the tuning
    (required); any other name → that backend on every stage. The om options (``device_id``,
    ``runner``) reach only om stages: ``auto`` without a tuning drops them."""
    options = dict(options or {})
    if name == AUTO:
        name = TUNED if artifacts.tuning is not None else DEFAULT
        if name == DEFAULT:
            options = {k: v for k, v in options.items() if k not in OM_OPTIONS}
    if name == TUNED:
        om = {k: options[k] for k in OM_OPTIONS if k in options}
        return TunedBackend.from_tuning(artifacts, options.get("threads", 0), om)
    return get_backend(name, **options)


def backend_label(backend: Backend) -> str:
    """What runs, for tables and ``--json``: ``onnxruntime``, or ``tuned (backbone: ...)``."""
    if isinstance(backend, TunedBackend):
        return f"{TUNED} ({backend.describe()})"
    return backend.name
