"""Detection-level parity: match two detection sets of one image and judge the agreement.

Run A is the one under test (ONNX Runtime / OM stages), run B the reference (PyTorch).
Matching is one-to-one within each label by box IoU, greedy in descending IoU order (ties:
lower A index, then lower B index). Greedy is what COCO evaluation does too; it equals the
optimal (Hungarian) assignment whenever the matches are unambiguous, which is the case that
matters for parity (IoU near 1), and needs no scipy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from vitdet_cli.compare.crops import pairs_mask_iou
from vitdet_cli.runtime.detections import Detections


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of xyxy boxes (areas without +1, as mmdet 3); identical degenerate boxes
    count as IoU 1, other zero-union pairs as 0."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    same = (a[:, None, :] == b[None, :, :]).all(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, same.astype(np.float64))


def _optional(x: np.ndarray, fn) -> Optional[float]:
    return float(fn(x)) if x is not None and x.size else None


@dataclass
class Matching:
    """One-to-one matches between A and B: ``pairs`` (M, 2) [index in A, index in B].

    ``ious`` are the box IoUs of the pairs, ``score_diffs`` ``|score_a - score_b|``,
    ``mask_ious`` the mask IoUs (None unless both sides have masks).
    """

    pairs: np.ndarray
    ious: np.ndarray
    score_diffs: np.ndarray
    mask_ious: Optional[np.ndarray]
    scores_a: np.ndarray
    scores_b: np.ndarray
    iou_thr: float

    @property
    def matched(self) -> int:
        return len(self.pairs)

    @property
    def only_a(self) -> np.ndarray:
        """Indices of A's detections without a match."""
        return np.setdiff1d(np.arange(len(self.scores_a)), self.pairs[:, 0])

    @property
    def only_b(self) -> np.ndarray:
        """Indices of B's detections without a match."""
        return np.setdiff1d(np.arange(len(self.scores_b)), self.pairs[:, 1])

    def counts_matched_at(
        self, iou: float, min_score: Optional[float] = None, side: int = 1
    ) -> tuple[int, int]:
        """(matched with box IoU ≥ ``iou``, considered): the detections of B (``side=1``) or A
        (``side=0``) with score ≥ ``min_score``; counts, so several images can be summed."""
        scores = self.scores_b if side else self.scores_a
        considered = np.ones(len(scores), bool)
        if min_score is not None:
            considered = scores >= np.float32(min_score)
        hit = np.zeros(len(scores), bool)
        hit[self.pairs[self.ious >= iou, side]] = True
        return int((hit & considered).sum()), int(considered.sum())

    def _frac_matched_at(self, side: int, iou: float, min_score: Optional[float]) -> float:
        hits, considered = self.counts_matched_at(iou, min_score, side)
        return hits / considered if considered else 1.0  # nothing to match: vacuously all

    def frac_of_b_matched_at(self, iou: float, min_score: Optional[float] = None) -> float:
        """Fraction of B's detections (score ≥ ``min_score``) matched with box IoU ≥ ``iou``.

        Only matches made at ``iou_thr`` count, so ``iou`` below ``iou_thr`` gives the
        fraction at ``iou_thr``. 1.0 when B has no such detections.
        """
        return self._frac_matched_at(1, iou, min_score)

    def frac_of_a_matched_at(self, iou: float, min_score: Optional[float] = None) -> float:
        """As :meth:`frac_of_b_matched_at`, for A's detections."""
        return self._frac_matched_at(0, iou, min_score)

    def to_dict(self) -> dict:
        return {
            "iou_thr": self.iou_thr,
            "n_a": len(self.scores_a),
            "n_b": len(self.scores_b),
            "matched": self.matched,
            "only_a": len(self.only_a),
            "only_b": len(self.only_b),
            "mean_iou": _optional(self.ious, np.mean),
            "min_iou": _optional(self.ious, np.min),
            "max_score_diff": _optional(self.score_diffs, np.max),
            "mask_iou_mean": _optional(self.mask_ious, np.mean),
            "mask_iou_min": _optional(self.mask_ious, np.min),
        }


def _greedy(iou: np.ndarray, thr: float) -> list[tuple[int, int]]:
    """Greedy one-to-one assignment of an (N, M) IoU matrix, best IoU first, IoU ≥ thr."""
    r, c = np.nonzero(iou >= thr)
    order = np.lexsort((c, r, -iou[r, c]))
    used_r, used_c, out = set(), set(), []
    for i, j in zip(r[order].tolist(), c[order].tolist()):
        if i not in used_r and j not in used_c:
            used_r.add(i)
            used_c.add(j)
            out.append((i, j))
    return out


