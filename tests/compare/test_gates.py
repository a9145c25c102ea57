"""Gate sets follow the deployed precision; the source document's own numbers against them."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from vitdet_cli.artifacts.atc_meta import FULL_PRECISION
from vitdet_cli.artifacts.layout import STAGES
from vitdet_cli.compare.api import CompareReport
from vitdet_cli.compare.detections import detection_parity
from vitdet_cli.compare.document_block import compare_with_pytorch
from vitdet_cli.compare.gates import FP16, FP32, gates_for
from vitdet_cli.runtime.detections import Detections

# The source document's OM-vs-PyTorch run (000_*.txt, "compare_with_pytorch"): one image,
# keep_top1_per_label, score_thr 0.3. It prints PyTorch's top box but not OM's.
DOC_PT_BOX = [301.6426086425781, 75.15811920166016, 348.95098876953125, 225.3976287841797]
DOC_PT = dict(score=0.34656473994255066, label=62, counts=(50, 16, 1, 34, 15))
DOC_OM = dict(score=0.3389612138271332, label=62, counts=(49, 19, 1, 30, 18))
COUNT_KEYS = ("raw_count", "after_dedup", "after_score_thr", "dropped_by_dedup",
              "dropped_by_score_thr")  # fmt: skip


def doc_side(side: dict, box) -> Detections:
    return Detections(
        np.array([box], np.float32),
        np.array([side["score"]], np.float32),
        np.array([side["label"]]),
        counts=dict(zip(COUNT_KEYS, side["counts"])),
    )


@pytest.fixture
def doc_sides() -> tuple[Detections, Detections]:
    """(OM, PyTorch). OM's box is not in the document: taken as PyTorch's moved by 1 px, what
    fp16 does to a box (an assumption; the scores and counts are the document's)."""
    om_box = np.array(DOC_PT_BOX) + np.array([1.0, -1.0, 1.0, 1.0])
    return doc_side(DOC_OM, om_box), doc_side(DOC_PT, DOC_PT_BOX)


class FakeArtifacts:
    def __init__(self, tuning=None, **modes: str) -> None:
        self.modes = modes
        self.tuning = tuning

    def atc_meta(self, stage: str):
        mode = self.modes.get(stage, "must_keep_origin_dtype")
        return SimpleNamespace(precision_mode=mode, keeps_fp32=mode in FULL_PRECISION)


def test_gate_set_follows_atc_precision() -> None:
    assert gates_for(FakeArtifacts(), "onnxruntime").name == "fp32"
    kept = gates_for(FakeArtifacts(), "om")
    assert kept.name == "fp32" and "must_keep_origin_dtype" in kept.reason
    assert gates_for(FakeArtifacts(**dict.fromkeys(STAGES, "force_fp32")), "om").name == "fp32"
    low = gates_for(FakeArtifacts(backbone="force_fp16"), "om")
    assert low.name == "fp16" and "backbone: force_fp16" in low.reason
    assert gates_for(FakeArtifacts(roi="mixed_float16"), "om").name == "fp16"


def test_gate_set_follows_the_tuning() -> None:
    def tuning(**precision: str) -> SimpleNamespace:
        stages = {
            s: SimpleNamespace(backend="openvino", precision=p, exact=p == "fp32")
            for s, p in {**dict.fromkeys(STAGES, "fp32"), **precision}.items()
        }
        return SimpleNamespace(stages=stages)

    label = "tuned (backbone: openvino bf16, rpn: onnxruntime fp32, roi: onnxruntime fp32)"
    exact = gates_for(FakeArtifacts(tuning=tuning()), label)
    assert exact.name == "fp32" and "tuning.json" in exact.reason
    low = gates_for(FakeArtifacts(tuning=tuning(backbone="bf16")), label)
    assert low.name == "fp16" and "backbone: openvino bf16" in low.reason
    # --backend forces one runtime on the exported fp32 graphs, whatever the tuning says
    forced = gates_for(FakeArtifacts(tuning=tuning(backbone="bf16")), "openvino")
    assert forced.name == "fp32"


def test_fp32_gates_are_todays() -> None:
    assert FP32.parity_kw(None) == {
        "strict_iou": 0.99, "min_score": 0.05, "min_frac_matched": 0.99, "max_score_diff": 1e-3,
    }  # fmt: skip
    assert (FP32.tensor_atol, FP32.map_max_points, FP32.map_decides) == (1e-3, 0.1, False)


def test_documents_numbers_pass_fp16_and_fail_fp32(doc_sides) -> None:
    om, pt = doc_sides
    low = detection_parity(om, pt, **FP16.parity_kw(0.3))
    assert low["passed"], low["failures"]
    assert low["ref_considered"] == 1 and low["max_score_diff_strict"] == pytest.approx(
        0.0076, 1e-2
    )
    strict = detection_parity(om, pt, **FP32.parity_kw(0.3))
    assert not strict["passed"] and "matched at IoU >= 0.99" in strict["failures"][0]
    same_box = doc_side(DOC_OM, DOC_PT_BOX)  # even with PyTorch's box, the score is too far
    strict = detection_parity(same_box, pt, **FP32.parity_kw(0.3))
    assert strict["failures"] == ["max score difference 0.0076 > 0.001"]


def test_fp16_gates_still_fail_a_lost_or_moved_detection(doc_sides) -> None:
    om, pt = doc_sides
    lost = Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int))
    assert not detection_parity(lost, pt, **FP16.parity_kw(0.3))["passed"]
    moved = Detections(om.boxes + np.float32(12), om.scores, om.labels)
    assert not detection_parity(moved, pt, **FP16.parity_kw(0.3))["passed"]
    off = Detections(om.boxes, om.scores - np.float32(0.03), om.labels)
    assert not detection_parity(off, pt, **FP16.parity_kw(0.3))["passed"]


