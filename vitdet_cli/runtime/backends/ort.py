"""ONNX Runtime backend: the exported ONNX graphs on CPU, or CUDA when onnxruntime-gpu has it."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.meta import GraphMeta, TensorSpec
from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.backends.base import Backend, StageSession, as_outputs, check_signature

ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(uint8)": "uint8",
    "tensor(int8)": "int8",
    "tensor(bool)": "bool",
}


class OrtSession(StageSession):
    """One ``onnxruntime.InferenceSession``."""

    def __init__(self, stage: str, graph: str, meta: GraphMeta, session) -> None:
        super().__init__(stage, graph, meta)
        self._session = session

    @property
    def providers(self) -> list[str]:
        return list(self._session.get_providers()) if self._session else []

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        self.check_feeds(feeds)
        inputs = {
            s.name: np.ascontiguousarray(feeds[s.name], dtype=s.dtype) for s in self.meta.inputs
        }
        return as_outputs(self._session.run(self.meta.output_names, inputs), self.meta)

    def close(self) -> None:
        self._session = None

    def info(self) -> dict:
        return {"device": device_of(self.providers), "providers": self.providers}


class OrtBackend(Backend):
    """Runs the exported ONNX graphs.

    Args:
        device: ``cpu``, ``cuda`` or ``auto`` (CUDA when the installed onnxruntime offers it).
        threads: intra-op threads (0 = onnxruntime's default, all cores).
    """

    name = "onnxruntime"

    def __init__(self, device: str = "auto", threads: int = 0) -> None:
        import onnxruntime as ort

        self._ort = ort
        offered = ort.get_available_providers()
        if device == "cuda" and "CUDAExecutionProvider" not in offered:
            raise VitdetError(
                "onnxruntime here has no CUDA provider",
                hint="install onnxruntime-gpu matching your CUDA, or use --device cpu",
                code="backend_unavailable",
            )
        use_cuda = device in ("cuda", "auto") and "CUDAExecutionProvider" in offered
        self.providers: Sequence[str] = (
            ["CUDAExecutionProvider", "CPUExecutionProvider"]
            if use_cuda
            else ["CPUExecutionProvider"]
        )
        self.threads = threads

    @classmethod
    def available(cls) -> tuple[bool, str]:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return False, "onnxruntime is not installed (pip install onnxruntime)"
        return True, ""

    def open(self, artifacts: Artifacts, stage: str, graph: str) -> OrtSession:
        return self.open_file(artifacts, stage, graph, artifacts.graph_path(stage, graph))

    def open_file(self, artifacts: Artifacts, stage: str, graph: str, path: Path) -> OrtSession:
        """Open another file of ``graph`` (e.g. ``vitdet tune``'s int8 version); its inputs
        and outputs must still be the meta's."""
        meta = artifacts.graph(stage, graph)
        opts = session_options(self._ort, self.threads)
        try:
            session = self._ort.InferenceSession(str(path), opts, providers=list(self.providers))
        except Exception as exc:  # a graph ORT cannot load
            raise VitdetError(
                f"onnxruntime cannot load {path}: {str(exc).splitlines()[0][:300]}",
                hint="re-run `vitdet export`; check the export's onnx.checker line",
                code="graph_invalid",
            ) from exc
        check_signature(path, meta, _specs(session.get_inputs()), _specs(session.get_outputs()))
        return OrtSession(stage, graph, meta, session)


def _specs(args) -> list[TensorSpec]:
    """ONNX Runtime's ``NodeArg`` list as specs (a symbolic dim stays a string: never equal)."""
    return [TensorSpec(a.name, tuple(a.shape), ORT_DTYPES.get(a.type, a.type)) for a in args]


def session_options(ort, threads: int = 0):
    """Options for one stage's session. Intra-op threads do not spin while idle: the stages run
    one after another, each with its own pool, and spinning pools of the idle sessions took the
    cores from the busy one (measured on 2 cores: vit-tiny pipeline 250 → 110 ms per image).

    No CPU memory arena: an arena keeps every chunk it grew, one arena per session (ViT-B at 1024,
    pipeline peak: 8.0 GB with ONNX Runtime's default arenas, 6.9 GB with one arena shared by
    the sessions, 4.0 GB without; vit-tiny 295 → 245 MB; no change in time beyond this 2-core
    machine's noise, ``benchmarks/ort_memory.py``). The memory pattern (one planned block per
    run, static shapes) stays on."""
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.enable_cpu_mem_arena = False
    if threads:
        opts.intra_op_num_threads = threads
    return opts


def device_of(providers: Optional[Sequence[str]]) -> str:
    """``cuda`` or ``cpu``, from a provider list."""
    return "cuda" if providers and providers[0] == "CUDAExecutionProvider" else "cpu"
