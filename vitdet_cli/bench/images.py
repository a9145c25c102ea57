"""Which images to time when the user names none."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import cv2

from vitdet_cli.data.resolve import builtin_dataset, from_folder
from vitdet_cli.data.synth import sample_image

DEFAULT_COUNT = 4


def bench_images(
    img: Optional[Path],
    dataset: Optional[Sequence[Path]],
    img_size: int,
    tmp_dir: Path,
    count: int = DEFAULT_COUNT,
    root: Optional[Path] = None,
) -> tuple[list[Path], str]:
    """(images, where they came from): ``img`` (file or folder); else the first ``count`` of
    ``dataset``; else of the built-in synthetic val split when it exists (``root``: see
    :func:`~vitdet_cli.data.resolve.builtin_dataset`); else one rendered sample in ``tmp_dir``."""
    if img is not None:
        return list(from_folder(img).images), str(img)
    if dataset:
        return list(dataset[:count]), f"the first {min(count, len(dataset))} images of --data"
    builtin = builtin_dataset(root, generate=False, limit=count)
    if builtin is not None:
        found = list(builtin.images)
        return found, f"the first {len(found)} images of {builtin.image_dir}"
    path = Path(tmp_dir) / "sample.jpg"
    cv2.imwrite(str(path), sample_image(img_size))
    return [path], f"a rendered synthetic sample ({path})"
