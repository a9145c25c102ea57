"""RPN and box-head post-processing against straightforward references and mmdet's heads."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from runtime_test_helpers import SIZES_1024, naive_batched_nms, tiefree_logits

from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.boxes import delta2bbox, grid_anchors
from vitdet_cli.runtime.host_config import HostConfig
from vitdet_cli.runtime.postprocess import (
    _level_topk,
    bbox_postprocess,
    rpn_postprocess,
    sigmoid,
    softmax,
    topk_desc,
)
from vitdet_cli.runtime.preprocess import ImageMeta

F32 = np.float32
META_1333 = ImageMeta((800, 1333), (615, 1024), (1024, 1024), (1024 / 1333, 615 / 800))


def test_sigmoid_softmax():
    x = np.array([-100, -1, 0, 1, 100], F32)
    np.testing.assert_allclose(
        sigmoid(x), 1 / (1 + np.exp(-x.astype(np.float64))), rtol=1e-6, atol=1e-30
    )
    s = softmax(np.array([[1, 2, 3], [1000, 1000, 1000]], F32))
    np.testing.assert_allclose(s.sum(1), 1, rtol=1e-6)
    np.testing.assert_allclose(s[1], 1 / 3, rtol=1e-6)


def test_topk_desc_is_a_stable_sort_prefix(rng):
    for n, k in ((1000, 10), (1000, 999), (50, 50), (50, 80)):
        s = rng.integers(0, 7, n).astype(F32)  # heavy ties, also at the k-th value
        np.testing.assert_array_equal(topk_desc(s, k), np.argsort(-s, kind="stable")[:k])


@pytest.mark.parametrize("scale", [1.0, 4.0, 40.0])
def test_level_topk_matches_full_sigmoid_sort(rng, scale):
    # large logits saturate the sigmoid (ties at 1.0), exercising the candidate fallback
    a, hw = 3, 4000
    logits = (rng.standard_normal((a, hw)) * scale).astype(F32)
    logits[:, ::50] = 30.0  # exact ties
    for k in (1, 100, 1000, a * hw, a * hw + 5):
        anc, loc, scores = _level_topk(logits, k)
        flat_scores = sigmoid(logits.T.reshape(-1))  # (HW, A) order, as mmdet flattens
        if k < a * hw:
            ref = np.argsort(-flat_scores, kind="stable")[:k]
        else:
            ref = np.arange(a * hw)  # mmdet does not sort when there are <= nms_pre
        np.testing.assert_array_equal(loc * a + anc, ref)
        np.testing.assert_array_equal(scores, flat_scores[ref])


def _naive_rpn(cls_scores, bbox_preds, cfg, img_shape):
    """mmdet's RPN test path written out level by level (full sort, no shortcuts)."""
    sizes = [c.shape[2:] for c in cls_scores]
    anchors = grid_anchors(sizes, cfg.strides, cfg.anchor_scales, cfg.anchor_ratios)
    s_all, d_all, p_all, l_all = [], [], [], []
    for lvl, (c, r, p) in enumerate(zip(cls_scores, bbox_preds, anchors)):
        scores = sigmoid(c[0].transpose(1, 2, 0).reshape(-1))
        deltas = r[0].transpose(1, 2, 0).reshape(-1, 4)
        idx = np.arange(len(scores))
        if cfg.rpn_nms_pre < len(scores):
            idx = np.argsort(-scores, kind="stable")[: cfg.rpn_nms_pre]
        s_all.append(scores[idx]), d_all.append(deltas[idx]), p_all.append(p[idx])
        l_all.append(np.full(len(idx), lvl))
    boxes = delta2bbox(
        np.concatenate(p_all),
        np.concatenate(d_all),
        cfg.rpn_target_means,
        cfg.rpn_target_stds,
        img_shape,
    )
    scores, levels = np.concatenate(s_all), np.concatenate(l_all)
    ok = (boxes[:, 2] - boxes[:, 0] > 0) & (boxes[:, 3] - boxes[:, 1] > 0)
    boxes, scores, levels = boxes[ok], scores[ok], levels[ok]
    keep = naive_batched_nms(boxes, scores, levels, cfg.rpn_iou_thr)[: cfg.rpn_max_per_img]
    return boxes[keep], scores[keep]


@pytest.mark.parametrize("delta_scale", [0.1, 1.0])
def test_rpn_postprocess_matches_reference(rng, delta_scale):
    cfg = HostConfig(img_size=128, rpn_nms_pre=60, rpn_max_per_img=150)
    sizes = [(32, 32), (16, 16), (8, 8), (4, 4), (2, 2)]
    cls = [(rng.standard_normal((1, 3, h, w)) * 2).astype(F32) for h, w in sizes]
    cls[0][0, :, :4, :4] = 25.0  # saturated ties
    reg = [(rng.standard_normal((1, 12, h, w)) * delta_scale).astype(F32) for h, w in sizes]
    reg[1][0, :, 0, 0] = -20  # tiny boxes that the min size filter drops
    got = rpn_postprocess(cls, reg, cfg, img_shape=(100, 128))
    ref_boxes, ref_scores = _naive_rpn(cls, reg, cfg, (100, 128))
    np.testing.assert_array_equal(got.boxes, ref_boxes)
    np.testing.assert_array_equal(got.scores, ref_scores)
    rois, n = got.padded(200)
    assert n == len(got) and rois.shape == (200, 5)


