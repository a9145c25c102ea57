"""Anchors, delta decoding, NMS and RoI level mapping against hand-written references."""

from __future__ import annotations

import numpy as np
import pytest
from runtime_test_helpers import (
    SIZES_1024,
    naive_batched_nms,
    naive_decode,
    naive_nms,
    random_boxes,
)

from vitdet_cli.runtime.boxes import (
    base_anchors,
    batched_nms,
    delta2bbox,
    grid_anchors,
    map_roi_levels,
    nms,
    pad_rois,
)

F32 = np.float32
R2 = np.sqrt(2.0)


def test_base_anchors_by_hand():
    # stride 16, scale 8 -> 128 px; ratio r = h/w: w = 128/sqrt(r), h = 128*sqrt(r)
    w = [128 * R2, 128.0, 128 / R2]
    h = [128 / R2, 128.0, 128 * R2]
    expected = np.array([[-a / 2, -b / 2, a / 2, b / 2] for a, b in zip(w, h)])
    np.testing.assert_allclose(base_anchors(16, [8], [0.5, 1.0, 2.0]), expected, rtol=1e-6)
    # scales vary fastest within a ratio
    two = base_anchors(4, [1, 2], [1.0])
    np.testing.assert_array_equal(two, [[-2, -2, 2, 2], [-4, -4, 4, 4]])


def test_grid_anchors_tiny_grid_by_hand():
    (anchors,) = grid_anchors([(2, 3)], [10], [1], [1.0, 4.0])
    base = [[-5, -5, 5, 5], [-2.5, -10, 2.5, 10]]  # ratio 4: w = 10/2, h = 10*2
    expected = [
        [b[0] + x, b[1] + y, b[2] + x, b[3] + y]
        for y in (0, 10)
        for x in (0, 10, 20)
        for b in base  # (H, W, A) order
    ]
    np.testing.assert_array_equal(anchors, np.array(expected, F32))


def test_grid_anchors_are_cached_and_read_only():
    a = grid_anchors(SIZES_1024, [4, 8, 16, 32, 64], [8], [0.5, 1.0, 2.0])
    b = grid_anchors(SIZES_1024, (4, 8, 16, 32, 64), (8.0,), (0.5, 1, 2))
    assert a is b and [x.shape[0] for x in a] == [3 * h * w for h, w in SIZES_1024]
    assert not a[0].flags.writeable
    with pytest.raises(ValueError):
        grid_anchors(SIZES_1024[:2], [4], [8], [1.0])


def test_delta2bbox_matches_formula(rng):
    rois = random_boxes(rng, 500, size=200, max_wh=80)
    deltas = (rng.standard_normal((500, 4)) * 2).astype(F32)  # some |dw| beyond the clamp
    means, stds = (0.1, -0.1, 0.0, 0.05), (0.1, 0.1, 0.2, 0.2)
    for max_shape in (None, (150, 120)):
        got = delta2bbox(rois, deltas, means, stds, max_shape)
        ref = naive_decode(rois, deltas, means, stds, max_shape)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, ref, rtol=2e-6, atol=2e-4)


def test_delta2bbox_class_specific_and_clamp():
    rois = np.array([[0, 0, 10, 20]], F32)
    deltas = np.array([[0, 0, 0, 0, 0.5, 0, 10, -10]], F32)  # two classes
    out = delta2bbox(rois, deltas)
    assert out.shape == (1, 8)
    np.testing.assert_allclose(out[0, :4], [0, 0, 10, 20])
    r = 1000 / 16  # exp(|log(16/1000)|)
    np.testing.assert_allclose(
        out[0, 4:], [10 - 5 * r, 10 - 10 / r, 10 + 5 * r, 10 + 10 / r], rtol=1e-5
    )
    assert delta2bbox(np.zeros((0, 4)), np.zeros((0, 8))).shape == (0, 8)


@pytest.mark.parametrize("thr", [0.0, 0.3, 0.5, 0.7, 1.0])
def test_nms_matches_naive_loop(rng, thr):
    for trial in range(4):
        boxes = random_boxes(rng, 150, size=100, max_wh=40)
        scores = rng.random(150).astype(F32)
        if trial == 1:
            scores = np.round(scores, 1)  # many ties: broken by index
        if trial == 2:
            boxes[::7] = boxes[1::7][: len(boxes[::7])]  # exact duplicates
        np.testing.assert_array_equal(nms(boxes, scores, thr), naive_nms(boxes, scores, thr))


def test_nms_degenerate_boxes(rng):
    boxes = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [5, 5, 5, 9], [1, 1, 3, 3], [1, 1, 3, 3]], F32)
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5], F32)
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), naive_nms(boxes, scores, 0.5))
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).shape == (0,)
    with pytest.raises(ValueError):
        nms(boxes, scores, 1.5)


