"""Mask IoU on :class:`~vitdet_cli.runtime.detections.MaskCrops` for comparisons.

Masks are compared crop against crop over the intersection of their spans, so the cost is
the overlap area, never the image area.
"""

from __future__ import annotations

import numpy as np

from vitdet_cli.runtime.detections import MaskCrops


def pair_mask_iou(a: MaskCrops, i: int, b: MaskCrops, j: int) -> float:
    """IoU of mask ``i`` of ``a`` and mask ``j`` of ``b`` (1.0 when both are empty)."""
    ax0, ay0, ax1, ay1 = a.spans[i].tolist()
    bx0, by0, bx1, by1 = b.spans[j].tolist()
    x0, y0, x1, y1 = max(ax0, bx0), max(ay0, by0), min(ax1, bx1), min(ay1, by1)
    inter = 0
    if x1 > x0 and y1 > y0:
        ca = a.crops[i][y0 - ay0 : y1 - ay0, x0 - ax0 : x1 - ax0]
        cb = b.crops[j][y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0]
        inter = int(np.count_nonzero(ca & cb))
    union = int(np.count_nonzero(a.crops[i])) + int(np.count_nonzero(b.crops[j])) - inter
    return 1.0 if union == 0 else inter / union


def pairs_mask_iou(a: MaskCrops, b: MaskCrops, pairs: np.ndarray) -> np.ndarray:
    """(M,) float64 mask IoUs of the (M, 2) index pairs (row of ``a``, row of ``b``)."""
    if a.shape != b.shape:
        raise ValueError(f"masks of different images: {a.shape} vs {b.shape}")
    return np.array([pair_mask_iou(a, i, b, j) for i, j in pairs.tolist()], dtype=np.float64)
