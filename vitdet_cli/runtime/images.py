"""Reading input images: one file or every picture in a folder, with clear errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vitdet_cli.errors import VitdetError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def list_images(path: str | Path) -> list[Path]:
    """``path`` itself, or the images in folder ``path`` (sorted, not recursive)."""
    p = Path(path)
    if p.is_dir():
        found = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise VitdetError(
                f"no images in {p}",
                hint=f"expected files ending in {', '.join(IMAGE_SUFFIXES)}",
                code="no_images",
                exit_code=2,
            )
        return found
    if not p.exists():
        raise VitdetError(f"image {p} not found", code="image_missing", exit_code=2)
    return [p]


def read_image(path: str | Path) -> np.ndarray:
    """A BGR uint8 image; a clear error for a file OpenCV cannot decode."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise VitdetError(
            f"cannot read image {path}",
            hint="the file is not an image OpenCV can decode (truncated or another format)",
            code="bad_image",
        )
    return img
