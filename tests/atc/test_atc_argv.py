"""atc command lines built from each stage's export meta, against the documented flags."""

from __future__ import annotations

import pytest

from vitdet_cli.artifacts.meta import GraphMeta, TensorSpec, read_stage_meta
from vitdet_cli.atc.argv import (
    DEFAULT_PRECISION,
    build_atc_argv,
    keep_dtype_applies,
    keep_dtype_text,
    precision_flag,
)
from vitdet_cli.errors import VitdetError

EXPECTED = {
    ("backbone", "model"): ("NCHW", "image:1,3,32,32"),
    ("rpn", "model"): ("NCHW", "p2:1,8,8,8;p3:1,8,4,4"),
    ("roi", "bbox"): ("ND", "roi_feats:4,8,7,7;rois:4,5"),
    ("roi", "mask"): ("NCHW", "mask_feats:4,8,14,14"),
}


@pytest.mark.parametrize("stage, graph", list(EXPECTED))
def test_argv_per_stage(artifacts, stage, graph):
    meta = read_stage_meta(artifacts / "export" / stage / "export_meta.json").graphs[graph]
    onnx_path = artifacts / "export" / stage / meta.file
    out = artifacts / "atc" / stage
    argv = build_atc_argv("atc", onnx_path, out, graph, meta, "Ascend910B3")
    fmt, shape = EXPECTED[stage, graph]
    assert argv == [
        "atc",
        f"--model={onnx_path}",
        "--framework=5",
        f"--output={out / graph}",
        "--soc_version=Ascend910B3",
        f"--input_format={fmt}",
        f"--input_shape={shape}",
        "--log=error",
        "--precision_mode=must_keep_origin_dtype",
    ]
    assert not any(a.endswith(".om") for a in argv)


def test_default_precision_keeps_origin_dtype():
    assert DEFAULT_PRECISION == "must_keep_origin_dtype"


@pytest.mark.parametrize(
    "mode, flag",
    [
        ("force_fp16", "--precision_mode=force_fp16"),
        ("allow_mix_precision", "--precision_mode=allow_mix_precision"),
        ("force_fp32", "--precision_mode=force_fp32"),
        ("origin", "--precision_mode_v2=origin"),
        ("mixed_float16", "--precision_mode_v2=mixed_float16"),
    ],
)
def test_precision_flag(mode, flag):
    assert precision_flag(mode) == flag


def test_unknown_precision_is_a_usage_error():
    with pytest.raises(VitdetError) as err:
        precision_flag("fp8_please")
    assert err.value.exit_code == 2 and "must_keep_origin_dtype" in err.value.hint


@pytest.mark.parametrize(
    "mode, keep, applies",
    [
        ("must_keep_origin_dtype", True, False),  # documented: keep_dtype has no effect here
        ("origin", True, False),
        ("force_fp32", True, False),
        ("force_fp16", True, True),
        ("allow_fp32_to_fp16", True, True),
        ("mixed_float16", True, True),
        ("force_fp16", False, False),
    ],
)
def test_keep_dtype_only_where_precision_may_drop(mode, keep, applies):
    assert keep_dtype_applies(mode, keep) is applies


def test_keep_dtype_file_format_and_flag(tmp_path):
    assert keep_dtype_text() == "OpType::LayerNorm\nOpType::SoftmaxV2\n"
    meta = GraphMeta("m.onnx", "0", (TensorSpec("x", (1, 3, 8, 8)),), ())
    cfg = tmp_path / "keep_dtype.cfg"
    argv = build_atc_argv(
        "atc", tmp_path / "m.onnx", tmp_path, "m", meta, "Ascend310P3", "force_fp16", cfg
    )
    assert argv[-2:] == ["--precision_mode=force_fp16", f"--keep_dtype={cfg}"]


def test_dynamic_shape_is_refused(tmp_path):
    meta = GraphMeta("m.onnx", "0", (TensorSpec("x", (-1, 3, 8, 8)),), ())
    with pytest.raises(VitdetError) as err:
        build_atc_argv("atc", tmp_path / "m.onnx", tmp_path, "m", meta, "Ascend910B3")
    assert err.value.code == "dynamic_shape"
