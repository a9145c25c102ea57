"""The ``atc`` command line for one stage graph, built from its :class:`GraphMeta`.

Flags follow CANN's ATC documentation: ``--framework=5`` is ONNX, ``--output`` takes a path
without ``.om``, static shapes go in ``--input_shape="name:d0,d1;name2:..."``. Precision is either
``--precision_mode`` (classic values) or ``--precision_mode_v2`` (newer values); atc refuses both
at once, so the value chosen picks the flag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from vitdet_cli.artifacts.atc_meta import FULL_PRECISION
from vitdet_cli.artifacts.meta import GraphMeta, TensorSpec
from vitdet_cli.errors import VitdetError

FRAMEWORK_ONNX = "5"
PRECISION_MODES = (
    "must_keep_origin_dtype",
    "force_fp32",
    "force_fp16",
    "allow_fp32_to_fp16",
    "allow_mix_precision",
)
"""Values of ``--precision_mode``."""
PRECISION_MODES_V2 = ("origin", "cube_fp16in_fp32out", "fp16", "mixed_float16", "mixed_bfloat16")
"""Values of ``--precision_mode_v2`` (documented since CANN 7.0)."""
DEFAULT_PRECISION = "must_keep_origin_dtype"
"""fp16 modes collapsed a ViT+FPN encoder on a 910B3 (CANN 8.5); only this mode kept accuracy."""
# FULL_PRECISION: the modes that never lower fp32 ops (artifacts.atc_meta, where compare reads
# it too); atc documents that ``--keep_dtype`` has no effect with ``must_keep_origin_dtype`` /
# ``origin``, so it is not passed with them.
KEEP_FP32_OP_TYPES = ("LayerNorm", "SoftmaxV2")
"""Ascend IR op types kept at their original (fp32) precision under a lowering mode.

``--keep_dtype`` takes a file with one op per line, either an op name or ``OpType::<type>`` where
the type is an *Ascend IR* type (documented format). That ONNX ``LayerNormalization`` and
``Softmax`` become the Ascend IR types ``LayerNorm`` and ``SoftmaxV2`` is inferred from CANN's
framework plugins, not from a documented table: check the compiled graph when it matters.
"""
KEEP_DTYPE_FILE = "keep_dtype.cfg"


def precision_flag(mode: str) -> str:
    """``--precision_mode=X`` or ``--precision_mode_v2=X`` for a known value; else a usage error."""
    if mode in PRECISION_MODES:
        return f"--precision_mode={mode}"
    if mode in PRECISION_MODES_V2:
        return f"--precision_mode_v2={mode}"
    raise VitdetError(
        f"unknown precision mode {mode!r}",
        hint=f"use one of: {', '.join(PRECISION_MODES + PRECISION_MODES_V2)} "
        f"(default {DEFAULT_PRECISION})",
        code="bad_precision",
        exit_code=2,
    )


def keep_dtype_applies(mode: str, keep_fp32: bool) -> bool:
    """Whether ``--keep_dtype`` is worth passing: asked for, and the mode may lower precision."""
    precision_flag(mode)  # validates
    return keep_fp32 and mode not in FULL_PRECISION


def keep_dtype_text(op_types: Sequence[str] = KEEP_FP32_OP_TYPES) -> str:
    """Content of the ``--keep_dtype`` file: one ``OpType::<type>`` per line."""
    return "".join(f"OpType::{t}\n" for t in op_types)


def input_format(inputs: Sequence[TensorSpec]) -> str:
    """``NCHW`` when every input is 4-D, else ``ND``."""
    return "NCHW" if all(len(t.shape) == 4 for t in inputs) else "ND"


def input_shape(inputs: Sequence[TensorSpec]) -> str:
    """``name:d0,d1,...;name2:...`` in meta order (static shapes only)."""
    for t in inputs:
        if any(d <= 0 for d in t.shape):
            raise VitdetError(
                f"input '{t.name}' has a non-static shape {t.shape}",
                hint="atc needs static shapes per stage; re-export with fixed sizes",
                code="dynamic_shape",
            )
    return ";".join(f"{t.name}:{','.join(str(d) for d in t.shape)}" for t in inputs)


def build_atc_argv(
    atc: str,
    onnx_path: Path,
    out_dir: Path,
    graph: str,
    meta: GraphMeta,
    soc_version: str,
    precision_mode: str = DEFAULT_PRECISION,
    keep_dtype_file: Optional[Path] = None,
) -> list[str]:
    """The argv that compiles ``onnx_path`` with ``--output=<out_dir>/<graph>`` (atc names the
    file ``<graph>.om`` or ``<graph>_linux_<arch>.om``; see ``atc.run.find_om``)."""
    argv = [
        atc,
        f"--model={onnx_path}",
        f"--framework={FRAMEWORK_ONNX}",
        f"--output={Path(out_dir) / graph}",
        f"--soc_version={soc_version}",
        f"--input_format={input_format(meta.inputs)}",
        f"--input_shape={input_shape(meta.inputs)}",
        "--log=error",
        precision_flag(precision_mode),
    ]
    if keep_dtype_file is not None:
        argv.append(f"--keep_dtype={keep_dtype_file}")
    return argv
