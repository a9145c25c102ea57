"""The detections of one image: what the runtime produces and every consumer reads.

:class:`Detections` is the one result type of the deployed model (``StagedModel``), of the
MMDetection reference and of a checkpoint evaluated through MMDetection; infer's results file,
the pictures, compare, eval and bench all read it. Masks are kept as :class:`MaskCrops` (each
mask cropped to its pixel span); the COCO RLE form is made only when a results file is written
(:mod:`~vitdet_cli.runtime.results_json`). Numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass
class MaskCrops:
    """Binary masks stored as crops: mask i is ``crops[i]`` at rows ``y0..y1``, cols ``x0..x1``.

    ``spans`` is (K, 4) int64 [x0, y0, x1, y1] (end exclusive); pixels outside are off.
    """

    shape: tuple[int, int]
    spans: np.ndarray
    crops: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.crops)

    @classmethod
    def from_full(cls, masks: np.ndarray) -> "MaskCrops":
        """(K, H, W) masks (e.g. mmdet's) → crops over each mask's tight on-pixel span."""
        masks = np.asarray(masks).astype(bool, copy=False)
        if masks.ndim != 3:
            raise ValueError(f"masks must be (K, H, W), got shape {masks.shape}")
        spans, crops = [], []
        for m in masks:
            rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
            if rows.size:
                x0, y0, x1, y1 = int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
            else:
                x0 = y0 = x1 = y1 = 0
            spans.append([x0, y0, x1, y1])
            crops.append(m[y0:y1, x0:x1].copy())
        spans_arr = np.array(spans, dtype=np.int64).reshape(-1, 4)
        return cls((int(masks.shape[1]), int(masks.shape[2])), spans_arr, crops)

    def areas(self) -> np.ndarray:
        """(K,) int64 number of on pixels per mask."""
        return np.array([int(np.count_nonzero(c)) for c in self.crops], dtype=np.int64)

    def mask(self, i: int, dtype: type = bool, order: str = "C") -> np.ndarray:
        """Mask ``i`` as an (H, W) array of ``dtype`` (``order="F"`` for pycocotools)."""
        out = np.zeros(self.shape, dtype=dtype, order=order)
        x0, y0, x1, y1 = self.spans[i].tolist()
        out[y0:y1, x0:x1] = self.crops[i]
        return out

    def full(self, out: np.ndarray | None = None) -> np.ndarray:
        """(K, H, W) bool masks; ``out`` (zeros of that shape) can be passed in to reuse memory."""
        k = len(self.crops)
        if out is None:
            out = np.zeros((k, *self.shape), dtype=bool)
        for i, ((x0, y0, x1, y1), crop) in enumerate(zip(self.spans.tolist(), self.crops)):
            out[i, y0:y1, x0:x1] = crop
        return out

    def select(self, idx: np.ndarray) -> "MaskCrops":
        return MaskCrops(self.shape, self.spans[idx], [self.crops[i] for i in np.asarray(idx)])


@dataclass
class Detections:
    """Detections of one image, best first as the model ranked them.

    ``boxes`` (K, 4) float32 xyxy in original-image pixels, ``scores`` (K,) float32,
    ``labels`` (K,) int64 class indices (0-based, into the model's class names). ``masks``
    are crops (a (K, H, W) array given here is converted) or None without a mask head.
    ``counts`` are the policy counts of :func:`~vitdet_cli.runtime.policies.apply_policies`
    and ``raw`` the detections before the policies (no masks); both None when no policies ran.
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    masks: Optional[MaskCrops] = None
    counts: Optional[dict[str, int]] = None
    raw: Optional["Detections"] = None

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if isinstance(self.masks, np.ndarray):
            self.masks = MaskCrops.from_full(self.masks)
        if self.counts is not None:
            self.counts = dict(self.counts)
        k = len(self.boxes)
        sizes = {len(self.scores), len(self.labels)}
        if self.masks is not None:
            sizes.add(len(self.masks))
        if sizes != {k}:
            raise ValueError(f"{k} boxes but scores/labels/masks of lengths {sorted(sizes)}")

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def select(self, idx: np.ndarray) -> "Detections":
        """The detections at ``idx`` (masks too; no counts, no raw)."""
        masks = None if self.masks is None else self.masks.select(idx)
        return Detections(self.boxes[idx], self.scores[idx], self.labels[idx], masks)

    @property
    def raw_scores(self) -> Optional[np.ndarray]:
        """The scores before the policies, when known."""
        return None if self.raw is None else self.raw.scores
