"""Reading input images: decoded once, after :mod:`vitdet_cli.data.images` checked the file.

The file checks (regular file, header size within ``--max-pixels``) and folder listing live in
``data/images.py``; the names the runtime and ``--max-pixels`` use are re-exported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from vitdet_cli.data.images import (  # noqa: F401  (re-exported)
    ENV_VAR,
    FORMATS_HINT,
    LIMIT,
    check_image_file,
    image_error,
    list_images,
    set_max_pixels,
)
from vitdet_cli.errors import VitdetError


def read_image(path: str | Path, max_pixels: Optional[int] = None) -> np.ndarray:
    """A BGR uint8 image; the file is checked first and decoding errors name it."""
    check_image_file(path, max_pixels)
    try:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    except cv2.error as err:
        why = f"OpenCV cannot decode it ({_cv2_reason(err)})"
        raise image_error(path, why, FORMATS_HINT) from None
    if img is None:
        raise VitdetError(
            f"cannot read image {path}",
            hint="the file is not an image OpenCV can decode (truncated or another format)",
            code="bad_image",
        )
    return img


def _cv2_reason(err: Exception) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return (lines[-1] if lines else type(err).__name__)[:200]
