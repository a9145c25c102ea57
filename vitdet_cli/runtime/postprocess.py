"""RPN and box-head post-processing, as MMDetection 3.3 does it at test time for Mask R-CNN.

- :func:`rpn_postprocess` — ``RPNHead._predict_by_feat_single`` + ``_bbox_post_process``
  (``rescale=False``): sigmoid, per-level top-k, decode, clip to ``img_shape``, drop
  small boxes, per-level NMS, keep ``max_per_img``.
- :func:`bbox_postprocess` — ``BBoxHead._predict_by_feat_single`` with ``rescale=False`` (a
  model with a mask head rescales later, in the mask head) + ``multiclass_nms``, then the
  mask head's in-place ``bboxes /= scale_factor`` that yields the final boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.boxes import batched_nms, delta2bbox, grid_anchors, pad_rois
from vitdet_cli.runtime.detections import Detections
from vitdet_cli.runtime.host_config import HostConfig
from vitdet_cli.runtime.preprocess import ImageMeta

F32 = np.float32


def sigmoid(x: np.ndarray) -> np.ndarray:
    """float32 logistic function (within 1 ulp of torch's)."""
    x = np.asarray(x, dtype=F32)
    with np.errstate(over="ignore"):
        return F32(1) / (F32(1) + np.exp(-x))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """float32 softmax along ``axis`` (max-subtracted)."""
    x = np.asarray(x, dtype=F32)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def topk_desc(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, high → low; equal scores by index (a stable sort).

    Same result as ``argsort(-scores, stable)[:k]`` but O(n) for the selection.
    """
    n = len(scores)
    if k >= n:
        return np.argsort(-scores, kind="stable")
    kth = np.partition(scores, n - k)[n - k]
    above = np.flatnonzero(scores > kth)
    equal = np.flatnonzero(scores == kth)[: k - len(above)]
    idx = np.concatenate([above, equal])
    return idx[np.argsort(-scores[idx], kind="stable")]


def _kth_largest(x: np.ndarray, k: int) -> np.floating:
    """The k-th largest value of 1-D ``x`` (exact); partitions a candidate subset when large.

    A strided sample gives a value that is very likely below the k-th; everything at or above
    it is partitioned. If the sample guessed too high, the whole array is partitioned.
    """
    n = len(x)
    step = n // (8 * k)
    if step >= 4:
        sample = x[::step]
        pos = min(len(sample) - 1, (3 * k) // (2 * step) + 8)  # ~1.5k expected candidates
        guess = np.partition(sample, len(sample) - 1 - pos)[len(sample) - 1 - pos]
        cand = x[x >= guess]
        if len(cand) >= k:
            return np.partition(cand, len(cand) - k)[len(cand) - k]
    return np.partition(x, n - k)[n - k]


def _level_topk(logits: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One RPN level's (A, HW) logits → (anchor, location, score) of mmdet's kept entries.

    mmdet flattens scores in (H, W, A) order, and sorts them (high → low) only when there are
    more than ``k``. The selection runs on logits (sigmoid is monotone) and only the few
    candidates near the k-th are passed through the sigmoid; a candidate margin is accepted
    only if nothing below it can round to the k-th score.
    """
    a, hw = logits.shape
    n = a * hw
    if not 0 < k < n:
        loc, anc = np.divmod(np.arange(n), a)
        return anc, loc, sigmoid(logits.T.reshape(-1))
    flat = logits.reshape(-1)
    kth = float(_kth_largest(flat, k))
    for margin in (1e-2, 1e-1, 1.0, None):
        cand = np.flatnonzero(flat >= F32(kth - margin)) if margin is not None else np.arange(n)
        anc, loc = np.divmod(cand, hw)
        scores = sigmoid(flat[cand])
        order = np.lexsort((loc * a + anc, -scores))[:k]  # by score, ties by (H, W, A) index
        if margin is None:
            break
        s_k = scores[order[-1]]
        s_low = sigmoid(np.array([kth - margin], dtype=F32))[0]
        if s_low + 4 * np.spacing(s_k) < s_k:
            break
    return anc[order], loc[order], scores[order]


@dataclass
class Proposals:
    """RPN output in network-input coordinates, highest score first."""

    boxes: np.ndarray  # (N, 4) float32
    scores: np.ndarray  # (N,) float32

    def __len__(self) -> int:
        return len(self.scores)

    def padded(self, size: int) -> tuple[np.ndarray, int]:
        """(size, 5) RoIs for a static-shape RoI stage (zero rows past the count), and the count."""
        return pad_rois(self.boxes, size)


def _level_map(x: np.ndarray, channels: int, what: str, level: int) -> np.ndarray:
    """(1, C, H, W) or (C, H, W) → (C, H, W) float32, checking C."""
    x = np.asarray(x, dtype=F32)
    if x.ndim == 4 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 3 or x.shape[0] != channels:
        raise VitdetError(
            f"RPN {what} of level {level} has shape {tuple(x.shape)}, expected "
            f"(1, {channels}, H, W)",
            hint="The RPN stage does not match the host settings (anchors per location).",
            code="stage_output_mismatch",
        )
    return x


def rpn_postprocess(
    cls_scores: Sequence[np.ndarray],
    bbox_preds: Sequence[np.ndarray],
    cfg: HostConfig,
    img_shape: Optional[Sequence[int]] = None,
) -> Proposals:
    """Per-level RPN logits (1, A, H, W) and deltas (1, 4A, H, W) → proposals.

    ``img_shape`` (h, w) is what boxes are clipped to; mmdet's value for our pipeline is the
    padded input size (S, S), the default.
    """
    if len(cls_scores) != len(cfg.strides) or len(bbox_preds) != len(cfg.strides):
        raise VitdetError(
            f"the RPN stage gave {len(cls_scores)} score and {len(bbox_preds)} delta maps, "
            f"expected {len(cfg.strides)} levels",
            hint="The RPN stage does not match the host settings (strides).",
            code="stage_output_mismatch",
        )
    img_shape = tuple(img_shape) if img_shape is not None else (cfg.img_size, cfg.img_size)
    a = cfg.num_anchors
    cls_maps = [_level_map(c, a, "scores", i) for i, c in enumerate(cls_scores)]
    reg_maps = [_level_map(r, 4 * a, "deltas", i) for i, r in enumerate(bbox_preds)]
    sizes = [c.shape[1:] for c in cls_maps]
    for i, (c, r) in enumerate(zip(cls_maps, reg_maps)):
        if r.shape[1:] != c.shape[1:]:
            raise VitdetError(
                f"RPN level {i}: scores are {c.shape[1:]} but deltas {r.shape[1:]}",
                code="stage_output_mismatch",
            )
    anchors = grid_anchors(sizes, cfg.strides, cfg.anchor_scales, cfg.anchor_ratios)

    all_scores, all_deltas, all_priors, all_levels = [], [], [], []
    for level, (cls, reg, priors) in enumerate(zip(cls_maps, reg_maps, anchors)):
        hw = cls.shape[1] * cls.shape[2]
        anc, loc, scores = _level_topk(cls.reshape(a, hw), cfg.rpn_nms_pre)
        all_deltas.append(reg.reshape(a, 4, hw)[anc, :, loc])
        all_scores.append(scores)
        all_priors.append(priors[loc * a + anc])
        all_levels.append(np.full(len(scores), level, dtype=np.int64))

    scores = np.concatenate(all_scores)
    boxes = delta2bbox(
        np.concatenate(all_priors),
        np.concatenate(all_deltas),
        cfg.rpn_target_means,
        cfg.rpn_target_stds,
        max_shape=img_shape,
        wh_ratio_clip=cfg.wh_ratio_clip,
    )
    levels = np.concatenate(all_levels)
    if cfg.rpn_min_bbox_size >= 0:
        min_size = F32(cfg.rpn_min_bbox_size)
        valid = ((boxes[:, 2] - boxes[:, 0]) > min_size) & ((boxes[:, 3] - boxes[:, 1]) > min_size)
        if not valid.all():
            boxes, scores, levels = boxes[valid], scores[valid], levels[valid]
    if len(boxes) == 0:
        return Proposals(np.zeros((0, 4), F32), np.zeros(0, F32))
    keep = batched_nms(boxes, scores, levels, cfg.rpn_iou_thr, cfg.rpn_max_per_img)
    return Proposals(boxes[keep], scores[keep])


def bbox_postprocess(
    proposals: np.ndarray,
    cls_score: np.ndarray,
    bbox_pred: np.ndarray,
    cfg: HostConfig,
    meta: ImageMeta,
) -> tuple[Detections, np.ndarray]:
    """Box-head logits (N, C+1) and deltas (N, 4C) (or (N, 4)) for N proposals → detections
    (highest score first) and the same boxes in network-input coordinates.

    Extra rows past the proposals (a padded static batch) are ignored. Decoding (class-specific
    deltas), clipping to ``meta.img_shape`` and the class-aware NMS happen in network
    coordinates, as in mmdet for a model with a mask head, which takes these network boxes as
    its RoIs; the detections' ``boxes`` are them divided by ``meta.scale_factor``.
    """
    proposals = np.asarray(proposals, dtype=F32).reshape(-1, 4)
    n = len(proposals)
    cls_score = np.asarray(cls_score, dtype=F32)
    bbox_pred = np.asarray(bbox_pred, dtype=F32)
    if cls_score.ndim != 2 or cls_score.shape[0] < n or bbox_pred.shape[0] < n:
        raise VitdetError(
            f"box head gave scores {tuple(cls_score.shape)} and deltas "
            f"{tuple(bbox_pred.shape)} for {n} proposals",
            hint="The RoI box stage must return one row per RoI.",
            code="stage_output_mismatch",
        )
    num_classes = cls_score.shape[1] - 1
    if bbox_pred.shape[1] not in (4, 4 * num_classes):
        raise VitdetError(
            f"box deltas have {bbox_pred.shape[1]} columns, expected 4 or {4 * num_classes}",
            code="stage_output_mismatch",
        )
    if n == 0:
        return Detections.empty(), np.zeros((0, 4), dtype=F32)
    probs = softmax(cls_score[:n])
    valid = probs > F32(cfg.rcnn_score_thr)
    valid[:, num_classes] = False  # the background column
    flat = np.flatnonzero(valid)  # row-major, as mmdet's nonzero over (N, C)
    if len(flat) == 0:
        return Detections.empty(), np.zeros((0, 4), dtype=F32)
    rows, labels = np.divmod(flat, num_classes + 1)
    scores = probs.reshape(-1)[flat]
    if bbox_pred.shape[1] == 4:
        deltas = bbox_pred[rows]
    else:
        deltas = bbox_pred[:n].reshape(n, num_classes, 4)[rows, labels]
    boxes = delta2bbox(
        proposals[rows],
        deltas,
        cfg.rcnn_target_means,
        cfg.rcnn_target_stds,
        max_shape=meta.img_shape,
        wh_ratio_clip=cfg.wh_ratio_clip,
    )
    keep = batched_nms(boxes, scores, labels, cfg.rcnn_iou_thr, cfg.rcnn_max_per_img)
    boxes_net = boxes[keep]
    sw, sh = meta.scale_factor
    scale = np.array([sw, sh, sw, sh], dtype=F32)
    dets = Detections(boxes_net / scale, scores[keep], labels[keep].astype(np.int64))
    return dets, boxes_net
