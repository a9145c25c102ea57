"""ONNX → Ascend OM with CANN's ``atc``: command lines, runs, logs and ``atc_meta.json``."""

from vitdet_cli.atc.argv import DEFAULT_PRECISION, build_atc_argv
from vitdet_cli.atc.run import CompileReport, GraphResult, compile_artifacts

__all__ = [
    "DEFAULT_PRECISION",
    "CompileReport",
    "GraphResult",
    "build_atc_argv",
    "compile_artifacts",
]
