"""Which images to time when the user names none."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from vitdet_cli.evaluation.datasets import SYNTH_ROOT
from vitdet_cli.runtime.images import list_images

DEFAULT_COUNT = 4


def bench_images(
    img: Optional[Path],
    dataset: Optional[Sequence[Path]],
    img_size: int,
    tmp_dir: Path,
    count: int = DEFAULT_COUNT,
) -> tuple[list[Path], str]:
    """(images, where they came from): ``img`` (file or folder); else the first ``count`` of
    ``dataset``; else of the synthetic val split; else one rendered sample in ``tmp_dir``."""
    if img is not None:
        return list_images(img), str(img)
    if dataset:
        return list(dataset[:count]), f"the first {min(count, len(dataset))} images of --data"
    val = SYNTH_ROOT / "val"
    if val.is_dir():
        found = list_images(val)[:count]
        return found, f"the first {len(found)} images of {val}"
    import cv2

    from vitdet_cli.export.api import sample_image

    path = Path(tmp_dir) / "sample.jpg"
    cv2.imwrite(str(path), sample_image(None, img_size))
    return [path], f"a rendered synthetic sample ({path})"
