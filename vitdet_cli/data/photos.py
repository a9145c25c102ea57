"""Ordinary photographs available offline, for parity checks beyond the synthetic shapes.

Matplotlib (a dependency) ships two real photographs in its sample data; they are copied out
at several sizes so the resize and padding paths are exercised too.
"""

from __future__ import annotations

from pathlib import Path

import cv2

from vitdet_cli.errors import VitdetError

PHOTOS = ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png")
SCALES = (1.0, 0.6, 1.7)


def sample_photo_paths() -> list[Path]:
    """Paths of matplotlib's bundled photographs."""
    import matplotlib

    root = Path(matplotlib.get_data_path()) / "sample_data"
    found = [root / name for name in PHOTOS if (root / name).is_file()]
    if not found:
        raise VitdetError(
            f"no sample photographs in {root}", hint="reinstall matplotlib", code="no_photos"
        )
    return found


def write_photo_set(out: str | Path, scales=SCALES) -> list[Path]:
    """Each photograph at each scale as JPEG under ``out``; returns the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for src in sample_photo_paths():
        img = cv2.imread(str(src), cv2.IMREAD_COLOR)
        for s in scales:
            resized = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
            path = out / f"{src.stem}_x{s:g}.jpg"
            cv2.imwrite(str(path), resized)
            paths.append(path)
    return paths
