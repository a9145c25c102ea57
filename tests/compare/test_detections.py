"""Detection matching and the parity verdict."""

from __future__ import annotations

import numpy as np
import pytest
from compare_test_helpers import copy_dets, naive_mask_iou, random_crops

from vitdet_cli.compare.crops import pair_mask_iou
from vitdet_cli.compare.detections import box_iou, detection_parity, match_detections
from vitdet_cli.runtime.detections import Detections, MaskCrops


def test_identical_sets_all_match(dets):
    m = match_detections(dets, copy_dets(dets))
    assert m.matched == len(dets) and len(m.only_a) == len(m.only_b) == 0
    assert (m.pairs[:, 0] == m.pairs[:, 1]).all()
    s = detection_parity(dets, copy_dets(dets))
    assert s["passed"] and s["failures"] == []
    assert s["mean_iou"] == s["min_iou"] == 1.0
    assert s["mask_iou_mean"] == s["mask_iou_min"] == 1.0
    assert s["max_score_diff"] == 0.0
    assert s["ref_considered"] == 5  # the 0.04 detection is below min_score
    assert s["frac_ref_matched_strict"] == 1.0


def test_shifted_box_fails_strict_check(dets):
    boxes = dets.boxes.copy()
    boxes[2] += [3, 0, 3, 0]  # 50 px wide box moved 3 px: IoU 47/53
    s = detection_parity(copy_dets(dets, boxes=boxes), dets)
    assert s["matched"] == len(dets)
    assert s["min_iou"] == pytest.approx(47 / 53)
    assert s["ref_matched_strict"] == 4 and s["frac_ref_matched_strict"] == pytest.approx(0.8)
    assert not s["passed"] and "matched at IoU >= 0.99" in s["failures"][0]
    # the same shift on the 0.04 detection is below min_score and does not count
    boxes = dets.boxes.copy()
    boxes[5] += 3
    assert detection_parity(copy_dets(dets, boxes=boxes), dets)["passed"]


def test_score_difference_fails(dets):
    scores = dets.scores.copy()
    scores[0] += 2e-3
    s = detection_parity(copy_dets(dets, scores=scores), dets)
    assert s["frac_ref_matched_strict"] == 1.0
    assert s["max_score_diff_strict"] == pytest.approx(2e-3, rel=1e-3)
    assert not s["passed"] and "score difference" in s["failures"][0]
    assert detection_parity(copy_dets(dets, scores=scores), dets, max_score_diff=5e-3)["passed"]


def test_label_mismatch_never_matches():
    box = np.array([[10, 10, 50, 50]], np.float32)
    a = Detections(box, [0.9], [1])
    b = Detections(box.copy(), [0.9], [2])
    m = match_detections(a, b)
    assert m.matched == 0 and m.only_a.tolist() == [0] and m.only_b.tolist() == [0]
    s = detection_parity(a, b)
    assert not s["passed"] and s["frac_ref_matched_strict"] == 0.0


def test_one_to_one():
    b = Detections([[10, 10, 50, 50]], [0.9], [1])
    a = Detections([[11, 10, 51, 50], [10, 10, 50, 50]], [0.8, 0.9], [1, 1])
    m = match_detections(a, b)
    assert m.pairs.tolist() == [[1, 0]]  # the better overlap wins
    assert m.only_a.tolist() == [0] and len(m.only_b) == 0
    assert m.frac_of_b_matched_at(0.99) == 1.0
    assert m.frac_of_a_matched_at(0.99) == 0.5
    s = detection_parity(a, b)
    assert s["passed"] and s["only_a"] == 1 and s["frac_a_matched_strict"] == 0.5


def test_below_iou_threshold_not_matched():
    a = Detections([[0, 0, 10, 10]], [0.9], [0])
    b = Detections([[6, 0, 16, 10]], [0.9], [0])  # IoU 4/16
    assert match_detections(a, b, iou_thr=0.5).matched == 0
    assert match_detections(a, b, iou_thr=0.2).ious.tolist() == [0.25]


def test_empty_sets():
    e = Detections(np.zeros((0, 4)), [], [])
    s = detection_parity(e, e)
    assert s["matched"] == 0 and s["passed"] and s["mean_iou"] is None
    assert s["frac_ref_matched_strict"] == 1.0  # nothing to match
    assert not detection_parity(e, Detections([[0, 0, 5, 5]], [0.5], [0]))["passed"]


def test_box_iou_known():
    iou = box_iou([[0, 0, 10, 10]], [[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]])
    assert iou.tolist() == [[50 / 150, 1.0, 0.0]]
    assert box_iou([[3, 3, 3, 3]], [[3, 3, 3, 3], [3, 3, 4, 3]]).tolist() == [[1.0, 0.0]]


def test_mask_iou_from_crops_equals_full_masks(rng):
    boxes_a = rng.uniform(0, 140, (30, 2))
    boxes_a = np.concatenate([boxes_a, boxes_a + rng.uniform(1, 40, (30, 2))], 1)
    boxes_b = boxes_a + rng.uniform(-8, 8, boxes_a.shape)
    a, b = random_crops(rng, boxes_a), random_crops(rng, boxes_b)
    fa, fb = a.full(), b.full()
    for i in range(30):
        for j in (i, (i + 1) % 30):
            assert pair_mask_iou(a, i, b, j) == pytest.approx(naive_mask_iou(fa[i], fb[j]))
    da = Detections(boxes_a, np.linspace(0.9, 0.1, 30), np.zeros(30), a)
    db = Detections(boxes_b, np.linspace(0.9, 0.1, 30), np.zeros(30), b)
    m = match_detections(da, db, iou_thr=0.1)
    naive = [naive_mask_iou(fa[i], fb[j]) for i, j in m.pairs.tolist()]
    assert m.matched > 10
    np.testing.assert_allclose(m.mask_ious, naive)


def test_crops_from_full_round_trip(rng):
    full = np.zeros((3, 20, 30), bool)
    full[0, 2:5, 7:9] = True
    full[1] = rng.random((20, 30)) < 0.3
    c = MaskCrops.from_full(full)
    assert c.spans[0].tolist() == [7, 2, 9, 5] and c.spans[2].tolist() == [0, 0, 0, 0]
    np.testing.assert_array_equal(c.full(), full)
    assert c.mask(1, np.uint8, "F").flags.f_contiguous
    np.testing.assert_array_equal(c.mask(1), full[1])
    assert pair_mask_iou(c, 2, c, 2) == 1.0  # two empty masks


def test_detections_normalise_fields_and_take_full_masks():
    full = np.zeros((1, 8, 8), bool)
    full[0, 1:3, 2:6] = True
    raw = Detections([[1, 1, 6, 3], [0, 0, 2, 2]], [0.9, 0.2], [4, 4])
    d = Detections(raw.boxes[:1], raw.scores[:1], raw.labels[:1], full, {"raw_count": 2}, raw)
    assert len(d) == 1 and d.raw_scores.tolist() == pytest.approx([0.9, 0.2])
    assert d.counts == {"raw_count": 2} and d.labels.dtype == np.int64
    assert d.boxes.dtype == d.scores.dtype == np.float32
    assert d.masks.spans.tolist() == [[2, 1, 6, 3]]
    assert len(raw) == 2 and raw.masks is None and raw.counts is None and raw.raw_scores is None
    picked = d.select(np.array([0]))
    assert picked.masks.spans.tolist() == [[2, 1, 6, 3]] and picked.counts is None
    with pytest.raises(ValueError):
        Detections(raw.boxes, raw.scores[:1], raw.labels)
