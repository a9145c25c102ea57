"""Independent references for the host-pipeline tests: naive loops written from the formulas,
and builders for MMDetection's own heads (only used by the parity tests)."""

from __future__ import annotations

import numpy as np

F32 = np.float32
SIZES_1024 = [(256, 256), (128, 128), (64, 64), (32, 32), (16, 16)]


def tiefree_logits(rng: np.random.Generator, sizes, num_anchors: int = 3, lo=-4.0, hi=4.0):
    """Per-level (1, A, H, W) logits whose sigmoids are all distinct (no ties anywhere).

    mmcv sorts with an unstable sort, so only tie-free scores have one well-defined order.
    """
    counts = [num_anchors * h * w for h, w in sizes]
    values = rng.permutation(np.linspace(lo, hi, sum(counts))).astype(F32)
    out, start = [], 0
    for (h, w), n in zip(sizes, counts):
        out.append(values[start : start + n].reshape(1, num_anchors, h, w))
        start += n
    return out


def random_boxes(rng: np.random.Generator, n: int, size: float = 100.0, max_wh: float = 30.0):
    """(n, 4) float32 boxes with positive sizes inside roughly [0, size]."""
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(1, max_wh, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(F32)


def naive_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> np.ndarray:
    """mmcv's CPU NMS as its C++ loop reads, in float32; ties in score by lower index."""
    boxes = np.asarray(boxes, F32)
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    areas = (x2 - x1) * (y2 - y1)
    suppressed = [False] * len(order)
    keep = []
    for a, i in enumerate(order):
        if suppressed[a]:
            continue
        keep.append(i)
        for b in range(a + 1, len(order)):
            if suppressed[b]:
                continue
            j = order[b]
            w = max(F32(0), min(x2[i], x2[j]) - max(x1[i], x1[j]))
            h = max(F32(0), min(y2[i], y2[j]) - max(y1[i], y1[j]))
            inter = F32(w * h)
            union = F32(F32(areas[i] + areas[j]) - inter)
            with np.errstate(divide="ignore", invalid="ignore"):
                ovr = F32(inter / union)
            if ovr > F32(thr):
                suppressed[b] = True
    return np.array(keep, dtype=np.int64)


def naive_batched_nms(boxes, scores, groups, thr) -> np.ndarray:
    """Per-group NMS, merged by score (ties by index) — the definition batched NMS implements."""
    kept = []
    for gid in np.unique(groups):
        idx = np.flatnonzero(groups == gid)
        kept.extend(idx[naive_nms(boxes[idx], scores[idx], thr)])
    kept = np.array(kept, dtype=np.int64)
    return kept[np.lexsort((kept, -np.asarray(scores)[kept]))] if len(kept) else kept


def naive_decode(rois, deltas, means, stds, max_shape, wh_ratio_clip=16 / 1000):
    """DeltaXYWH decode written from the formula, in float64 (one row of 4 deltas per roi)."""
    rois = np.asarray(rois, np.float64)
    d = np.asarray(deltas, np.float64) * np.asarray(stds) + np.asarray(means)
    px, py = (rois[:, 0] + rois[:, 2]) / 2, (rois[:, 1] + rois[:, 3]) / 2
    pw, ph = rois[:, 2] - rois[:, 0], rois[:, 3] - rois[:, 1]
    clip = abs(np.log(wh_ratio_clip))
    dw, dh = np.clip(d[:, 2], -clip, clip), np.clip(d[:, 3], -clip, clip)
    gx, gy = px + pw * d[:, 0], py + ph * d[:, 1]
    gw, gh = pw * np.exp(dw), ph * np.exp(dh)
    out = np.stack([gx - gw / 2, gy - gh / 2, gx + gw / 2, gy + gh / 2], 1)
    if max_shape is not None:
        out[:, 0::2] = out[:, 0::2].clip(0, max_shape[1])
        out[:, 1::2] = out[:, 1::2].clip(0, max_shape[0])
    return out


def naive_paste(prob: np.ndarray, box, img_h: int, img_w: int, thr: float) -> np.ndarray:
    """One mask pasted per mmdet's ``_do_paste_mask`` (skip_empty) + grid_sample, pixel by
    pixel over the whole image, with torch's float32 formula and operation order."""
    size = prob.shape[0]
    x0, y0, x1, y1 = (F32(v) for v in box)
    out = np.zeros((img_h, img_w), dtype=bool)
    xa = max(int(np.floor(x0)) - 1, 0)
    ya = max(int(np.floor(y0)) - 1, 0)
    xb = min(int(np.ceil(x1)) + 1, img_w)
    yb = min(int(np.ceil(y1)) + 1, img_h)

    def coord(p, lo, hi):
        with np.errstate(divide="ignore", invalid="ignore"):
            g = (F32(p) + F32(0.5) - lo) / (hi - lo) * F32(2) - F32(1)
        if np.isinf(g):
            g = F32(0)
        return (g + F32(1)) * F32(size / 2) - F32(0.5)

    def tap(r, c):
        return prob[r, c] if 0 <= r < size and 0 <= c < size else F32(0)

    for yy in range(ya, yb):
        y = coord(yy, y0, y1)
        for xx in range(xa, xb):
            x = coord(xx, x0, x1)
            if np.isnan(x) or np.isnan(y):
                continue
            xw, yn = np.floor(x), np.floor(y)
            w, n = x - xw, y - yn
            e, s = F32(1) - w, F32(1) - n
            c, r = int(xw), int(yn)
            v = tap(r, c) * (s * e) + tap(r, c + 1) * (s * w)
            v = v + tap(r + 1, c) * (n * e)
            v = v + tap(r + 1, c + 1) * (n * w)
            out[yy, xx] = v >= F32(thr)
    return out


def mmdet_model_dict(num_classes: int = 80) -> dict:
    """Our Mask R-CNN model dict (the one we train), from the config builder."""
    from vitdet_cli.config.schema import ExperimentConfig
    from vitdet_cli.model.config_builder import model_cfg

    return model_cfg(ExperimentConfig(), num_classes)


def build_mmdet_heads(num_classes: int = 80):
    """(rpn_head, roi_head, test_cfg) built by mmdet from our model dict (needs mmcv)."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import ConfigDict

    from vitdet_cli.model import register_modules

    register_all_modules()
    register_modules()
    model = mmdet_model_dict(num_classes)
    test_cfg = ConfigDict(model["test_cfg"])
    rpn = MODELS.build(dict(model["rpn_head"], test_cfg=test_cfg.rpn))
    roi = MODELS.build(dict(model["roi_head"], test_cfg=test_cfg.rcnn))
    return rpn.eval(), roi.eval(), test_cfg
