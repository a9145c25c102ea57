"""Pictures of annotations, so a person can see that masks, boxes and labels line up."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from vitdet_cli.atomic import write_bytes_atomic
from vitdet_cli.data.coco import segmentation_to_mask

# BGR colours, one per category id (cycled).
PALETTE = np.array(
    [
        (56, 56, 255),
        (151, 157, 255),
        (31, 112, 255),
        (29, 178, 255),
        (49, 210, 207),
        (10, 249, 72),
        (23, 204, 146),
        (134, 219, 61),
        (211, 188, 0),
        (209, 99, 0),
        (255, 56, 132),
        (236, 24, 0),
    ],
    np.float32,
)


def _name(class_names: Sequence[str] | Mapping[int, str], cat_id: int) -> str:
    if isinstance(class_names, Mapping):
        return str(class_names.get(cat_id, cat_id))
    return class_names[cat_id - 1] if 0 < cat_id <= len(class_names) else str(cat_id)


def draw_annotations(
    image: np.ndarray,
    anns: Sequence[dict],
    class_names: Sequence[str] | Mapping[int, str],
    alpha: float = 0.45,
) -> np.ndarray:
    """A copy of ``image`` (BGR) with each COCO annotation's mask tinted, outlined, boxed and
    labelled. ``class_names`` is indexed by category id - 1, or maps id → name."""
    out = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    h, w = out.shape[:2]
    canvas = out.astype(np.float32)
    outlines = []
    for ann in anns:
        colour = PALETTE[(ann["category_id"] - 1) % len(PALETTE)]
        if ann.get("segmentation"):
            m = segmentation_to_mask(ann["segmentation"], h, w).astype(bool)
            canvas[m] = canvas[m] * (1 - alpha) + colour * alpha
            outlines.append((m, colour))
    out = np.clip(canvas, 0, 255).astype(np.uint8)
    for m, colour in outlines:
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, colour.tolist(), 1)
    font = 0.4 if min(h, w) >= 256 else 0.3
    for ann in anns:
        colour = PALETTE[(ann["category_id"] - 1) % len(PALETTE)].tolist()
        x, y, bw, bh = (round(v) for v in ann["bbox"])
        cv2.rectangle(out, (x, y), (x + bw - 1, y + bh - 1), colour, 1)
        label = _name(class_names, ann["category_id"])
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font, 1)
        ty = y - 2 if y - th - base - 2 >= 0 else y + th + 2
        cv2.rectangle(out, (x, ty - th - 1), (x + tw + 2, ty + base - 1), colour, -1)
        cv2.putText(
            out, label, (x + 1, ty - 1), cv2.FONT_HERSHEY_SIMPLEX, font, (0, 0, 0), 1, cv2.LINE_AA
        )
    return out


def tile(images: Sequence[np.ndarray], cols: int = 2, gap: int = 4) -> np.ndarray:
    """Images in a grid (rows of ``cols``), each cell the size of the largest, on white."""
    ch = max(im.shape[0] for im in images)
    cw = max(im.shape[1] for im in images)
    rows = (len(images) + cols - 1) // cols
    grid = np.full((rows * ch + (rows - 1) * gap, cols * cw + (cols - 1) * gap, 3), 255, np.uint8)
    for k, im in enumerate(images):
        y, x = (k // cols) * (ch + gap), (k % cols) * (cw + gap)
        grid[y : y + im.shape[0], x : x + im.shape[1]] = im
    return grid


def write_preview(
    ann_file: str | Path, img_dir: str | Path, out_path: str | Path, n: int = 4, cols: int = 2
) -> Path:
    """Draw the first ``n`` images of a COCO file with their annotations into one JPEG grid."""
    data = json.loads(Path(ann_file).read_text())
    names = {c["id"]: c["name"] for c in data["categories"]}
    by_image: dict[int, list[dict]] = {}
    for ann in data["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    cells = []
    for im in data["images"][:n]:
        image = cv2.imread(str(Path(img_dir) / im["file_name"]), cv2.IMREAD_COLOR)
        if image is not None:
            cells.append(draw_annotations(image, by_image.get(im["id"], []), names))
    if not cells:
        cells = [np.full((64, 64, 3), 255, np.uint8)]
    _, buf = cv2.imencode(
        ".jpg", tile(cells, cols=min(cols, len(cells))), [cv2.IMWRITE_JPEG_QUALITY, 90]
    )
    return write_bytes_atomic(out_path, buf.tobytes())
