"""COCO annotation files: layout checks before training, and small subsets for overfit runs."""

from __future__ import annotations

import json
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from vitdet_cli.atomic import write_json_atomic
from vitdet_cli.data.validate import CocoValidation, validate_coco, without_bad_annotations
from vitdet_cli.errors import VitdetError
from vitdet_cli.io_checks import prepare_out_file

PathLike = str | Path
REQUIRED_KEYS = ("images", "annotations", "categories")
SAMPLE_SIZE = 200  # images looked up on disk when check_images="sample"


@dataclass
class CocoSummary:
    """What an annotation file holds, and how many of its images were found on disk."""

    ann_file: str
    img_dir: str
    images: int
    annotations: int
    categories: int
    class_names: list[str]
    instances_per_class: dict[str, int]
    images_without_annotations: int
    crowd_annotations: int
    checked_images: int
    missing_images: int
    missing_examples: list[str] = field(default_factory=list)
    dropped_annotations: int = 0
    problems: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CocoSubset:
    """A subset written by :func:`subset_coco`."""

    out_file: str
    source: str
    images: int
    annotations: int
    image_ids: list[int]

    def to_dict(self) -> dict:
        return asdict(self)


def _error(message: str, hint: str, code: str) -> VitdetError:
    return VitdetError(message, hint=hint, code=code)


def load_coco_json(ann_file: PathLike) -> dict:
    """Read a COCO annotation file; VitdetError (naming the file) if absent, not JSON or
    lacking ``images``/``annotations``/``categories``."""
    path = Path(ann_file)
    if not path.is_file():
        raise _error(
            f"annotation file not found: {path}",
            "Check the path (for COCO: annotations/instances_train2017.json), or make "
            "a synthetic dataset with `vitdet data synth`.",
            "data_ann_missing",
        )
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as err:
        where = f"line {err.lineno}, column {err.colno}"
        raise _error(
            f"{path} is not valid JSON: {err.msg} at {where}",
            "The file may be truncated; download or regenerate it.",
            "data_ann_invalid_json",
        ) from None
    except UnicodeDecodeError:
        raise _error(
            f"{path} is not valid JSON (not UTF-8 text)",
            "Pass the COCO instances_*.json file, not an image or archive.",
            "data_ann_invalid_json",
        ) from None
    if not isinstance(data, dict):
        raise _error(
            f"{path} holds a JSON {type(data).__name__}, not a COCO object",
            "A COCO file is an object with images, annotations and categories.",
            "data_ann_missing_keys",
        )
    missing = [k for k in REQUIRED_KEYS if not isinstance(data.get(k), list)]
    if missing:
        raise _error(
            f"{path} lacks the list(s) {', '.join(missing)}",
            "A COCO instances file needs 'images', 'annotations' and 'categories' "
            "(a results file or a panoptic file will not do).",
            "data_ann_missing_keys",
        )
    return data


def validated(
    data: dict, path: Path, allow_drop: bool = False, for_eval: bool = False
) -> CocoValidation:
    """:func:`~vitdet_cli.data.validate.validate_coco`, raising its table of problems unless
    the file is clean (``allow_drop``: unless only single annotations are bad; ``for_eval``:
    unless only problems evaluation takes in its stride)."""
    report = validate_coco(data, path)
    report.require(allow_drop, for_eval)
    return report


def _to_check(images: list[dict], mode: bool | str) -> list[dict]:
    if mode is False or mode is None:
        return []
    if mode == "sample" and len(images) > SAMPLE_SIZE:
        idx = np.linspace(0, len(images) - 1, SAMPLE_SIZE).round().astype(int)
        return [images[i] for i in idx]
    if mode not in (True, "sample", "all"):
        raise ValueError(f"check_images must be True, False or 'sample', got {mode!r}")
    return images