def match_detections(a: Detections, b: Detections, iou_thr: float = 0.5) -> Matching:
    """Match A's detections to B's, one to one within each label, at box IoU ≥ ``iou_thr``.

    Pairs are ordered by B index. Mask IoUs come from the crops (see
    :func:`~vitdet_cli.compare.crops.pair_mask_iou`) when both sides have masks.
    """
    pairs: list[tuple[int, int]] = []
    for label in np.intersect1d(a.labels, b.labels).tolist():
        ia, ib = np.flatnonzero(a.labels == label), np.flatnonzero(b.labels == label)
        iou = box_iou(a.boxes[ia], b.boxes[ib])
        pairs += [(int(ia[i]), int(ib[j])) for i, j in _greedy(iou, iou_thr)]
    pairs_arr = np.array(sorted(pairs, key=lambda p: p[1]), dtype=np.int64).reshape(-1, 2)
    pa, pb = pairs_arr[:, 0], pairs_arr[:, 1]
    ious = box_iou(a.boxes[pa], b.boxes[pb]).diagonal().copy() if len(pa) else np.zeros(0)
    diffs = np.abs(a.scores[pa].astype(np.float64) - b.scores[pb].astype(np.float64))
    mask_ious = None
    if a.masks is not None and b.masks is not None:
        mask_ious = pairs_mask_iou(a.masks, b.masks, pairs_arr)
    return Matching(pairs_arr, ious, diffs, mask_ious, a.scores, b.scores, iou_thr)


def detection_parity(
    a: Detections,
    b: Detections,
    iou_thr: float = 0.5,
    strict_iou: float = 0.99,
    min_score: float = 0.05,
    min_frac_matched: float = 0.99,
    max_score_diff: float = 1e-3,
) -> dict:
    """JSON-ready parity summary of A against the reference B, with a ``passed`` verdict.

    Passed when at least ``min_frac_matched`` of B's detections with score ≥ ``min_score``
    have a match with box IoU ≥ ``strict_iou``, and those matches differ in score by at most
    ``max_score_diff``. Keys: the :meth:`Matching.to_dict` fields, then ``strict_iou``,
    ``min_score``, ``ref_considered``, ``ref_matched_strict``, ``frac_ref_matched_strict``,
    ``max_score_diff_strict``, ``frac_a_matched_strict`` (A's side, reported, not judged),
    ``criteria``, ``passed`` and ``failures`` (human-readable reasons).
    """
    m = match_detections(a, b, iou_thr)
    considered = b.scores >= np.float32(min_score)
    strict = (m.ious >= strict_iou) & considered[m.pairs[:, 1]]
    frac = m.frac_of_b_matched_at(strict_iou, min_score)
    max_sd = _optional(m.score_diffs[strict], np.max)
    failures = []
    if frac < min_frac_matched:
        failures.append(
            f"{frac:.2%} of reference detections with score >= {min_score} matched at "
            f"IoU >= {strict_iou} (need {min_frac_matched:.2%})"
        )
    if max_sd is not None and max_sd > max_score_diff:
        failures.append(f"max score difference {max_sd:.3g} > {max_score_diff:.3g}")
    return {
        **m.to_dict(),
        "strict_iou": strict_iou,
        "min_score": min_score,
        "ref_considered": int(considered.sum()),
        "ref_matched_strict": int(strict.sum()),
        "frac_ref_matched_strict": frac,
        "max_score_diff_strict": max_sd,
        "frac_a_matched_strict": m.frac_of_a_matched_at(strict_iou, min_score),
        "criteria": {"min_frac_matched": min_frac_matched, "max_score_diff": max_score_diff},
        "passed": not failures,
        "failures": failures,
    }


# --- the compare block of the source document (counts, scores, top boxes) -----------------

SCHEMA_VERSION = 1
COUNT_KEYS = ("raw_count", "after_dedup", "after_score_thr", "dropped_by_dedup",
              "dropped_by_score_thr")  # fmt: skip
ClassNames = Optional[Sequence[str] | Mapping[int, str]]
STAT_FNS = {"min": np.min, "max": np.max, "mean": np.mean, "median": np.median}


def _r(x: Optional[float], nd: int = 6) -> Optional[float]:
    return None if x is None else round(float(x), nd)


def score_stats(scores: Optional[np.ndarray]) -> Optional[dict]:
    """count/min/max/mean/median of ``scores`` (None values when empty, None when absent)."""
    if scores is None:
        return None
    s = np.asarray(scores, dtype=np.float64)
    stats = {f: _r(_optional(s, fn)) for f, fn in STAT_FNS.items()}
    return {"count": int(s.size), **stats}