def test_rpn_postprocess_shape_errors(rng):
    cfg = HostConfig(img_size=64)
    sizes = cfg.featmap_sizes()
    cls = [np.zeros((1, 3, h, w), F32) for h, w in sizes]
    reg = [np.zeros((1, 12, h, w), F32) for h, w in sizes]
    with pytest.raises(VitdetError, match="levels"):
        rpn_postprocess(cls[:4], reg[:4], cfg)
    with pytest.raises(VitdetError, match="expected"):
        rpn_postprocess([np.zeros((1, 2, 16, 16), F32)] + cls[1:], reg, cfg)
    with pytest.raises(VitdetError):
        rpn_postprocess(cls, [np.zeros((1, 12, 15, 16), F32)] + reg[1:], cfg)


def test_rpn_postprocess_all_boxes_filtered():
    cfg = HostConfig(img_size=64)
    sizes = cfg.featmap_sizes()
    cls = [np.zeros((1, 3, h, w), F32) for h, w in sizes]
    reg = [np.full((1, 12, h, w), -20, F32) for h, w in sizes]
    reg = [np.where(np.arange(12)[None, :, None, None] % 4 < 2, 0, r) for r in reg]
    out = rpn_postprocess(cls, reg, dataclasses.replace(cfg, rpn_min_bbox_size=100.0))
    assert len(out) == 0 and out.boxes.shape == (0, 4)


def _naive_bbox(props, cls, reg, cfg, meta):
    n, c = len(props), cls.shape[1] - 1
    scores = softmax(cls[:n])[:, :c]
    boxes = delta2bbox(
        np.repeat(props, c, 0),
        reg[:n].reshape(-1, 4),
        cfg.rcnn_target_means,
        cfg.rcnn_target_stds,
        meta.img_shape,
    ).reshape(n, c, 4)
    rows, labels = np.nonzero(scores > F32(cfg.rcnn_score_thr))
    b, s = boxes[rows, labels], scores[rows, labels]
    keep = naive_batched_nms(b, s, labels, cfg.rcnn_iou_thr)[: cfg.rcnn_max_per_img]
    return b[keep], s[keep], labels[keep]


@pytest.mark.parametrize("agnostic", [False, True])
def test_bbox_postprocess_matches_reference(rng, agnostic):
    cfg = HostConfig(rcnn_max_per_img=30)
    n, c = 120, 5
    xy = rng.uniform(0, 900, (n, 2))
    props = np.concatenate([xy, xy + rng.uniform(20, 300, (n, 2))], 1).astype(F32)
    cls = (rng.standard_normal((n + 8, c + 1)) * 2).astype(F32)  # 8 padded rows
    reg = (rng.standard_normal((n + 8, 4 if agnostic else 4 * c)) * 0.3).astype(F32)
    if agnostic:
        reg_full = np.tile(reg, (1, c))
    else:
        reg_full = reg
    got, boxes_net = bbox_postprocess(props, cls, reg, cfg, META_1333)
    boxes, scores, labels = _naive_bbox(props, cls, reg_full, cfg, META_1333)
    np.testing.assert_array_equal(boxes_net, boxes)
    np.testing.assert_array_equal(got.scores, scores)
    np.testing.assert_array_equal(got.labels, labels)
    scale = np.array(META_1333.scale_factor * 2, F32)
    np.testing.assert_array_equal(got.boxes, boxes / scale)
    assert len(got) == 30


def test_bbox_postprocess_empty_and_errors():
    cfg = HostConfig()
    props = np.array([[0, 0, 10, 10]], F32)
    low = np.array([[0, 0, 10.0]], F32)  # background wins: nothing above 0.05
    out, net = bbox_postprocess(props, low, np.zeros((1, 8), F32), cfg, META_1333)
    assert len(out) == 0 and out.boxes.shape == net.shape == (0, 4)
    none = np.zeros((0, 4)), np.zeros((0, 3)), np.zeros((0, 8))
    out, net = bbox_postprocess(*none, cfg, META_1333)
    assert len(out) == len(net) == 0
    with pytest.raises(VitdetError):
        bbox_postprocess(props, np.zeros((1, 3), F32), np.zeros((1, 12), F32), cfg, META_1333)
    with pytest.raises(VitdetError):
        bbox_postprocess(props, np.zeros((0, 3), F32), np.zeros((0, 8), F32), cfg, META_1333)


# --- parity with MMDetection ------------------------------------------------------------------


