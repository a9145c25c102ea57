"""The source document's ``compare_with_pytorch`` block, key for key, at full precision.

Its layout (from the document's OM run)::

    {"enabled": true, "pytorch_device": "cpu",
     "dedup_policy": "keep_top1_per_label", "score_thr": 0.3,
     "om":      {"raw_count", "after_dedup", "after_score_thr", "dropped_by_dedup",
                 "dropped_by_score_thr", "score_stats": {"max", "mean"},
                 "final_detections_topk": [{"bbox": [x1, y1, x2, y2], "score", "label"}]},
     "pytorch": {... the same ...},
     "delta":   {"raw_count", "after_dedup", "after_score_thr"}}      # deployed − PyTorch

The deployed side is keyed by its backend name (``om`` as there, ``onnxruntime``, ...); scores
and boxes are the float32 values as Python floats (no rounding); ``score_stats`` are over the
final detections. Our richer per-image report sits beside it.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from vitdet_cli.compare.detections import COUNT_KEYS
from vitdet_cli.runtime.detections import Detections

TOP_K = 5
DELTA_KEYS = ("raw_count", "after_dedup", "after_score_thr")


def _side(det: Detections, top_k: int) -> dict:
    counts = {k: (det.counts or {}).get(k) for k in COUNT_KEYS}
    scores = det.scores.astype(np.float64)
    order = np.argsort(-det.scores, kind="stable")[:top_k]
    return {
        **{k: None if v is None else int(v) for k, v in counts.items()},
        "score_stats": {
            "max": float(scores.max()) if scores.size else None,
            "mean": float(scores.mean()) if scores.size else None,
        },
        "final_detections_topk": [
            {
                "bbox": [float(v) for v in det.boxes[i]],
                "score": float(det.scores[i]),
                "label": int(det.labels[i]),
            }
            for i in order.tolist()
        ],
    }


def compare_with_pytorch(
    deployed: Detections,
    pytorch: Detections,
    backend: str,
    pytorch_device: Optional[str],
    dedup_policy: str,
    score_thr: Optional[float],
    top_k: int = TOP_K,
) -> dict:
    """The block for one image: ``deployed`` (run by ``backend``) against ``pytorch``."""
    a, b = _side(deployed, top_k), _side(pytorch, top_k)
    delta = {k: None if a[k] is None or b[k] is None else a[k] - b[k] for k in DELTA_KEYS}
    return {
        "enabled": True,
        "pytorch_device": pytorch_device,
        "dedup_policy": dedup_policy,
        "score_thr": score_thr,
        backend: a,
        "pytorch": b,
        "delta": delta,
    }


DISABLED = {"enabled": False}
"""The block when the reference is not PyTorch (e.g. ``--reference onnxruntime``)."""
