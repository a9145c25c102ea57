"""Builders for the comparison tests, and naive references written from the definitions."""

from __future__ import annotations

import numpy as np

from vitdet_cli.runtime.detections import Detections, MaskCrops

SHAPE = (120, 160)
BOXES = np.array(
    [
        [10, 10, 60, 50],
        [12, 14, 58, 55],
        [70, 20, 120, 90],
        [5, 60, 40, 110],
        [100, 5, 150, 40],
        [30, 30, 90, 100],
    ],
    dtype=np.float32,
)
SCORES = np.array([0.95, 0.9, 0.8, 0.5, 0.3, 0.04], dtype=np.float32)
LABELS = np.array([1, 1, 2, 2, 3, 1])


def random_crops(rng: np.random.Generator, boxes: np.ndarray, shape=SHAPE) -> MaskCrops:
    """Random masks cropped to each box's pixel span (as the host pipeline makes them)."""
    h, w = shape
    spans, crops = [], []
    for x0, y0, x1, y1 in np.asarray(boxes).tolist():
        sx, sy = min(max(int(x0), 0), w), min(max(int(y0), 0), h)
        span = [sx, sy, max(min(int(np.ceil(x1)), w), sx), max(min(int(y1) + 1, h), sy)]
        spans.append(span)
        crops.append(rng.random((span[3] - span[1], span[2] - span[0])) < 0.6)
    return MaskCrops(shape, np.array(spans, dtype=np.int64).reshape(-1, 4), crops)


def make_dets(rng: np.random.Generator, **changes) -> Detections:
    """Six detections of three labels with random masks; ``changes`` replace fields."""
    fields = {"boxes": BOXES.copy(), "scores": SCORES.copy(), "labels": LABELS.copy()}
    fields["masks"] = random_crops(rng, fields["boxes"])
    fields.update(changes)
    return Detections(**fields)


def copy_dets(d: Detections, **changes) -> Detections:
    """A copy of ``d`` with some fields replaced."""
    fields = {
        "boxes": d.boxes.copy(),
        "scores": d.scores.copy(),
        "labels": d.labels.copy(),
        "masks": d.masks,
        "counts": None if d.counts is None else dict(d.counts),
        "raw": d.raw,
    }
    fields.update(changes)
    return Detections(**fields)


def naive_mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two full (H, W) bool masks."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)