@pytest.mark.mmcv
@pytest.mark.parametrize("delta_scale", [0.3, 3.0])
def test_rpn_matches_mmdet(mmdet_heads, rng, delta_scale):
    import torch

    rpn, _, test_cfg = mmdet_heads
    cls = tiefree_logits(rng, SIZES_1024)
    reg = [(rng.standard_normal((1, 12, h, w)) * delta_scale).astype(F32) for h, w in SIZES_1024]
    meta = dict(img_shape=(1024, 1024), scale_factor=META_1333.scale_factor, ori_shape=(800, 1333))
    ref = rpn.predict_by_feat(
        [torch.from_numpy(c) for c in cls],
        [torch.from_numpy(r) for r in reg],
        batch_img_metas=[meta],
        cfg=test_cfg.rpn,
        rescale=False,
    )[0]
    got = rpn_postprocess(cls, reg, HostConfig())
    assert len(got) == len(ref.bboxes) == 1000
    # float32 exp/sigmoid differ from torch's by an ulp; everything else is identical
    np.testing.assert_allclose(got.boxes, ref.bboxes.numpy(), rtol=0, atol=3e-4)
    np.testing.assert_allclose(got.scores, ref.scores.numpy(), rtol=0, atol=2e-7)


@pytest.mark.mmcv
@pytest.mark.parametrize("delta_scale", [0.5, 5.0])
def test_bbox_head_and_masks_match_mmdet(mmdet_heads, rng, delta_scale):
    import torch
    from mmengine.structures import InstanceData

    from vitdet_cli.runtime.masks import paste_masks

    _, roi, test_cfg = mmdet_heads
    n, c = 1000, 80
    xy = rng.uniform(0, 700, (n, 2))
    props = np.concatenate([xy, xy + rng.uniform(8, 500, (n, 2))], 1).clip(0, 1024).astype(F32)
    cls = (rng.standard_normal((n, c + 1)) * 2).astype(F32)
    reg = (rng.standard_normal((n, 4 * c)) * delta_scale).astype(F32)
    meta = dict(img_shape=(1024, 1024), scale_factor=META_1333.scale_factor, ori_shape=(800, 1333))
    rois = torch.from_numpy(np.concatenate([np.zeros((n, 1), F32), props], 1))
    ref = roi.bbox_head.predict_by_feat(
        rois=(rois,),
        cls_scores=(torch.from_numpy(cls),),
        bbox_preds=(torch.from_numpy(reg),),
        batch_img_metas=[meta],
        rcnn_test_cfg=test_cfg.rcnn,
        rescale=False,
    )[0]
    got, boxes_net = bbox_postprocess(props, cls, reg, HostConfig(), META_1333)
    assert len(got) == len(ref.bboxes) == 100
    np.testing.assert_array_equal(got.labels, ref.labels.numpy())
    np.testing.assert_allclose(got.scores, ref.scores.numpy(), rtol=0, atol=3e-7)
    np.testing.assert_allclose(boxes_net, ref.bboxes.numpy(), rtol=0, atol=3e-4)

    # the mask head rescales the boxes in place and pastes with them
    logits = (rng.standard_normal((len(got), c, 28, 28)) * 3).astype(F32)
    inside = (np.floor(got.boxes[:, 0]) - 1 < 1333) & (np.floor(got.boxes[:, 1]) - 1 < 800)
    # (mmdet's torch.arange fails for a box starting beyond the image; we return an empty mask)
    keep = np.flatnonzero(inside)[:40]  # 40 masks keep mmdet's CPU paste quick
    res = InstanceData(
        bboxes=ref.bboxes[keep].clone(), labels=ref.labels[keep], scores=ref.scores[keep]
    )
    out = roi.mask_head.predict_by_feat(
        mask_preds=(torch.from_numpy(logits[keep]),),
        results_list=[res],
        batch_img_metas=[meta],
        rcnn_test_cfg=test_cfg.rcnn,
        rescale=True,
    )[0]
    np.testing.assert_allclose(got.boxes[keep], out.bboxes.numpy(), rtol=0, atol=5e-4)
    ours = paste_masks(logits[keep], got.boxes[keep], got.labels[keep], (800, 1333))
    theirs = out.masks.numpy()
    inter = (ours & theirs).sum((1, 2))
    union = (ours | theirs).sum((1, 2))
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    assert iou.min() >= 0.999
    assert (ours != theirs).sum() <= 10  # last-bit differences of exp/sigmoid only


def test_kth_largest_sampled_and_fallback(rng):
    from vitdet_cli.runtime.postprocess import _kth_largest

    for x in (
        rng.standard_normal(200_000).astype(F32),
        np.sort(rng.standard_normal(200_000)).astype(F32),  # sorted: sample misleads
        np.repeat(rng.standard_normal(50).astype(F32), 4000),
    ):  # massive ties
        for k in (1, 1000, 30_000):
            assert _kth_largest(x, k) == np.sort(x)[-k]
