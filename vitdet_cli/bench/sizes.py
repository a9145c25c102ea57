"""On-disk size of what each backend loads."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

from vitdet_cli.export.meta import read_all_metas


def _mb(files: Iterable[Path]) -> Optional[float]:
    sizes = [f.stat().st_size for f in files if f.is_file()]
    return sum(sizes) / 2**20 if sizes else None


def model_size_mb(artifacts: str | Path, backend: str) -> Optional[float]:
    """MB of the ONNX graphs (``onnxruntime``), the OM files under ``atc/`` (``om``) or the
    checkpoint recorded in the export meta (``torch``); None when there are none."""
    root = Path(artifacts)
    if backend == "onnxruntime":
        metas = read_all_metas(root, verify=False)
        return _mb(
            root / "export" / stage / g.file
            for stage, m in metas.items()
            for g in m.graphs.values()
        )
    if backend == "om":
        return _mb(sorted((root / "atc").glob("*/*.om")))
    if backend == "torch":
        ckpt = next(iter(read_all_metas(root, verify=False).values())).checkpoint.get("path")
        return _mb([Path(ckpt)]) if ckpt else None
    return None
