"""Which images a command runs on, and which COCO annotation file scores them.

One rule for every command (compare, eval, bench, demo; infer takes ``--img`` only):

1. ``--data ANN --images DIR``: the images ANN lists, looked up by file name in DIR.
2. ``--data ANN`` alone: DIR is guessed as ``<root>/<split>`` for
   ``<root>/annotations/instances_<split>.json`` (the COCO and synthetic layout); when that is
   not a folder, ``<root>/val`` (what ``compare`` always guessed).
3. ``--img PATH``: that image, or every image in folder PATH (sorted, not recursive); nothing
   to score with.
4. nothing: where the command allows it, the built-in synthetic shapes set's val split under
   :data:`BUILTIN_ROOT`, generated there on first use.

``--limit N`` keeps the first N images of any of them. Every image is checked as a file
(:mod:`.images`) before anything is decoded; every bad input is one ``VitdetError`` naming the
option and the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Optional, Sequence

from vitdet_cli.data.coco import load_coco_json, validated
from vitdet_cli.data.images import check_image_file, list_images
from vitdet_cli.data.synth import (
    CLASS_NAMES,
    VAL_ANN,
    VAL_IMG,
    ensure_synthetic_dataset,
    load_synthetic_dataset,
)
from vitdet_cli.errors import VitdetError

BUILTIN_ROOT = Path("data/synthetic_shapes")
"""Where the built-in synthetic shapes set lives (relative to the working directory): the
``data.root`` of the shipped demo config (a test keeps the two equal)."""

Source = Literal["annotations", "folder", "builtin"]


@dataclass(frozen=True)
class Dataset:
    """Images to run on and where they came from: ``annotations`` (``--data``, images in
    ``image_dir``), ``folder`` (``--img``: a file or a folder, ``ann_file`` None) or ``builtin``
    (the synthetic val split; ``generated``: written by this call)."""

    images: tuple[Path, ...]
    image_dir: Path
    ann_file: Optional[Path]
    source: Source
    generated: bool = False

    def describe(self) -> str:
        """Where the images came from, for a console line."""
        n = len(self.images)
        if self.source == "folder":
            return f"{n} image(s) from {self.image_dir}"
        what = f"{n} image(s) of {self.ann_file} in {self.image_dir}"
        if self.source == "builtin":
            made = "generated now" if self.generated else "found"
            return f"the built-in synthetic shapes val split ({made}): {what}"
        return what


def check_limit(limit: Optional[int]) -> None:
    """``--limit`` is None or at least 1."""
    if limit is not None and limit < 1:
        raise VitdetError(
            f"--limit {limit}: must be at least 1",
            hint="drop --limit to use every image",
            code="bad_usage",
            exit_code=2,
        )


def guess_image_dir(ann_file: Path) -> Path:
    """The image folder of ``ann_file`` when ``--images`` is not given (rule 2 above)."""
    root = Path(ann_file).parent.parent
    split = Path(ann_file).stem.removeprefix("instances_")
    for guess in dict.fromkeys((root / split, root / VAL_IMG)):
        if guess.is_dir():
            return guess
    raise VitdetError(
        f"no --images given and neither {root / split} nor {root / VAL_IMG} (guessed from "
        f"--data {ann_file}) is a folder",
        hint="pass --images DIR, the folder holding the annotation file's images",
        code="images_missing",
        exit_code=2,
    )


def dataset_images(ann_file: Path, image_dir: Path, limit: Optional[int] = None) -> list[Path]:
    """The first ``limit`` images ``ann_file`` lists, found by file name in ``image_dir``; the
    file is validated for evaluation and each image checked (regular file, pixel limit)."""
    check_limit(limit)
    data = load_coco_json(ann_file)
    validated(data, Path(ann_file), for_eval=True)
    if not Path(image_dir).is_dir():
        raise VitdetError(
            f"--images {image_dir} is not a folder (the images of {ann_file})",
            hint="pass --images the folder holding the annotation file's images",
            code="images_missing",
            exit_code=2,
        )
    paths = [Path(image_dir) / Path(im["file_name"]).name for im in data["images"]][:limit]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise VitdetError(
            f"{len(missing)} image(s) listed in {ann_file} are not in {image_dir}, "
            f"e.g. {missing[0].name}",
            hint="pass --images the folder holding the annotation file's images",
            code="images_missing",
            exit_code=2,
        )
    for path in paths:
        check_image_file(path)
    return paths


def from_annotations(
    ann_file: Path, image_dir: Optional[Path] = None, limit: Optional[int] = None
) -> Dataset:
    """Rules 1 and 2: a COCO annotation file and its image folder (guessed when None)."""
    ann_file = Path(ann_file)
    folder = Path(image_dir) if image_dir is not None else guess_image_dir(ann_file)
    images = dataset_images(ann_file, folder, limit)
    return Dataset(tuple(images), folder, ann_file, "annotations")


def from_folder(path: Path, limit: Optional[int] = None) -> Dataset:
    """Rule 3: one image file, or the images in a folder."""
    check_limit(limit)
    path = Path(path)
    images = list_images(path)[:limit]
    return Dataset(tuple(images), path if path.is_dir() else path.parent, None, "folder")


def builtin_dataset(
    root: Optional[Path] = None,
    generate: bool = True,
    limit: Optional[int] = None,
    on_generate: Optional[Callable[[Path], None]] = None,
) -> Optional[Dataset]:
    """Rule 4: the val split of the synthetic set at ``root`` (default :data:`BUILTIN_ROOT`).

    A complete set there is used whatever its parameters; none there is generated with the
    defaults (those of the shipped demo config, so training finds it as its own) when
    ``generate``, after ``on_generate(root)``, else the answer is None.
    """
    root = Path(root if root is not None else BUILTIN_ROOT)
    found = load_synthetic_dataset(root)
    if found is None and not generate:
        return None
    if found is None:
        if on_generate:
            on_generate(root)
        found = ensure_synthetic_dataset(root)
    images = dataset_images(found.val_ann, found.val_img, limit)
    return Dataset(tuple(images), found.val_img, found.val_ann, "builtin", found.generated)


def resolve_dataset(
    data: Optional[Path] = None,
    images: Optional[Path] = None,
    *,
    img: Optional[Path] = None,
    limit: Optional[int] = None,
    takes_img: bool = False,
    builtin_for: Optional[Sequence[str]] = None,
    root: Optional[Path] = None,
    on_generate: Optional[Callable[[Path], None]] = None,
) -> Dataset:
    """The images of a command's ``--data``/``--images``/``--img``/``--limit`` (module rules).

    ``takes_img``: the command has ``--img`` (named in the errors). ``builtin_for``: the class
    names of the model; with nothing given, the built-in set is used when they are the
    synthetic shapes (``root``, ``on_generate``: see :func:`builtin_dataset`). Anything else
    given nothing, or a bad combination, is a usage error.
    """
    check_limit(limit)
    wanted = "--img PATH or --data ANN_JSON" if takes_img else "--data ANN_JSON"
    if data is not None and img is not None:
        raise VitdetError(
            "give --img or --data, not both",
            hint="--img runs on images without annotations, --data on a COCO dataset (with mAP)",
            code="bad_usage",
            exit_code=2,
        )
    if images is not None and data is None:
        raise VitdetError(
            f"--images {images} needs --data: it is the folder of the annotation file's images",
            hint="add --data ANN_JSON, the COCO file listing those images"
            + (", or pass a folder without annotations as --img DIR" if takes_img else ""),
            code="bad_usage",
            exit_code=2,
        )
    if data is not None:
        return from_annotations(data, images, limit)
    if img is not None:
        return from_folder(img, limit)
    if builtin_for is not None and tuple(builtin_for) == CLASS_NAMES:
        found = builtin_dataset(root, True, limit, on_generate)
        assert found is not None  # generate=True always answers a dataset
        return found
    root = Path(root if root is not None else BUILTIN_ROOT)
    if builtin_for is not None:
        message = (
            f"no {wanted} given, and the built-in synthetic shapes set does not fit a model "
            f"of {len(builtin_for)} other classes"
        )
        hint = "pass --data ANN_JSON (and --images DIR), a COCO dataset of the model's classes"
    else:
        message = f"no images given: pass {wanted}"
        hint = (
            f"for the built-in synthetic shapes set: --data {root / VAL_ANN} "
            f"(`vitdet data synth --out {root}` makes it)"
        )
    raise VitdetError(
        message, hint=hint, code="no_input" if takes_img else "no_dataset", exit_code=2
    )
