"""Pictures of detections (masks, boxes, labels) and side-by-side comparisons; numpy + cv2 only.

Colours and the box/label style are those of :mod:`vitdet_cli.data.preview`, so a dataset
preview and a prediction of the same class look alike (class index ``i`` ↔ category id ``i+1``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from vitdet_cli.atomic import write_bytes_atomic
from vitdet_cli.data.preview import class_colour, draw_box_label, draw_outline, font_scale, tile
from vitdet_cli.errors import VitdetError
from vitdet_cli.io_checks import fit_name

_ENCODE = {
    ".jpg": (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90]),
    ".jpeg": (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90]),
    ".png": (".png", [cv2.IMWRITE_PNG_COMPRESSION, 3]),
}


class CropMasks(Protocol):
    """Masks as crops (the runtime's ``MaskCrops``): mask i is ``crops[i]`` (bool) at
    ``spans[i]`` = [x0, y0, x1, y1]."""

    spans: np.ndarray
    crops: list[np.ndarray]


def _bgr(image: np.ndarray) -> np.ndarray:
    """A uint8 BGR copy of a BGR or grey image."""
    return image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)


def _tint(region: np.ndarray, crop: np.ndarray, colour: np.ndarray, alpha: float) -> None:
    """Blend ``colour`` into the pixels of ``region`` (a view) where ``crop`` is on, in place."""
    px = region[crop].astype(np.float32)
    region[crop] = (px * (1 - alpha) + colour * alpha + 0.5).astype(np.uint8)


def _class_name(class_names: Sequence[str], label: int) -> str:
    return class_names[label] if 0 <= label < len(class_names) else str(label)


def draw_detections(
    image_bgr: np.ndarray,
    boxes: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    masks: CropMasks | None,
    class_names: Sequence[str],
    score_thr: float = 0.0,
    alpha: float = 0.5,
) -> np.ndarray:
    """A copy of ``image_bgr`` with detections drawn: masks tinted in their class colour and
    outlined, boxes, and a "name 0.87" label on a filled tab.

    ``boxes`` (K, 4) are [x0, y0, x1, y1] in image pixels, ``labels`` 0-based class indices into
    ``class_names``; only detections with ``score >= score_thr`` are drawn, the best last (on
    top). Masks are blended crop by crop, so no (K, H, W) array is made.
    """
    out = _bgr(image_bgr)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    keep = np.flatnonzero((scores >= score_thr) & np.isfinite(boxes).all(axis=1))
    order = keep[np.argsort(scores[keep], kind="stable")]
    if masks is not None:
        spans = masks.spans.tolist()
        for i in order:
            x0, y0, x1, y1 = spans[i]
            _tint(out[y0:y1, x0:x1], masks.crops[i], class_colour(labels[i]), alpha)
        for i in order:
            if masks.crops[i].any():
                draw_outline(out, masks.crops[i], class_colour(labels[i]), tuple(spans[i][:2]))
    font = font_scale(*out.shape[:2])
    for i in order:
        x0, y0, x1, y1 = (int(round(v)) for v in boxes[i])
        text = f"{_class_name(class_names, int(labels[i]))} {scores[i]:.2f}"
        draw_box_label(
            out, x0, y0, max(x1 - 1, x0), max(y1 - 1, y0), text, class_colour(labels[i]), font
        )
    return out


def _titled(image: np.ndarray, title: str) -> np.ndarray:
    """``image`` (BGR) under a white strip holding ``title`` in black."""
    scale = max(font_scale(*image.shape[:2]), 0.5)
    (_, th), base = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    strip = np.full((th + base + 8, image.shape[1], 3), 255, np.uint8)
    cv2.putText(
        strip, title, (4, th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA
    )
    return np.vstack([strip, image])


def side_by_side(
    a: np.ndarray,
    b: np.ndarray,
    titles: tuple[str, str] | None = ("onnxruntime", "torch"),
    gap: int = 8,
) -> np.ndarray:
    """Two pictures next to each other on white, each under its title (none if ``titles`` is
    None), e.g. the same image's detections from two backends."""
    a, b = _bgr(a), _bgr(b)
    if titles is not None:
        a, b = _titled(a, titles[0]), _titled(b, titles[1])
    return tile([a, b], cols=2, gap=gap)


def save_picture(path: str | Path, image_bgr: np.ndarray) -> Path:
    """Encode ``image_bgr`` as JPEG or PNG (from the suffix) and write it atomically."""
    path = Path(path)
    ext, params = _ENCODE.get(path.suffix.lower(), (None, None))
    if ext is None:
        raise VitdetError(
            f"cannot save a picture as {path.name!r}",
            hint="Use a .jpg, .jpeg or .png file name.",
            code="bad_picture_path",
            exit_code=2,
        )
    ok, buf = cv2.imencode(ext, image_bgr, params)
    if not ok:
        raise VitdetError(f"could not encode a picture for {path}", code="picture_encode_failed")
    return write_bytes_atomic(path, buf.tobytes())


def picture_names(images: Sequence[Path], suffix: str = ".jpg", limit: int = 255) -> list[str]:
    """One distinct picture file name per input image, in order: ``<stem>.jpg``, then
    ``<stem>_<ext>.jpg`` and ``<stem>_<ext>_<n>.jpg`` when stems clash (``a.jpg`` and ``a.png``);
    long names are shortened to fit the file system's ``limit``."""
    used: set[str] = set()
    names = []
    for path in images:
        path = Path(path)
        ext = path.suffix.lstrip(".").lower()
        candidates = [path.stem, f"{path.stem}_{ext}"]
        candidates += (f"{path.stem}_{ext}_{n}" for n in range(2, len(images) + 2))
        for stem in candidates:
            tail = stem[len(path.stem) :] + suffix
            name = fit_name(path.stem, tail, limit)
            if name.lower() not in used:
                break
        used.add(name.lower())
        names.append(name)
    return names
