"""Box primitives in numpy, each reproducing its MMDetection / mmcv counterpart in float32.

- :func:`grid_anchors` — ``AnchorGenerator.grid_priors`` (center offset 0, scale-major).
- :func:`delta2bbox` — ``DeltaXYWHBBoxCoder.decode`` (single image, ``clip_border=True``).
- :func:`nms` / :func:`batched_nms` — mmcv's CPU ``nms`` and ``batched_nms`` (the class-offset
  trick, with the same float32 rounding of the offset boxes).
- :func:`map_roi_levels` — ``SingleRoIExtractor.map_roi_levels``.

Ties: mmcv sorts scores with an unstable sort, so the order of exactly equal scores is an
implementation detail there; here ties are always broken by the lower index.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional, Sequence

import numpy as np

F32 = np.float32


def base_anchors(base_size: int, scales: Sequence[float], ratios: Sequence[float]) -> np.ndarray:
    """(len(ratios) * len(scales), 4) anchors around (0, 0), ratio-major as mmdet orders them."""
    scales_ = np.asarray(scales, dtype=F32)
    ratios_ = np.asarray(ratios, dtype=F32)
    h_ratios = np.sqrt(ratios_)
    w_ratios = F32(1) / h_ratios
    ws = (base_size * w_ratios[:, None] * scales_[None, :]).reshape(-1)
    hs = (base_size * h_ratios[:, None] * scales_[None, :]).reshape(-1)
    half = F32(0.5)
    zero = F32(0.0)
    return np.stack([zero - half * ws, zero - half * hs, zero + half * ws, zero + half * hs], -1)


@lru_cache(maxsize=16)
def _grid_anchors_cached(
    featmap_sizes: tuple, strides: tuple, scales: tuple, ratios: tuple
) -> tuple:
    levels = []
    for (feat_h, feat_w), stride in zip(featmap_sizes, strides):
        base = base_anchors(stride, scales, ratios)
        shift_x = np.arange(feat_w, dtype=F32) * F32(stride)
        shift_y = np.arange(feat_h, dtype=F32) * F32(stride)
        xx = np.tile(shift_x, feat_h)
        yy = np.repeat(shift_y, feat_w)
        shifts = np.stack([xx, yy, xx, yy], -1)
        anchors = (base[None, :, :] + shifts[:, None, :]).reshape(-1, 4)
        anchors.flags.writeable = False
        levels.append(anchors)
    return tuple(levels)


def grid_anchors(
    featmap_sizes: Sequence[tuple[int, int]],
    strides: Sequence[int],
    scales: Sequence[float],
    ratios: Sequence[float],
) -> tuple[np.ndarray, ...]:
    """Anchors of every level, each (H * W * A, 4) float32 laid out (H, W, A); cached, read-only.

    Base sizes are the strides, as in mmdet when ``base_sizes`` is not given.
    """
    if len(featmap_sizes) != len(strides):
        raise ValueError(f"{len(featmap_sizes)} feature maps but {len(strides)} strides")
    key = tuple((int(h), int(w)) for h, w in featmap_sizes)
    return _grid_anchors_cached(
        key,
        tuple(int(s) for s in strides),
        tuple(float(s) for s in scales),
        tuple(float(r) for r in ratios),
    )


def delta2bbox(
    rois: np.ndarray,
    deltas: np.ndarray,
    means: Sequence[float] = (0.0, 0.0, 0.0, 0.0),
    stds: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    max_shape: Optional[Sequence[int]] = None,
    wh_ratio_clip: float = 16 / 1000,
) -> np.ndarray:
    """Apply (N, 4k) deltas to (N, 4) boxes → (N, 4k) float32 boxes, clipped to ``max_shape``.

    ``max_shape`` is (h, w); x is clipped to [0, w] and y to [0, h] as mmdet does.
    """
    rois = np.asarray(rois, dtype=F32).reshape(-1, 4)
    deltas = np.asarray(deltas, dtype=F32)
    n = deltas.shape[0]
    if n == 0:
        return deltas.copy()
    k = deltas.shape[1] // 4
    # Work on contiguous coordinate rows (4, N): numpy is slow on (N, 2) column pairs.
    d = np.ascontiguousarray(deltas.reshape(-1, 4).T)
    d *= np.asarray(stds, dtype=F32)[:, None]
    d += np.asarray(means, dtype=F32)[:, None]
    r = np.ascontiguousarray(rois.T)
    if k > 1:
        r = np.repeat(r, k, axis=1)
    half = F32(0.5)
    px = (r[0] + r[2]) * half
    py = (r[1] + r[3]) * half
    pw = r[2] - r[0]
    ph = r[3] - r[1]
    max_ratio = F32(abs(np.log(wh_ratio_clip)))
    gx = px + pw * d[0]
    gy = py + ph * d[1]
    gw = pw * np.exp(np.clip(d[2], -max_ratio, max_ratio))
    gh = ph * np.exp(np.clip(d[3], -max_ratio, max_ratio))
    gw *= half
    gh *= half
    coords = [gx - gw, gy - gh, gx + gw, gy + gh]
    if max_shape is not None:
        limits = (F32(max_shape[1]), F32(max_shape[0])) * 2
        for c, hi in zip(coords, limits):
            np.clip(c, F32(0), hi, out=c)
    return np.stack(coords, axis=1).reshape(n, -1)


def _stable_desc_order(scores: np.ndarray) -> np.ndarray:
    """Indices sorting ``scores`` high → low, equal scores by index."""
    return np.argsort(-scores, kind="stable")


def nms(
    boxes: np.ndarray, scores: np.ndarray, iou_thr: float, max_keep: Optional[int] = None
) -> np.ndarray:
    """Greedy NMS with mmcv's CPU arithmetic; returns kept indices, highest score first.

    A box is dropped when its IoU (float32, ``inter / (area_i + area_j - inter)``, no +1)
    with a kept higher-scoring box is strictly above ``iou_thr``. Candidate pairs come from a
    sweep along x (IoU > t needs the x-overlap to exceed t × the wider width), so the cost
    follows the number of overlapping pairs, not N². With ``max_keep`` only the first
    ``max_keep`` kept boxes are returned, and they are found from the highest-scoring boxes
    first (a box's fate depends only on higher-scoring boxes), growing the prefix as needed.
    """
    if not 0.0 <= iou_thr <= 1.0:
        raise ValueError(f"iou_thr must be in [0, 1], got {iou_thr}")
    n = len(scores)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = _stable_desc_order(np.asarray(scores, dtype=F32))
    b = np.asarray(boxes, dtype=F32)[order]
    x1, y1, x2, y2 = (np.ascontiguousarray(b[:, i]) for i in range(4))
    areas = (x2 - x1) * (y2 - y1)
    thr = F32(iou_thr)
    m = n if max_keep is None else min(n, max(max_keep + max_keep // 4, 64))
    while True:
        src, dst = _overlap_pairs(x1[:m], y1[:m], x2[:m], y2[:m], areas[:m], thr)
        keep = _greedy_resolve(m, src, dst)
        if m == n or len(keep) >= max_keep:
            break
        m = min(n, 2 * m)
    if max_keep is not None:
        keep = keep[:max_keep]
    return order[keep]


def _overlap_pairs(x1, y1, x2, y2, areas, thr):
    """Pairs (i < j, in rank order) whose mmcv IoU is > thr."""
    n = len(x1)
    xs = np.argsort(x1, kind="stable")
    sx1, sy1, sx2, sy2, sarea = x1[xs], y1[xs], x2[xs], y2[xs], areas[xs]
    width = np.maximum(sx2 - sx1, F32(0)).astype(np.float64)
    # Necessary condition for IoU > t (pruning only; the exact float32 test follows):
    # x-overlap > t * w_i, so x1_j < x2_i - t * w_i. Loosened, in float64, to stay safe.
    loose = max(float(thr) * (1 - 1e-3), 0.0)
    hi = np.searchsorted(sx1, sx2.astype(np.float64) - loose * width, side="left")
    start = np.arange(1, n + 1)
    counts = np.maximum(hi - start, 0)
    total = int(counts.sum())
    if total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    first = np.repeat(np.arange(n), counts)
    second = np.arange(total) - np.repeat(np.cumsum(counts) - counts - start, counts)
    w = np.minimum(sx2[first], sx2[second])
    w -= np.maximum(sx1[first], sx1[second])
    np.maximum(w, F32(0), out=w)
    h = np.minimum(sy2[first], sy2[second])
    h -= np.maximum(sy1[first], sy1[second])
    np.maximum(h, F32(0), out=h)
    inter = w * h
    with np.errstate(divide="ignore", invalid="ignore"):
        ovr = inter / (sarea[first] + sarea[second] - inter)
    hit = ovr > thr
    a, c = xs[first[hit]], xs[second[hit]]
    return np.minimum(a, c), np.maximum(a, c)


def _greedy_resolve(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Sequential greedy NMS on a suppression graph (edges earlier → later), in vector rounds.

    Each round keeps every undecided box whose would-be suppressors are all suppressed and
    suppresses every box with a kept suppressor; the earliest undecided box is always decided,
    so this terminates, and typically in a handful of rounds.
    """
    state = np.zeros(n, dtype=np.int8)  # 0 undecided, 1 kept, 2 suppressed
    has_in = np.zeros(n, dtype=bool)
    has_in[dst] = True
    state[~has_in] = 1
    while src.size:
        state[dst[state[src] == 1]] = 2
        live = (state[src] != 2) & (state[dst] == 0)
        src, dst = src[live], dst[live]
        has_in[:] = False
        has_in[dst] = True
        state[(state == 0) & ~has_in] = 1
    return np.flatnonzero(state == 1)


def batched_nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    groups: np.ndarray,
    iou_thr: float,
    max_keep: Optional[int] = None,
) -> np.ndarray:
    """NMS within each group (class or level) via mmcv's coordinate-offset trick.

    Returns kept indices, highest score first. The offset boxes are rounded in float32 exactly
    as mmcv rounds them, so IoUs (and decisions at the threshold) are the same; mmcv's
    per-group loop for ≥ 10000 boxes gives the same result as one pass, so there is one path.
    """
    boxes = np.asarray(boxes, dtype=F32)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    max_coordinate = boxes.max()
    offsets = np.asarray(groups).astype(F32) * (max_coordinate + F32(1))
    return nms(boxes + offsets[:, None], scores, iou_thr, max_keep)


def map_roi_levels(rois: np.ndarray, num_levels: int, finest_scale: float = 56) -> np.ndarray:
    """Feature level (int64) of each (K, 5) RoI: floor(log2(sqrt(w*h) / finest + 1e-6)), clamped."""
    rois = np.asarray(rois, dtype=F32)
    scale = np.sqrt((rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2]))
    with np.errstate(divide="ignore", invalid="ignore"):
        lvl = np.floor(np.log2(scale / F32(finest_scale) + F32(1e-6)))
    lvl = np.nan_to_num(lvl, nan=0.0, neginf=0.0)
    return np.clip(lvl, 0, num_levels - 1).astype(np.int64)


def pad_rois(boxes: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    """(size, 5) float32 RoIs [batch 0, x1, y1, x2, y2] for a static-shape stage, and the count.

    Rows past the count are zeros; more than ``size`` boxes is an error.
    """
    boxes = np.asarray(boxes, dtype=F32).reshape(-1, 4)
    count = len(boxes)
    if count > size:
        raise ValueError(f"{count} boxes do not fit a static RoI batch of {size}")
    rois = np.zeros((size, 5), dtype=F32)
    rois[:count, 1:] = boxes
    return rois, count
