"""mAP of the staged model per backend and of the checkpoint through MMDetection."""

from __future__ import annotations

import pytest

from vitdet_cli.data.synth import CLASS_NAMES
from vitdet_cli.errors import VitdetError
from vitdet_cli.evaluation import evaluate_artifacts, evaluate_checkpoint

KEYS = {"bbox", "segm", "num_images", "num_results", "evaluator", "backend", "images", "seconds"}


def test_onnxruntime_and_torch_agree(exported, synth_val) -> None:
    out, _ = exported
    ann, img_dir = synth_val
    ort = evaluate_artifacts(out, ann, img_dir, "onnxruntime")
    ref = evaluate_artifacts(out, ann, img_dir, "torch")
    for res, name in ((ort, "onnxruntime"), (ref, "torch")):
        assert KEYS <= set(res) and res["backend"] == name and res["images"] == 6
        assert res["evaluator"].startswith("pycocotools COCOeval")
    assert ort["num_results"] > 0
    for task in ("bbox", "segm"):
        assert abs(ort[task]["mAP"] - ref[task]["mAP"]) <= 1e-3, task


def test_checkpoint_through_mmdet(tiny_checkpoint, synth_val) -> None:
    from eval_test_helpers import export_helpers

    ann, img_dir = synth_val
    seen = []
    res = evaluate_checkpoint(
        tiny_checkpoint,
        export_helpers().TINY_CONFIG,
        ann,
        img_dir,
        limit=2,
        on_image=lambda i, p: seen.append(p.name),
    )
    assert KEYS | {"device"} <= set(res)
    assert res["backend"] == "mmdet" and res["images"] == 2 and len(seen) == 2
    assert res["num_results"] > 0
    assert all(0.0 <= (res[t]["mAP"] or 0.0) <= 1.0 for t in ("bbox", "segm"))


def test_class_count_mismatch_is_a_clear_error(synth_val) -> None:
    from vitdet_cli.evaluation.coco import class_warnings

    ann, _ = synth_val
    assert class_warnings(ann, CLASS_NAMES) == []
    assert class_warnings(ann, [f"c{i}" for i in range(len(CLASS_NAMES))])
    with pytest.raises(VitdetError, match="predicts 2 classes"):
        class_warnings(ann, ["a", "b"])
