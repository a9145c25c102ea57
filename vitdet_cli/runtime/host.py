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
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
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
from vitdet_cli.runtime.host_config import HostConfig
from vitdet_cli.runtime.masks import (
    MaskCrops,
    paste_mask_crops,
    paste_masks,
    paste_prob_crops,
    select_mask_logits,
)
from vitdet_cli.runtime.policies import DEDUP_POLICIES, apply_policies
from vitdet_cli.runtime.postprocess import (
    Detections,
    Proposals,
    bbox_postprocess,
    rpn_postprocess,
    sigmoid,
    softmax,
    topk_desc,
)
from vitdet_cli.runtime.preprocess import ImageMeta, preprocess, rescale_size

__all__ = [
    "DEDUP_POLICIES",
    "Detections",
    "HostConfig",
    "HostResult",
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
"""(1, 3, S, S) input → (per-level scores (1, A, H, W), per-level deltas (1, 4A, H, W))."""
BoxStage = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""(R, 5) RoIs → (cls logits (R, C+1), deltas (R, 4C))."""
MaskStage = Callable[[np.ndarray], np.ndarray]
"""(R, 5) RoIs → mask logits (R, C, M, M) (or (R, 1, M, M))."""

HOST_STEPS = ("preprocess", "rpn_post", "bbox_post", "mask_post")


@dataclass
class HostResult:
    """Final detections of one image (after policies) plus what led to them.

    ``boxes`` are (K, 4) in original-image pixels; ``masks`` are the binary masks as crops
    (``masks.full()`` gives the (K, H, W) bool array mmdet returns), or None without a mask
    stage. ``raw`` holds the detections before the policies, ``counts`` what the
    policies dropped, ``timings`` the host steps and ``stage_timings`` the stage calls, in ms.
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    masks: Optional[MaskCrops]
    meta: ImageMeta
    proposals: Proposals
    raw: Detections
    counts: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)
    stage_timings: dict[str, float] = field(default_factory=dict)


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1e3


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
) -> HostResult:
    """Run one BGR uint8 image through the stages with the host steps in between.

    ``roi_batch`` / ``mask_batch`` pad the RoIs to a fixed count for static-shape stages
    (e.g. ``cfg.rpn_max_per_img`` and ``cfg.rcnn_max_per_img``); ``None`` passes exactly the
    RoIs there are. The policies (``dedup`` then ``score >= score_thr``) run before the mask
    stage, so masks are only computed for detections that are kept; their time is counted in
    ``bbox_post``. Without ``mask_stage`` no masks are produced.
    """
    apply_policies(np.zeros(0), np.zeros(0), score_thr=score_thr, dedup=dedup)  # fail early
    timings: dict[str, float] = dict.fromkeys(HOST_STEPS, 0.0)
    stage_timings: dict[str, float] = {"rpn": 0.0, "bbox": 0.0, "mask": 0.0}

    t0 = time.perf_counter()
    inputs, meta = preprocess(image, cfg)
    timings["preprocess"] = _ms(t0)

    t0 = time.perf_counter()
    cls_scores, bbox_preds = rpn_stage(inputs)
    stage_timings["rpn"] = _ms(t0)

    t0 = time.perf_counter()
    proposals = rpn_postprocess(cls_scores, bbox_preds, cfg, img_shape=meta.img_shape)
    timings["rpn_post"] = _ms(t0)

    raw = Detections.empty()
    if len(proposals):
        rois = _rois(proposals.boxes, roi_batch)
        t0 = time.perf_counter()
        cls_score, bbox_pred = box_stage(rois)
        stage_timings["bbox"] = _ms(t0)
        t0 = time.perf_counter()
        raw = bbox_postprocess(proposals.boxes, cls_score, bbox_pred, cfg, meta)
        timings["bbox_post"] = _ms(t0)

    t0 = time.perf_counter()
    keep, counts = apply_policies(raw.scores, raw.labels, score_thr=score_thr, dedup=dedup)
    dets = raw.select(keep)
    timings["bbox_post"] += _ms(t0)

    masks = None
    if mask_stage is not None:
        mask_logits = np.zeros((0, 1, 1, 1), dtype=np.float32)
        if len(dets):
            t0 = time.perf_counter()
            mask_logits = mask_stage(_rois(dets.boxes_net, mask_batch))
            stage_timings["mask"] = _ms(t0)
        t0 = time.perf_counter()
        masks = paste_mask_crops(
            mask_logits, dets.boxes, dets.labels, meta.ori_shape, cfg.mask_thr_binary
        )
        timings["mask_post"] = _ms(t0)

    return HostResult(
        boxes=dets.boxes,
        scores=dets.scores,
        labels=dets.labels,
        masks=masks,
        meta=meta,
        proposals=proposals,
        raw=raw,
        counts=counts,
        timings=timings,
        stage_timings=stage_timings,
    )


def _rois(boxes: np.ndarray, batch: Optional[int]) -> np.ndarray:
    if batch is None:
        return pad_rois(boxes, len(boxes))[0]
    return pad_rois(boxes, batch)[0]
