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


def class_colour(index: int) -> np.ndarray:
    """BGR colour (float32, 3) of a 0-based class index: stable, cycling through PALETTE."""
    return PALETTE[int(index) % len(PALETTE)]


def font_scale(h: int, w: int) -> float:
    """Label font scale for an image of ``h`` × ``w`` pixels."""
    return 0.4 if min(h, w) >= 256 else 0.3


def draw_outline(
    out: np.ndarray, mask: np.ndarray, colour: np.ndarray, offset: tuple[int, int] = (0, 0)
) -> None:
    """Draw the contours of a bool ``mask`` on ``out`` in place; ``offset`` (x, y) places a crop."""
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE, offset=offset
    )
    cv2.drawContours(out, contours, -1, colour.tolist(), 1)


def draw_box_label(
    out: np.ndarray, x0: int, y0: int, x1: int, y1: int, label: str, colour: np.ndarray, font: float
) -> None:
    """Draw the box with inclusive pixel corners and ``label`` on a filled tab above it (below
    the top edge when there is no room above), in place."""
    c = colour.tolist()
    cv2.rectangle(out, (x0, y0), (x1, y1), c, 1)
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font, 1)
    ty = y0 - 2 if y0 - th - base - 2 >= 0 else y0 + th + 2
    cv2.rectangle(out, (x0, ty - th - 1), (x0 + tw + 2, ty + base - 1), c, -1)
    cv2.putText(
        out, label, (x0 + 1, ty - 1), cv2.FONT_HERSHEY_SIMPLEX, font, (0, 0, 0), 1, cv2.LINE_AA
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
        colour = class_colour(ann["category_id"] - 1)
        if ann.get("segmentation"):
            m = segmentation_to_mask(ann["segmentation"], h, w).astype(bool)
            canvas[m] = canvas[m] * (1 - alpha) + colour * alpha
            outlines.append((m, colour))
    out = np.clip(canvas, 0, 255).astype(np.uint8)
    for m, colour in outlines:
        draw_outline(out, m, colour)
    font = font_scale(h, w)
    for ann in anns:
        x, y, bw, bh = (round(v) for v in ann["bbox"])
        label = _name(class_names, ann["category_id"])
        draw_box_label(
            out, x, y, x + bw - 1, y + bh - 1, label, class_colour(ann["category_id"] - 1), font
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
