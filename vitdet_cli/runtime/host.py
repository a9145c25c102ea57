"""The numpy host pipeline between the exported stages (no torch, mmcv or mmdet needed).

``image → preprocess → [rpn stage] → rpn_postprocess → [roi box stage] → bbox_postprocess →
policies → [roi mask stage] → paste_masks``. Each host step reproduces MMDetection 3.3's
test-time behaviour for our Mask R-CNN; see the step modules for the details:

- :mod:`~vitdet_cli.runtime.preprocess` — resize / pad / normalise.
- :mod:`~vitdet_cli.runtime.boxes` — anchors, delta decoding, NMS, RoI level mapping.
- :mod:`~vitdet_cli.runtime.postprocess` — RPN and box-head post-processing.
- :mod:`~vitdet_cli.runtime.masks` — mask pasting.
- :mod:`~vitdet_cli.runtime.policies` — dedup and score-threshold policies.

Stages are plain callables so any backend (torch, onnxruntime, om) can be plugged in.
:func:`run_pipeline` returns the image's :class:`~vitdet_cli.runtime.detections.Detections`
and times the host steps in a :class:`~vitdet_cli.runtime.timing.StepTimer`.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from vitdet_cli.runtime.boxes import (
    base_anchors,
    batched_nms,
    delta2bbox,
    grid_anchors,
    map_roi_levels,
    nms,
    pad_rois,
)
from vitdet_cli.runtime.detections import Detections, MaskCrops
from vitdet_cli.runtime.host_config import HostConfig
from vitdet_cli.runtime.masks import (
    paste_mask_crops,
    paste_masks,
    paste_prob_crops,
    select_mask_logits,
)
from vitdet_cli.runtime.policies import DEDUP_POLICIES, apply_policies
from vitdet_cli.runtime.postprocess import (
    Proposals,
    bbox_postprocess,
    rpn_postprocess,
    sigmoid,
    softmax,
    topk_desc,
)
from vitdet_cli.runtime.preprocess import ImageMeta, preprocess, rescale_size
from vitdet_cli.runtime.timing import StepTimer

__all__ = [
    "DEDUP_POLICIES",
    "Detections",
    "HostConfig",
    "ImageMeta",
    "MaskCrops",
    "Proposals",
    "apply_policies",
    "base_anchors",
    "batched_nms",
    "bbox_postprocess",
    "delta2bbox",
    "grid_anchors",
    "map_roi_levels",
    "nms",
    "pad_rois",
    "paste_mask_crops",
    "paste_masks",
    "paste_prob_crops",
    "preprocess",
    "rescale_size",
    "rpn_postprocess",
    "run_pipeline",
    "select_mask_logits",
    "sigmoid",
    "softmax",
    "topk_desc",
]

RpnStage = Callable[[np.ndarray], tuple[Sequence[np.ndarray], Sequence[np.ndarray]]]
"""(1, 3, S, S) input → (per-level scores (1, A, H, W), per-level deltas (1, 4A, H, W)); for the
staged model that is the backbone graph, then the RPN graph."""
BoxStage = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""(R, 5) RoIs → (cls logits (R, C+1), deltas (R, 4C))."""
MaskStage = Callable[[np.ndarray], np.ndarray]
"""(R, 5) RoIs → mask logits (R, C, M, M) (or (R, 1, M, M))."""


def run_pipeline(
    image: np.ndarray,
    cfg: HostConfig,
    rpn_stage: RpnStage,
    box_stage: BoxStage,
    mask_stage: Optional[MaskStage] = None,
    *,
    roi_batch: Optional[int] = None,
    mask_batch: Optional[int] = None,
    score_thr: Optional[float] = None,
    dedup: str = "none",
    timer: Optional[StepTimer] = None,
) -> Detections:
    """Run one BGR uint8 image through the stages with the host steps in between.

    ``roi_batch`` / ``mask_batch`` pad the RoIs to a fixed count for static-shape stages
    (e.g. ``cfg.rpn_max_per_img`` and ``cfg.rcnn_max_per_img``); ``None`` passes exactly the
    RoIs there are. The policies (``dedup`` then ``score >= score_thr``) run before the mask
    stage, so masks are only computed for detections that are kept. Without ``mask_stage``
    no masks are produced. Returns the kept detections with the policy ``counts`` and the
    detections before the policies (``raw``).

    ``timer`` gets the host steps (``preprocess``, ``rpn_post``, ``bbox_post`` with the
    policies, ``mask_post``); the stage callables time their own graphs in it, by graph
    (:class:`~vitdet_cli.runtime.staged.StagedModel` does).
    """
    apply_policies(np.zeros(0), np.zeros(0), score_thr=score_thr, dedup=dedup)  # fail early
    timer = timer or StepTimer()

    with timer.step("preprocess"):
        inputs, meta = preprocess(image, cfg)
    cls_scores, bbox_preds = rpn_stage(inputs)
    with timer.step("rpn_post"):
        proposals = rpn_postprocess(cls_scores, bbox_preds, cfg, img_shape=meta.img_shape)

    raw, boxes_net = Detections.empty(), np.zeros((0, 4), dtype=np.float32)
    if len(proposals):
        cls_score, bbox_pred = box_stage(_rois(proposals.boxes, roi_batch))
        with timer.step("bbox_post"):
            raw, boxes_net = bbox_postprocess(proposals.boxes, cls_score, bbox_pred, cfg, meta)

    with timer.step("bbox_post"):
        keep, counts = apply_policies(raw.scores, raw.labels, score_thr=score_thr, dedup=dedup)
        dets = raw.select(keep)

    masks = None
    if mask_stage is not None:
        mask_logits = np.zeros((0, 1, 1, 1), dtype=np.float32)
        if len(dets):
            mask_logits = mask_stage(_rois(boxes_net[keep], mask_batch))
        with timer.step("mask_post"):
            masks = paste_mask_crops(
                mask_logits, dets.boxes, dets.labels, meta.ori_shape, cfg.mask_thr_binary
            )

    return Detections(dets.boxes, dets.scores, dets.labels, masks, counts, raw)


def _rois(boxes: np.ndarray, batch: Optional[int]) -> np.ndarray:
    if batch is None:
        return pad_rois(boxes, len(boxes))[0]
    return pad_rois(boxes, batch)[0]
