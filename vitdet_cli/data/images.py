"""Image files on disk: one file or every picture in a folder, checked before any decode.

Every image is checked before any is decoded: it must be a regular file (a FIFO would block the
read) whose header declares at most ``max_pixels`` pixels, so a small file that decodes to
gigabytes is refused in microseconds.
"""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path
from typing import Optional

from vitdet_cli.errors import VitdetError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_MAX_PIXELS = 100_000_000
"""Largest image (width × height) decoded unless ``--max-pixels`` says otherwise."""


ENV_VAR = "VITDET_MAX_PIXELS"
"""Carries ``--max-pixels`` to worker processes (``bench`` runs each backend in a fresh one)."""


def _from_env() -> int:
    text = os.environ.get(ENV_VAR, "")
    return int(text) if text.isdigit() and int(text) > 0 else DEFAULT_MAX_PIXELS


class _Limit:
    max_pixels: int = _from_env()


LIMIT = _Limit()
"""The process-wide pixel limit, set by commands from ``--max-pixels``."""


def set_max_pixels(value: Optional[int]) -> None:
    """Use ``value`` (None: the default) as the pixel limit of every later image check, in this
    process and in the workers it starts."""
    if value is not None and value < 1:
        raise VitdetError(
            f"--max-pixels {value}: must be at least 1", code="bad_usage", exit_code=2
        )
    LIMIT.max_pixels = DEFAULT_MAX_PIXELS if value is None else int(value)
    os.environ[ENV_VAR] = str(LIMIT.max_pixels)


def image_error(path: Path, what: str, hint: str, code: str = "bad_image", exit_code: int = 1):
    """The error of an unusable image: ``cannot read image PATH: what``."""
    return VitdetError(
        f"cannot read image {path}: {what}", hint=hint, code=code, exit_code=exit_code
    )


def header_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from the file's header, without decoding the pixels."""
    # deferred: loads PIL
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # we check ourselves
            try:
                with Image.open(path) as im:
                    return int(im.size[0]), int(im.size[1])
            finally:
                Image.MAX_IMAGE_PIXELS = limit
    except UnidentifiedImageError:
        raise image_error(path, "not an image format we can read", FORMATS_HINT) from None
    except OSError as err:
        raise image_error(
            path, f"its header is unreadable ({err.strerror or err})", FORMATS_HINT
        ) from None
    except Exception as err:  # PIL's parsers raise many types for a crafted header
        raise image_error(path, f"damaged header ({type(err).__name__})", FORMATS_HINT) from None


FORMATS_HINT = f"pass a {', '.join(IMAGE_SUFFIXES)} image that is complete and undamaged"


def check_image_file(path: str | Path, max_pixels: Optional[int] = None) -> tuple[int, int]:
    """(width, height) of a regular image file within the pixel limit, else a clear error."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise image_error(path, "not found", "check the path", "image_missing", 2) from None
    except OSError as err:
        raise image_error(path, f"{err.strerror}", "check the path") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a pipe or device?)"
        raise image_error(path, f"it is {kind}", "pass image files", "image_not_file", 2)
    w, h = header_size(path)
    limit = LIMIT.max_pixels if max_pixels is None else max_pixels
    if w < 1 or h < 1:
        raise image_error(path, f"it declares an empty size {w}x{h}", FORMATS_HINT)
    if w * h > limit:
        raise image_error(
            path,
            f"it is {w}x{h} = {w * h:,} pixels, over the limit of {limit:,}",
            "downscale it, or raise the limit with --max-pixels if you have the memory",
            "image_too_large",
        )
    return w, h


def list_images(path: str | Path, max_pixels: Optional[int] = None) -> list[Path]:
    """``path`` itself, or the images in folder ``path`` (sorted, not recursive), each checked
    by :func:`check_image_file` before anything is decoded."""
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
    elif not p.exists():
        raise VitdetError(f"image {p} not found", code="image_missing", exit_code=2)
    else:
        found = [p]
    for f in found:
        check_image_file(f, max_pixels)
    return found