def test_near_threshold_reference_detection_is_not_judged() -> None:
    """A reference detection within the score tolerance above --score-thr may fall below it
    on the deployed side (then the policy drops it): not a failure."""
    ref = Detections(np.array([DOC_PT_BOX]), np.array([0.31]), np.array([1]))
    lost = Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int))
    assert detection_parity(lost, ref, **FP16.parity_kw(0.3))["passed"]
    assert not detection_parity(lost, ref, **FP32.parity_kw(0.3))["passed"]


def test_document_block_has_the_documents_layout(doc_sides) -> None:
    om, pt = doc_sides
    block = compare_with_pytorch(om, pt, "om", "cpu", "keep_top1_per_label", 0.3)
    assert list(block) == ["enabled", "pytorch_device", "dedup_policy", "score_thr", "om",
                           "pytorch", "delta"]  # fmt: skip
    assert block["pytorch"] == {  # the document's values, digit for digit
        "raw_count": 50,
        "after_dedup": 16,
        "after_score_thr": 1,
        "dropped_by_dedup": 34,
        "dropped_by_score_thr": 15,
        "score_stats": {"max": 0.34656473994255066, "mean": 0.34656473994255066},
        "final_detections_topk": [{"bbox": DOC_PT_BOX, "score": 0.34656473994255066, "label": 62}],
    }
    assert block["om"]["score_stats"] == {"max": 0.3389612138271332, "mean": 0.3389612138271332}
    assert block["delta"] == {"raw_count": -1, "after_dedup": 3, "after_score_thr": 0}
    assert block["enabled"] and block["pytorch_device"] == "cpu"


def _report(gates, detections_ok: bool, map_ok: bool | None) -> CompareReport:
    coco = None if map_ok is None else {"passed": map_ok}
    return CompareReport(("om", "mmdet"), summary={"passed": detections_ok}, coco=coco,
                         gates=gates)  # fmt: skip


def test_with_data_the_map_decides_under_fp16_only() -> None:
    low = _report(FP16, detections_ok=False, map_ok=True)
    assert low.passed and low.decided_by == ["map"] and low.advisories == ["detections"]
    assert not _report(FP16, detections_ok=True, map_ok=False).passed
    assert not _report(FP16, detections_ok=False, map_ok=None).passed
    strict = _report(FP32, detections_ok=False, map_ok=True)
    assert not strict.passed and strict.decided_by == ["detections", "map"]
    d = low.to_dict()["gates"]
    assert d["name"] == "fp16" and d["decided_by"] == ["map"] and d["advisories"] == ["detections"]