def test_nms_long_suppression_chain():
    # each box overlaps only its neighbours: greedy keeps every other one
    x = np.arange(40, dtype=F32) * 2
    boxes = np.stack([x, np.zeros_like(x), x + 10, np.full_like(x, 10)], 1)
    scores = np.linspace(1, 0.1, 40).astype(F32)
    np.testing.assert_array_equal(nms(boxes, scores, 0.7), naive_nms(boxes, scores, 0.7))


def test_nms_max_keep_prefix_is_exact(rng):
    boxes = random_boxes(rng, 600, size=100, max_wh=30)
    scores = rng.random(600).astype(F32)
    full = nms(boxes, scores, 0.5)
    for k in (1, 10, 100, len(full), len(full) + 10):
        np.testing.assert_array_equal(nms(boxes, scores, 0.5, max_keep=k), full[:k])


def test_batched_nms_matches_per_group(rng):
    boxes = random_boxes(rng, 300, size=60, max_wh=30)
    scores = rng.random(300).astype(F32)
    groups = rng.integers(0, 5, 300)
    got = batched_nms(boxes, scores, groups, 0.5)
    np.testing.assert_array_equal(got, naive_batched_nms(boxes, scores, groups, 0.5))
    assert batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0), 0.5).shape == (0,)


def test_map_roi_levels_by_hand():
    # scale = sqrt(w*h); level = floor(log2(scale / 56 + 1e-6)) clamped to [0, 3]
    sides = [0, 10, 111, 112, 223, 224, 447, 448, 2000]
    rois = np.array([[0, 0, 0, s, s] for s in sides], F32)
    np.testing.assert_array_equal(map_roi_levels(rois, 4), [0, 0, 0, 1, 1, 2, 2, 3, 3])
    assert map_roi_levels(np.array([[0, 0, 0, 112, 448]], F32), 4)[0] == 2  # sqrt(112*448)=224


def test_pad_rois():
    rois, n = pad_rois(np.ones((3, 4)), 5)
    assert n == 3 and rois.shape == (5, 5) and rois.dtype == np.float32
    np.testing.assert_array_equal(rois[:3], [[0, 1, 1, 1, 1]] * 3)
    assert not rois[3:].any()
    with pytest.raises(ValueError):
        pad_rois(np.ones((6, 4)), 5)


# --- parity with MMDetection / mmcv -----------------------------------------------------------


@pytest.mark.mmcv
def test_anchors_match_mmdet(mmdet_heads):
    rpn, _, _ = mmdet_heads
    ref = rpn.prior_generator.grid_priors(SIZES_1024, device="cpu")
    ours = grid_anchors(SIZES_1024, (4, 8, 16, 32, 64), (8,), (0.5, 1.0, 2.0))
    for r, o in zip(ref, ours):
        np.testing.assert_array_equal(o, r.numpy())


@pytest.mark.mmcv
def test_decode_matches_mmdet(mmdet_heads, rng):
    import torch

    _, roi, _ = mmdet_heads
    coder = roi.bbox_head.bbox_coder
    rois = random_boxes(rng, 2000, size=1000, max_wh=400)
    deltas = (rng.standard_normal((2000, 8)) * 3).astype(F32)
    ref = coder.decode(
        torch.from_numpy(np.repeat(rois, 2, 0)),
        torch.from_numpy(deltas.reshape(-1, 4)),
        max_shape=(800, 900),
    )
    ours = delta2bbox(rois, deltas, coder.means, coder.stds, (800, 900))
    np.testing.assert_allclose(ours.reshape(-1, 4), ref.numpy(), rtol=0, atol=2e-4)


@pytest.mark.mmcv
@pytest.mark.parametrize("thr", [0.5, 0.7])
def test_batched_nms_matches_mmcv(rng, thr):
    pytest.importorskip("mmcv.ops")
    import torch
    from mmcv.ops import batched_nms as mmcv_batched_nms

    for n, groups in ((3000, 80), (12000, 80), (5000, 5)):  # 12000 >= split_thr: mmcv loops
        boxes = random_boxes(rng, n, size=300, max_wh=60)
        scores = rng.permutation(np.linspace(0.01, 1, n)).astype(F32)  # no ties
        idx = rng.integers(0, groups, n)
        _, keep = mmcv_batched_nms(
            torch.from_numpy(boxes),
            torch.from_numpy(scores),
            torch.from_numpy(idx),
            dict(type="nms", iou_threshold=thr),
        )
        np.testing.assert_array_equal(batched_nms(boxes, scores, idx, thr), keep.numpy())


@pytest.mark.mmcv
def test_map_roi_levels_matches_mmdet(mmdet_heads, rng):
    import torch

    _, roi, _ = mmdet_heads
    rois = np.concatenate([np.zeros((3000, 1), F32), random_boxes(rng, 3000, 1000, 900)], 1)
    ref = roi.bbox_roi_extractor.map_roi_levels(torch.from_numpy(rois), 4)
    np.testing.assert_array_equal(map_roi_levels(rois, 4), ref.numpy())
