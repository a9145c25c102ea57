"""Paste 28×28 mask probabilities into the original image, as mmdet's ``FCNMaskHead`` on CPU.

mmdet (``_predict_by_feat_single`` + ``_do_paste_mask``, ``skip_empty=True`` on CPU, one box
per chunk) samples each box's mask with ``F.grid_sample(bilinear, zeros padding,
align_corners=False)`` over the box's pixel span widened by one pixel (clamped to the image),
and thresholds at ``mask_thr_binary``; pixels outside that span stay off.

Here the bilinear sampling is separable and done as two small matrix products (two taps per
row of each interpolation matrix), which can differ from torch's four-term sum in the last
bit; pixels whose value lands within 1e-5 of the threshold are recomputed with torch's formula
and operation order, so given the same probabilities and boxes the binary masks are identical.

Writing a fresh (K, H, W) array costs a page fault per touched page (often more than the
sampling itself), so :func:`paste_mask_crops` returns each mask cropped to its pixel span;
:func:`paste_masks` expands them to the (K, H, W) array mmdet returns.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.detections import MaskCrops
from vitdet_cli.runtime.postprocess import sigmoid

F32 = np.float32
_NEAR = 1e-5  # separable vs exact sampling differ by < 1e-6; recheck pixels this close


def select_mask_logits(mask_logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(K, C, M, M) per-class logits (or (K, 1, M, M)) → (K, M, M) logits of each box's label."""
    m = np.asarray(mask_logits, dtype=F32)
    if m.ndim != 4 or m.shape[2] != m.shape[3]:
        raise VitdetError(
            f"mask logits have shape {tuple(m.shape)}, expected (K, C, M, M)",
            hint="The RoI mask stage must return one square mask per class per RoI.",
            code="stage_output_mismatch",
        )
    k = len(labels)
    if m.shape[0] < k:
        raise VitdetError(
            f"mask stage returned {m.shape[0]} masks for {k} detections",
            code="stage_output_mismatch",
        )
    if m.shape[1] == 1:
        return m[:k, 0]
    labels = np.asarray(labels, dtype=np.int64)
    if k and (labels.min() < 0 or labels.max() >= m.shape[1]):
        raise VitdetError(
            f"labels up to {labels.max()} but the mask stage has {m.shape[1]} classes",
            hint="The mask stage and the box stage disagree on the number of classes.",
            code="stage_output_mismatch",
        )
    return m[np.arange(k), labels]


