"""Detections as COCO result entries: infer's ``results.json`` and what COCO scoring reads.

An entry is ``{"image_id", "bbox": [x, y, w, h], "score", "category_id"}`` plus, when the
detections have masks, ``"segmentation"``: the mask as compressed RLE, made by pycocotools
(imported when a mask is encoded, so importing the runtime never loads it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from vitdet_cli.atomic import write_json_atomic
from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.detections import Detections, MaskCrops


def rle(masks: MaskCrops, i: int) -> dict:
    """Mask ``i`` as COCO compressed RLE, ``{"size": [h, w], "counts": str}``."""
    from pycocotools import mask as mask_utils  # on use: not needed to run the model

    encoded = mask_utils.encode(masks.mask(i, np.uint8, order="F"))
    return {"size": encoded["size"], "counts": encoded["counts"].decode()}


def coco_entries(image_id: int, det: Detections, cat_ids: Sequence[int]) -> list[dict]:
    """COCO result entries of one image: ``bbox`` as xywh, ``score``, ``category_id`` =
    ``cat_ids[label]`` and, when ``det`` has masks, ``segmentation`` as compressed RLE."""
    if len(det) and (det.labels.min() < 0 or det.labels.max() >= len(cat_ids)):
        raise VitdetError(
            f"labels up to {int(det.labels.max())} but only {len(cat_ids)} category ids",
            hint="Pass the annotation file's category ids in the model's class order.",
            code="coco_bad_label",
        )
    out = []
    for i, (box, score, label) in enumerate(zip(det.boxes.tolist(), det.scores, det.labels)):
        x0, y0, x1, y1 = box
        entry = {
            "image_id": int(image_id),
            "bbox": [x0, y0, x1 - x0, y1 - y0],
            "score": float(score),
            "category_id": int(cat_ids[int(label)]),
        }
        if det.masks is not None:
            entry["segmentation"] = rle(det.masks, i)
        out.append(entry)
    return out


def image_entries(
    path: Path, image_id: int, det: Detections, class_names: Sequence[str]
) -> list[dict]:
    """The entries of one image in ``results.json``: :func:`coco_entries` (category id =
    label + 1) plus the readable ``file_name`` and ``category_name``."""
    entries = coco_entries(image_id, det, list(range(1, len(class_names) + 1)))
    for entry, label in zip(entries, det.labels.tolist()):
        entry["file_name"] = Path(path).name
        entry["category_name"] = class_names[label]
    return entries


def write_results(
    target: Path, images: Sequence[Path], results: Sequence[Detections], class_names: Sequence[str]
) -> Path:
    """``results.json`` of all images (image id = position), every detection; atomically."""
    entries: list[dict] = []
    for image_id, (path, det) in enumerate(zip(images, results)):
        entries += image_entries(path, image_id, det, class_names)
    return write_json_atomic(target, entries)