def check_coco_layout(
    ann_file: PathLike,
    img_dir: PathLike,
    check_images: bool | Literal["sample", "all"] = True,
    strict: bool = True,
    allow_drop: bool = False,
) -> CocoSummary:
    """Validate a COCO annotation file against its image folder and summarise it.

    ``check_images``: look every image up on disk (True), a spread of ``SAMPLE_SIZE``
    ("sample") or none (False). Missing images raise unless ``strict`` is False, in which case
    they are only counted in the summary. Bad fields raise a table of problems; with
    ``allow_drop``, bad single annotations are only counted (``dropped_annotations``).
    """
    path, folder = Path(ann_file), Path(img_dir)
    data = load_coco_json(path)
    if not data["categories"]:
        raise _error(
            f"{path} has no categories",
            "A detection dataset needs at least one class in 'categories'.",
            "data_no_categories",
        )
    report = validated(data, path, allow_drop)
    data = without_bad_annotations(data, report)
    if not folder.is_dir():
        raise _error(
            f"image folder not found: {folder} (for {path})",
            "Pass the folder that the file_name entries are relative to "
            "(for COCO: train2017/ or val2017/).",
            "data_img_dir_missing",
        )
    checked = _to_check(data["images"], check_images)
    missing = [im["file_name"] for im in checked if not (folder / im["file_name"]).is_file()]
    if missing and strict:
        raise _error(
            f"{len(missing)} of {len(checked)} images listed in {path} are missing "
            f"from {folder}: {', '.join(map(str, missing[:5]))}"
            + (", ..." if len(missing) > 5 else ""),
            "Check that the image folder matches the annotation file (train vs val), "
            "or that the download finished.",
            "data_images_missing",
        )
    names = {c["id"]: str(c.get("name", c["id"])) for c in data["categories"]}
    per_class = Counter(names[a["category_id"]] for a in data["annotations"])
    annotated = {a["image_id"] for a in data["annotations"]}
    return CocoSummary(
        ann_file=str(path),
        img_dir=str(folder),
        images=len(data["images"]),
        annotations=len(data["annotations"]),
        categories=len(data["categories"]),
        class_names=list(names.values()),
        instances_per_class={n: per_class.get(n, 0) for n in names.values()},
        images_without_annotations=sum(im["id"] not in annotated for im in data["images"]),
        crowd_annotations=sum(bool(a.get("iscrowd", 0)) for a in data["annotations"]),
        checked_images=len(checked),
        missing_images=len(missing),
        missing_examples=[str(m) for m in missing[:5]],
        dropped_annotations=len(report.bad_annotations),
        problems=report.to_dict(),
    )


def subset_coco(ann_file: PathLike, n: int, out_file: PathLike, seed: int = 0) -> CocoSubset:
    """Write a COCO file with ``n`` images picked deterministically by ``seed``.

    Only images with at least one annotation are candidates (an overfit run needs objects);
    their annotations and all categories are kept, images stay in the source order.
    """
    path = Path(ann_file)

    prepare_out_file(out_file, "--out", inputs=[path])
    data = load_coco_json(path)
    validated(data, path, allow_drop=True)
    annotated = {a["image_id"] for a in data["annotations"]}
    candidates = sorted(
        (im for im in data["images"] if im["id"] in annotated), key=lambda im: im["id"]
    )
    if n < 1 or n > len(candidates):
        raise VitdetError(
            f"cannot pick {n} images from {path}: it has {len(candidates)} annotated images",
            hint=f"Choose --n between 1 and {len(candidates)}.",
            code="data_bad_subset",
            exit_code=2,
        )
    rng = np.random.default_rng(seed)
    picked = {candidates[i]["id"] for i in rng.choice(len(candidates), size=n, replace=False)}
    out = {k: v for k, v in data.items() if k not in REQUIRED_KEYS}
    out["images"] = [im for im in data["images"] if im["id"] in picked]
    out["annotations"] = [a for a in data["annotations"] if a["image_id"] in picked]
    out["categories"] = data["categories"]
    write_json_atomic(out_file, out)
    return CocoSubset(
        out_file=str(out_file),
        source=str(path),
        images=len(out["images"]),
        annotations=len(out["annotations"]),
        image_ids=[im["id"] for im in out["images"]],
    )


def segmentation_to_mask(segm: list | dict, height: int, width: int) -> np.ndarray:
    """Decode a COCO segmentation (polygons, RLE or uncompressed RLE) to a 0/1 uint8 mask."""
    from pycocotools import mask as mask_utils

    if isinstance(segm, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segm, height, width))
    elif isinstance(segm.get("counts"), list):
        rle = mask_utils.frPyObjects(segm, height, width)
    else:
        counts = segm["counts"]
        rle = {
            "size": segm["size"],
            "counts": counts.encode() if isinstance(counts, str) else counts,
        }
    with warnings.catch_warnings():  # pycocotools 2.0.x vs numpy 2: harmless __array__ notice
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_utils.decode(rle)
