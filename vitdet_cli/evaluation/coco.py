"""Detections of a list of dataset images → COCO results → pycocotools mAP."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from vitdet_cli.data.coco import PathLike, load_coco_json
from vitdet_cli.errors import VitdetError
from vitdet_cli.evaluation.cocoeval import coco_evaluate
from vitdet_cli.runtime.detections import Detections
from vitdet_cli.runtime.results_json import coco_entries

TASKS = ("bbox", "segm")


def coco_metrics(
    ann_file: PathLike,
    images: Sequence[Path],
    dets: Sequence[Detections],
    iou_types: Sequence[str] = TASKS,
) -> dict:
    """:func:`~vitdet_cli.evaluation.cocoeval.coco_evaluate` of ``dets`` (one per image, label
    ``i`` = the ``i``-th category by id) over exactly ``images`` (matched by file name)."""
    data = load_coco_json(ann_file)
    ids = {Path(im["file_name"]).name: im["id"] for im in data["images"]}
    unknown = [p.name for p in images if p.name not in ids]
    if unknown:
        raise VitdetError(
            f"{len(unknown)} image(s) are not listed in {ann_file}, e.g. {unknown[0]}",
            hint="evaluate the images of the annotation file (--data with its --images)",
            code="coco_unknown_image",
            exit_code=2,
        )
    cat_ids = [c["id"] for c in sorted(data["categories"], key=lambda c: c["id"])]
    entries: list[dict] = []
    for path, det in zip(images, dets):
        entries += coco_entries(ids[path.name], det, cat_ids)
    return coco_evaluate(ann_file, entries, iou_types, img_ids=[ids[p.name] for p in images])


def class_warnings(ann_file: PathLike, class_names: Sequence[str]) -> list[str]:
    """Why the model's labels may not map onto the file's categories; an error when the counts
    differ (the mapping is label ``i`` → ``i``-th category by id)."""
    cats = [
        c["name"] for c in sorted(load_coco_json(ann_file)["categories"], key=lambda c: c["id"])
    ]
    if len(cats) != len(class_names):
        raise VitdetError(
            f"the model predicts {len(class_names)} classes, {ann_file} has {len(cats)} categories",
            hint="evaluate on the dataset the model was trained for",
            code="coco_class_mismatch",
            exit_code=2,
        )
    if list(cats) != list(class_names):
        return [f"category names {cats} differ from the model's {list(class_names)}"]
    return []


def flat_metrics(result: dict) -> dict[str, Optional[float]]:
    """``{"bbox": {"mAP": ..}}`` → ``{"coco/bbox_mAP": ..}`` (MMDetection's names, as
    :func:`~vitdet_cli.report.tables.metrics_table` reads them)."""
    return {
        f"coco/{task}_{name}": value
        for task in TASKS
        for name, value in (result.get(task) or {}).items()
    }
