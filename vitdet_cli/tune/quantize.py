"""int8 candidates: ONNX Runtime's dynamic quantization of a stage's graphs (weights int8,
activations quantized on the fly per run). The result is a new graph: it is run from a scratch
folder while tuning and sealed under ``tune/`` only when chosen."""

from __future__ import annotations

import logging
from pathlib import Path

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.layout import STAGE_GRAPHS, TUNE


def int8_available() -> str:
    """ "" when ONNX Runtime's quantization tools import here, else why not."""
    try:
        import onnxruntime.quantization  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - missing onnx or onnxruntime: no int8 candidate
        return f"onnxruntime.quantization does not import ({exc})"
    return ""


def int8_name(graph: str) -> str:
    return f"{graph}.int8.onnx"


def sealed_rel(stage: str, graph: str) -> str:
    """Where a chosen int8 graph lives in the folder: ``tune/<stage>/<graph>.int8.onnx``."""
    return f"{TUNE}/{stage}/{int8_name(graph)}"


def quantize_stage(artifacts: Artifacts, stage: str, scratch: Path) -> dict[str, Path]:
    """graph → its dynamically quantized copy under ``scratch/<stage>/``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = {}
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process goes to the root logger each time
    try:
        for graph in STAGE_GRAPHS[stage]:
            dst = scratch / stage / int8_name(graph)
            dst.parent.mkdir(parents=True, exist_ok=True)
            quantize_dynamic(artifacts.graph_path(stage, graph), dst, weight_type=QuantType.QInt8)
            out[graph] = dst
    finally:
        root.setLevel(level)
    return out
