"""Detection policies applied after the model: de-duplication, then a score threshold.

``keep_top1_per_label`` is a business rule from the source document: at most one detection
per label, the highest-scoring one. Both steps report what they dropped so a report can show
raw_count → after_dedup → after_score_thr.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from vitdet_cli.errors import VitdetError

DEDUP_POLICIES = ("none", "keep_top1_per_label")


def apply_policies(
    scores: np.ndarray,
    labels: np.ndarray,
    score_thr: Optional[float] = None,
    dedup: str = "none",
) -> tuple[np.ndarray, dict[str, int]]:
    """Indices (ascending) of the detections that survive ``dedup`` then ``score >= score_thr``.

    Returns the indices and the counts ``raw_count``, ``after_dedup``, ``after_score_thr``,
    ``dropped_by_dedup``, ``dropped_by_score_thr``. ``score_thr=None`` keeps every score.
    """
    if dedup not in DEDUP_POLICIES:
        raise VitdetError(
            f"unknown dedup policy '{dedup}'",
            hint=f"Use one of: {', '.join(DEDUP_POLICIES)}.",
            code="bad_policy",
            exit_code=2,
        )
    if score_thr is not None and not 0.0 <= score_thr <= 1.0:
        raise VitdetError(
            f"score threshold must be in [0, 1], got {score_thr}",
            code="bad_policy",
            exit_code=2,
        )
    scores = np.asarray(scores).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores but {len(labels)} labels")
    raw = len(scores)
    idx = np.arange(raw)
    if dedup == "keep_top1_per_label" and raw:
        order = np.lexsort((idx, -scores))  # best first, ties to the earlier detection
        _, first = np.unique(labels[order], return_index=True)
        idx = np.sort(order[first])
    after_dedup = len(idx)
    if score_thr is not None:
        idx = idx[scores[idx] >= np.float32(score_thr)]
    counts = {
        "raw_count": raw,
        "after_dedup": after_dedup,
        "after_score_thr": len(idx),
        "dropped_by_dedup": raw - after_dedup,
        "dropped_by_score_thr": after_dedup - len(idx),
    }
    return idx, counts