def _axis_params(
    lo: np.ndarray, hi: np.ndarray, start: np.ndarray, stop: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sample positions along one axis for all boxes at once (float32, as grid_sample).

    Box k covers pixels start[k]..stop[k]-1 and spans [lo[k], hi[k]]. Returns, concatenated
    over boxes, the index of the first tap in the zero-padded map, frac and 1 - frac, and the
    per-box offsets into them.
    """
    lengths = np.maximum(stop - start, 0)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    total = int(offsets[-1])
    local = np.arange(total) - np.repeat(offsets[:-1], lengths)
    pix = (np.repeat(start, lengths) + local).astype(F32) + F32(0.5)
    lo32 = np.repeat(lo, lengths)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = (pix - lo32) / (np.repeat(hi, lengths) - lo32) * F32(2) - F32(1)
    g[np.isinf(g)] = 0  # mmdet zeroes infinite grid values (zero-size boxes)
    pos = (g + F32(1)) * F32(size / 2) - F32(0.5)
    fl = np.floor(pos)
    frac = pos - fl
    comp = F32(1) - frac
    # Clipping to [-2, size] keeps out-of-mask taps on the two zero pads each side.
    idx = np.nan_to_num(np.clip(fl, -2, size), nan=-2).astype(np.intp) + 2
    return idx, frac, comp, offsets


def _interp_matrix(idx: np.ndarray, frac: np.ndarray, comp: np.ndarray, width: int) -> np.ndarray:
    """(N, width) float32 rows with ``comp`` at ``idx`` and ``frac`` at ``idx + 1``."""
    m = np.zeros((len(idx), width), dtype=F32)
    flat = m.reshape(-1)
    first = np.arange(0, len(idx) * width, width) + idx
    flat[first] = comp
    flat[first + 1] = frac
    return m


def _refine(val: np.ndarray, q: np.ndarray, xs, ys, thr: float, out: np.ndarray) -> None:
    """Recompute pixels within ``_NEAR`` of the threshold with torch's exact arithmetic."""
    near = cv2.inRange(val, thr - _NEAR, thr + _NEAR)
    if not cv2.countNonZero(near):
        return
    pts = cv2.findNonZero(near).reshape(-1, 2)
    c, r = pts[:, 0], pts[:, 1]
    xi, xw, xe = xs
    yi, yn, ys_ = ys
    ri, ci = yi[r], xi[c]
    s, n = ys_[r], yn[r]
    e, w = xe[c], xw[c]
    # torch's order: nw*(s*e) + ne*(s*w) + sw*(n*e) + se*(n*w), left to right
    exact = (q[ri, ci] * (s * e) + q[ri, ci + 1] * (s * w)) + q[ri + 1, ci] * (n * e)
    exact = exact + q[ri + 1, ci + 1] * (n * w)
    out[r, c] = exact >= F32(thr)


def paste_mask_crops(
    mask_logits: np.ndarray,
    boxes: np.ndarray,
    labels: np.ndarray,
    ori_shape: Sequence[int],
    thr: float = 0.5,
) -> MaskCrops:
    """Mask logits (K, C, M, M) or (K, 1, M, M) + boxes (K, 4) in original-image coordinates
    → binary masks (sigmoid, paste, ``prob >= thr``) as crops over each box's pixel span."""
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(np.asarray(boxes).reshape(-1, 4)):
        raise ValueError(f"{len(np.asarray(boxes).reshape(-1, 4))} boxes but {len(labels)} labels")
    if len(labels) == 0:
        return paste_prob_crops(np.zeros((0, 1, 1), F32), boxes, ori_shape, thr)
    probs = sigmoid(select_mask_logits(mask_logits, labels))
    return paste_prob_crops(probs, boxes, ori_shape, thr)


def paste_prob_crops(
    probs: np.ndarray, boxes: np.ndarray, ori_shape: Sequence[int], thr: float = 0.5
) -> MaskCrops:
    """(K, M, M) mask probabilities + (K, 4) boxes → binary mask crops (``prob >= thr``)."""
    probs = np.asarray(probs, dtype=F32)
    boxes = np.asarray(boxes, dtype=F32).reshape(-1, 4)
    img_h, img_w = int(ori_shape[0]), int(ori_shape[1])
    k = len(boxes)
    if probs.shape[0] != k:
        raise ValueError(f"{probs.shape[0]} masks but {k} boxes")
    if k == 0:
        return MaskCrops((img_h, img_w), np.zeros((0, 4), dtype=np.int64), [])
    size = probs.shape[1]
    width = size + 4
    q = np.zeros((k, width, width), dtype=F32)  # two zero rows/cols of padding each side
    q[:, 2:-2, 2:-2] = probs

    # Each box's pixel span: floor(x0) - 1 .. ceil(x1) + 1, clamped to the image.
    finite = np.isfinite(boxes).all(axis=1)
    b = np.where(finite[:, None], boxes, 0).astype(np.float64)
    xa = np.maximum(np.floor(b[:, 0]) - 1, 0).astype(np.int64)
    ya = np.maximum(np.floor(b[:, 1]) - 1, 0).astype(np.int64)
    xb = np.minimum(np.ceil(b[:, 2]) + 1, img_w).astype(np.int64)
    yb = np.minimum(np.ceil(b[:, 3]) + 1, img_h).astype(np.int64)
    live = finite & (xb > xa) & (yb > ya)
    xb, yb = np.where(live, xb, xa), np.where(live, yb, ya)
    xi, xw, xe, xo = _axis_params(boxes[:, 0], boxes[:, 2], xa, xb, size)
    yi, yn, ye, yo = _axis_params(boxes[:, 1], boxes[:, 3], ya, yb, size)
    wx = _interp_matrix(xi, xw, xe, width)  # all boxes' columns, (sum Wr, M + 4)
    wy = _interp_matrix(yi, yn, ye, width)  # all boxes' rows, (sum Hr, M + 4)

    crops = []
    thr32 = F32(thr)
    for i in range(k):  # one box at a time, as mmdet on CPU
        xs = slice(xo[i], xo[i + 1])
        ys = slice(yo[i], yo[i + 1])
        crop = np.zeros((ys.stop - ys.start, xs.stop - xs.start), dtype=bool)
        if crop.size:
            val = (wy[ys] @ q[i]) @ wx[xs].T
            np.greater_equal(val, thr32, out=crop)
            _refine(val, q[i], (xi[xs], xw[xs], xe[xs]), (yi[ys], yn[ys], ye[ys]), thr, crop)
        crops.append(crop)
    spans = np.stack([xa, ya, xb, yb], axis=1)
    return MaskCrops((img_h, img_w), spans, crops)


def paste_masks(
    mask_logits: np.ndarray,
    boxes: np.ndarray,
    labels: np.ndarray,
    ori_shape: Sequence[int],
    thr: float = 0.5,
) -> np.ndarray:
    """As :func:`paste_mask_crops`, returned as the (K, H, W) bool array mmdet returns."""
    return paste_mask_crops(mask_logits, boxes, labels, ori_shape, thr).full()