def _class_name(names: ClassNames, label: int) -> Optional[str]:
    if names is None:
        return None
    if isinstance(names, Mapping):
        return names.get(label)
    return names[label] if 0 <= label < len(names) else None


def policy_report(
    det: Detections,
    class_names: ClassNames = None,
    top_k: int = 5,
    dedup_policy: Optional[str] = None,
    score_thr: Optional[float] = None,
) -> dict:
    """One side of the compare block: what the policies kept, the scores, the top boxes.

    Keys: ``dedup_policy``, ``score_thr`` (as given), the five policy counts (from
    ``det.counts``; without them ``raw_count`` falls back to ``len(raw_scores)``,
    ``after_score_thr`` to ``len(det)`` and the others are None), ``max_score`` (final),
    ``score_stats`` {``final``, ``raw``} and ``top``: the ``top_k`` best final detections as
    {``rank``, ``box`` (xyxy px, 0.1 px), ``label``, ``class_name``, ``score``}.
    """
    counts = dict.fromkeys(COUNT_KEYS)
    counts.update(
        raw_count=len(det.raw_scores) if det.raw_scores is not None else None,
        after_score_thr=len(det),
    )
    counts.update({k: int(det.counts[k]) for k in COUNT_KEYS if k in (det.counts or {})})
    order = np.argsort(-det.scores, kind="stable")[:top_k]
    top = [
        {
            "rank": rank + 1,
            "box": [round(float(v), 1) for v in det.boxes[i]],
            "label": int(det.labels[i]),
            "class_name": _class_name(class_names, int(det.labels[i])),
            "score": _r(det.scores[i]),
        }
        for rank, i in enumerate(order.tolist())
    ]
    return {
        "dedup_policy": dedup_policy,
        "score_thr": score_thr,
        **counts,
        "max_score": _r(_optional(det.scores, np.max)),
        "score_stats": {"final": score_stats(det.scores), "raw": score_stats(det.raw_scores)},
        "top": top,
    }


def _sub(x: Optional[float], y: Optional[float]) -> Optional[float]:
    return None if x is None or y is None else x - y


def _top1_delta(a: Detections, b: Detections) -> dict:
    """The best detection of A against the best of B: box difference (A − B), IoU, labels."""
    if not len(a) or not len(b):
        return {"box": None, "box_max_abs": None, "iou": None, "same_label": None}
    i, j = int(np.argmax(a.scores)), int(np.argmax(b.scores))
    d = a.boxes[i].astype(np.float64) - b.boxes[j].astype(np.float64)
    return {
        "box": [round(float(v), 3) for v in d],
        "box_max_abs": round(float(np.abs(d).max()), 3),
        "iou": float(box_iou(a.boxes[i], b.boxes[j])[0, 0]),
        "same_label": bool(a.labels[i] == b.labels[j]),
    }


def compare_report(
    a: Detections,
    b: Detections,
    names: tuple[str, str] = ("onnxruntime", "torch"),
    class_names: ClassNames = None,
    top_k: int = 5,
    dedup_policy: Optional[str] = None,
    score_thr: Optional[float] = None,
    **parity_kw: float,
) -> dict:
    """The full comparison of run A (under test) with the reference run B, JSON-ready.

    Layout::

        {"schema_version": 1,
         "names": {"a": ..., "b": ...},
         "policy": {"dedup_policy", "score_thr"},
         "a": policy_report(A) + {"name"}, "b": policy_report(B) + {"name"},
         "delta": {<five counts>, "max_score": A − B,
                   "top1": {"box": [4] A − B, "box_max_abs", "iou", "same_label"}},
         "parity": detection_parity(A, B, **parity_kw)}

    ``parity_kw`` are :func:`detection_parity`'s thresholds (``iou_thr``, ``strict_iou``,
    ``min_score``, ``min_frac_matched``, ``max_score_diff``).
    """
    sides = {}
    for key, name, det in (("a", names[0], a), ("b", names[1], b)):
        rep = policy_report(det, class_names, top_k, dedup_policy, score_thr)
        sides[key] = {"name": name, **rep}
    delta: dict[str, Any] = {k: _sub(sides["a"][k], sides["b"][k]) for k in COUNT_KEYS}
    max_a, max_b = _optional(a.scores, np.max), _optional(b.scores, np.max)
    delta["max_score"] = _sub(max_a, max_b)
    delta["top1"] = _top1_delta(a, b)
    return {
        "schema_version": SCHEMA_VERSION,
        "names": {"a": names[0], "b": names[1]},
        "policy": {"dedup_policy": dedup_policy, "score_thr": score_thr},
        **sides,
        "delta": delta,
        "parity": detection_parity(a, b, **parity_kw),
    }
