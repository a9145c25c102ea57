"""Stage backends behind one interface; each is imported only when asked for.

``torch`` runs the stage modules of the trained model eagerly (the reference, needs torch, mmcv
and mmdet); ``onnxruntime`` runs the exported ONNX graphs (CPU, CUDA when present); ``openvino``
compiles the same graphs with OpenVINO for the CPU (f32, cached); ``om`` runs the Ascend OM files
compiled by ``vitdet atc`` (ais_bench, else pyACL).
"""

from __future__ import annotations

import importlib
from typing import Any

from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.backends.base import Backend, StageSession, as_outputs

BACKENDS = {
    "torch": ("vitdet_cli.runtime.backends.torch_stages", "TorchBackend"),
    "onnxruntime": ("vitdet_cli.runtime.backends.ort", "OrtBackend"),
    "openvino": ("vitdet_cli.runtime.backends.ov", "OpenVinoBackend"),
    "om": ("vitdet_cli.runtime.backends.om", "OmBackend"),
}

__all__ = ["BACKENDS", "Backend", "StageSession", "as_outputs", "backend_class", "get_backend"]


def backend_class(name: str) -> type[Backend]:
    """The backend class registered as ``name`` (imports its module)."""
    if name not in BACKENDS:
        raise VitdetError(
            f"unknown backend '{name}'",
            hint=f"use one of: {', '.join(BACKENDS)}",
            code="bad_backend",
            exit_code=2,
        )
    module, cls = BACKENDS[name]
    return getattr(importlib.import_module(module), cls)


def get_backend(name: str, **options: Any) -> Backend:
    """An instance of backend ``name``; raises a clear error when it cannot run here."""
    cls = backend_class(name)
    ok, why = cls.available()
    if not ok:
        raise VitdetError(f"backend '{name}' is not usable here: {why}", code="backend_unavailable")
    return cls(**options)
