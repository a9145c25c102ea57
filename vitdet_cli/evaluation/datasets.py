"""Which annotation file and image folder to evaluate on, with the synthetic demo as default."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from vitdet_cli.data.synth import CLASS_NAMES, VAL_ANN, VAL_IMG
from vitdet_cli.errors import VitdetError

SYNTH_ROOT = Path("data/synthetic_shapes")
"""Where ``vitdet data synth`` and the tiny demo config put the shapes dataset."""


def default_dataset(
    class_names: Sequence[str], root: Path = SYNTH_ROOT
) -> Optional[tuple[Path, Path]]:
    """(val annotation file, val image folder) of the synthetic shapes dataset when the model
    predicts exactly its classes and the dataset exists under ``root``; else None."""
    ann, images = root / VAL_ANN, root / VAL_IMG
    if tuple(class_names) == CLASS_NAMES and ann.is_file() and images.is_dir():
        return ann, images
    return None


def guess_image_dir(ann_file: Path) -> Path:
    """``<root>/<split>`` for ``<root>/annotations/instances_<split>.json`` (COCO layout)."""
    split = ann_file.stem.removeprefix("instances_")
    guess = ann_file.parent.parent / split
    if not guess.is_dir():
        raise VitdetError(
            f"no --images given and {guess} (guessed from {ann_file.name}) is not a folder",
            hint="pass --images DIR, the folder holding the annotation file's images",
            code="images_missing",
            exit_code=2,
        )
    return guess


def resolve_dataset(
    ann_file: Optional[Path],
    image_dir: Optional[Path],
    class_names: Optional[Sequence[str]] = None,
) -> tuple[Path, Path, bool]:
    """(annotation file, image folder, used the default) from what the user gave."""
    if ann_file is not None:
        return ann_file, image_dir or guess_image_dir(ann_file), False
    found = default_dataset(class_names) if class_names is not None else None
    if image_dir is None and found is not None:
        return found[0], found[1], True
    raise VitdetError(
        "no dataset to evaluate on: give --data ANN_JSON (and --images DIR)",
        hint=f"for the synthetic shapes demo, `vitdet data synth` writes {SYNTH_ROOT}",
        code="no_dataset",
        exit_code=2,
    )
