"""OpenVINO backend: the exported ONNX graphs compiled by OpenVINO for the CPU.

Graphs come from the opened (verified) :class:`Artifacts`, like the ONNX Runtime backend's, and
their inputs/outputs are checked against the meta on load. Each graph is compiled once per open;
the compiled model is cached under ``<cache>/openvino/<key>/`` (``$VITDET_CACHE_DIR`` or
``~/.cache/vitdet``), where the key is the sha256 of the stage's sealed files: OpenVINO keys a
model file by its path (2026.4: path, size and mtime), so a re-export copied in with its times
kept would otherwise load the old graph's blob.

Precision is f32 unless asked otherwise: the CPU plugin picks bf16 by itself on CPUs that have
it, and bf16 on every stage was measured not faithful (issue 17). OpenVINO offers no switch for
its threads' busy-wait (oneTBB's), but all its graphs share one thread pool per process, so an
idle stage holds no spinning pool of its own as separate ONNX Runtime sessions did; pinning is
off so a busy machine's scheduler can move the threads.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.layout import export_rel
from vitdet_cli.artifacts.meta import META_NAME, GraphMeta, TensorSpec
from vitdet_cli.cache_dir import cache_root
from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.backends.base import Backend, StageSession, as_outputs, check_signature

PRECISIONS = ("f32", "bf16", "f16")
"""Inference precision hints offered; ``f32`` is the exact path."""


class OvSession(StageSession):
    """One compiled model and its infer request.

    Attributes:
        device: where OpenVINO runs it (``cpu``, as ONNX Runtime's sessions say it).
        precision: the inference precision the compiled model reports (``f32``).
        from_cache: whether OpenVINO loaded it from the model cache instead of compiling.
    """

    def __init__(self, stage: str, graph: str, meta: GraphMeta, compiled) -> None:
        super().__init__(stage, graph, meta)
        self._compiled = compiled
        self._request = compiled.create_infer_request()
        self.device = ",".join(compiled.get_property("EXECUTION_DEVICES")).lower()
        self.precision = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        self.from_cache = bool(compiled.get_property("LOADED_FROM_CACHE"))

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        self.check_feeds(feeds)
        inputs = {
            s.name: np.ascontiguousarray(feeds[s.name], dtype=s.dtype) for s in self.meta.inputs
        }
        # share_outputs=False (the default): outputs are copies, not the request's buffers,
        # which the next run would overwrite.
        return as_outputs(self._request.infer(inputs).to_tuple(), self.meta)

    def close(self) -> None:
        self._request = None
        self._compiled = None

    def info(self) -> dict:
        return {"device": self.device, "precision": self.precision, "from_cache": self.from_cache}


class OpenVinoBackend(Backend):
    """Runs the exported ONNX graphs with OpenVINO on the CPU.

    Args:
        device: ``cpu`` (or ``auto``, the same here).
        threads: inference threads (0 = OpenVINO's default, all cores).
        precision: inference precision hint, one of :data:`PRECISIONS` (``f32``: exact).
        cache_dir: compiled-model cache (default ``<vitdet cache>/openvino``).
    """

    name = "openvino"

    def __init__(
        self,
        device: str = "cpu",
        threads: int = 0,
        precision: str = "f32",
        cache_dir: Optional[str | Path] = None,
    ) -> None:
        import openvino as ov

        for what, value, allowed in (
            ("device", device, ("cpu", "auto")),
            ("precision", precision, PRECISIONS),
        ):
            if value not in allowed:
                raise VitdetError(
                    f"the openvino backend has no {what} {value!r}",
                    hint=f"use one of: {', '.join(allowed)}",
                    code="bad_option",
                    exit_code=2,
                )
        self._ov = ov
        self._core = ov.Core()
        self.device = "CPU"
        self.threads = threads
        self.precision = precision
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else cache_root() / "openvino"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        try:
            import openvino  # noqa: F401
        except ImportError as exc:  # also raised when its shared libraries do not load
            return False, f"openvino is not importable ({exc}); pip install openvino"
        return True, ""

    def config(self, cache: Path) -> dict:
        """Compile options: precision, one latency-oriented stream, no pinning, the cache."""
        import openvino.properties as props
        import openvino.properties.hint as hints

        config = {
            hints.inference_precision: getattr(self._ov.Type, self.precision),
            hints.performance_mode: hints.PerformanceMode.LATENCY,
            hints.enable_cpu_pinning: False,
            props.cache_dir: str(cache),
        }
        if self.threads:
            config[props.inference_num_threads] = self.threads
        return config

    def open(self, artifacts: Artifacts, stage: str, graph: str) -> OvSession:
        meta = artifacts.graph(stage, graph)
        path = artifacts.graph_path(stage, graph)
        cache = self.cache_dir / stage_key(artifacts, stage)
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise VitdetError(
                f"cannot create the OpenVINO cache folder {cache}: {exc.strerror or exc}",
                hint="set VITDET_CACHE_DIR to a writable folder",
                code="cache_unwritable",
            ) from exc
        try:
            compiled = self._core.compile_model(str(path), self.device, self.config(cache))
        except Exception as exc:  # a graph OpenVINO cannot read or compile
            raise VitdetError(
                f"openvino cannot compile {path}: {str(exc).strip().splitlines()[0][:300]}",
                hint="re-run `vitdet export`; or use --backend onnxruntime",
                code="graph_invalid",
            ) from exc
        check_signature(
            path, meta, _specs(compiled.inputs, meta.inputs), _specs(compiled.outputs, meta.outputs)
        )
        return OvSession(stage, graph, meta, compiled)


def stage_key(artifacts: Artifacts, stage: str) -> str:
    """16 hex digits of the sha256 over the stage's sealed files (graphs, external data; not
    the meta), from the verified manifest."""
    prefix = export_rel(stage) + "/"
    meta = export_rel(stage, META_NAME)
    lines = sorted(
        f"{rel} {entry.sha256}\n"
        for rel, entry in artifacts.manifest.files.items()
        if rel.startswith(prefix) and rel != meta
    )
    return hashlib.sha256("".join(lines).encode()).hexdigest()[:16]


def _specs(ports, want: Sequence[TensorSpec]) -> list[TensorSpec]:
    """OpenVINO ports as specs. A port may carry several tensor names: the meta's is used when
    it is among them. A dynamic dimension stays a string (never equal to the meta's)."""
    names = {s.name for s in want}
    specs = []
    for port in ports:
        own = port.get_names()
        name = next((n for n in sorted(own) if n in names), port.get_any_name())
        shape = tuple(d.get_length() if d.is_static else str(d) for d in port.get_partial_shape())
        specs.append(TensorSpec(name, shape, _dtype(port.get_element_type())))
    return specs


def _dtype(element_type) -> str:
    """numpy's name for an OpenVINO element type; OpenVINO's own (``bf16``) when numpy has none."""
    try:
        return np.dtype(element_type.to_dtype()).name
    except (TypeError, RuntimeError):
        return element_type.get_type_name()
