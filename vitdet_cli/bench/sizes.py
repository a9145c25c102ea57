"""On-disk size of what each backend loads."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.errors import VitdetError


def _mb(files: Iterable[Path]) -> Optional[float]:
    sizes = [f.stat().st_size for f in files if f.is_file()]
    return sum(sizes) / 2**20 if sizes else None


def model_size_mb(art: Artifacts, backend: str) -> Optional[float]:
    """MB of the ONNX graphs (``onnxruntime``, ``openvino``, ``tuned``), the OM files (``om``)
    or the checkpoint recorded in the manifest (``torch``); None when there are none."""
    graphs = [(s, g) for s, m in art.metas.items() for g in m.graphs]
    if backend in ("onnxruntime", "openvino", "tuned", "auto"):  # all run the ONNX graphs
        return _mb(art.graph_path(s, g) for s, g in graphs)
    if backend == "om":
        try:
            return _mb(art.om_path(s, g) for s, g in graphs)
        except VitdetError:
            return None
    if backend == "torch":
        ckpt = art.checkpoint.get("path")
        return _mb([Path(ckpt)]) if ckpt else None
    return None
