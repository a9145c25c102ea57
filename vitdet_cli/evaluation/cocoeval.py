"""COCO mAP of result entries with pycocotools' COCOeval (what MMDetection's CocoMetric runs).

The entries are made by :func:`~vitdet_cli.runtime.results_json.coco_entries`. pycocotools is
imported inside the functions, so importing this module is cheap and works without it. Results
carry both ``bbox`` and ``segmentation`` (as mmdet's segm results do), so COCOeval takes a
detection's ``area`` from its box for the small/medium/large split.
"""

from __future__ import annotations

import contextlib
import io
from importlib import metadata
from typing import Iterator, Optional, Sequence

from vitdet_cli.data.coco import PathLike, load_coco_json
from vitdet_cli.errors import VitdetError

STAT_NAMES = ("mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l")
"""Names of ``COCOeval.stats[0:6]``."""


@contextlib.contextmanager
def _quiet(verbose: bool) -> Iterator[None]:
    if verbose:
        yield
    else:
        with contextlib.redirect_stdout(io.StringIO()):
            yield


def _stats(values: Optional[Sequence[float]]) -> dict[str, Optional[float]]:
    """COCOeval stats → named metrics; -1 ("no such objects") becomes None."""
    values = values if values is not None else [0.0] * len(STAT_NAMES)
    return {n: (None if v == -1 else float(v)) for n, v in zip(STAT_NAMES, values)}


def _per_class_ap(ev) -> dict[str, Optional[float]]:
    """AP (IoU .50:.95, all areas, 100 detections) per category name, as MMDetection's
    ``classwise`` table; None for a category with no ground truth in the images."""
    precision = ev.eval["precision"]  # [IoU thr, recall thr, category, area range, max dets]
    names = [c["name"] for c in ev.cocoGt.loadCats(ev.params.catIds)]
    out: dict[str, Optional[float]] = {}
    for k, name in enumerate(names):
        values = precision[:, :, k, 0, -1]
        values = values[values > -1]
        out[name] = float(values.mean()) if values.size else None
    return out


def _check_results(results: list[dict], iou_types: Sequence[str], known: set) -> None:
    unknown = sorted({r["image_id"] for r in results} - known)
    if unknown:
        raise VitdetError(
            f"results refer to image ids not in the annotation file: {unknown[:10]}",
            hint="Evaluate against the annotation file the images came from.",
            code="coco_unknown_image",
        )
    bad = [t for t in iou_types if t not in ("bbox", "segm")]
    if bad:
        raise VitdetError(f"unknown iou type(s) {bad}", hint="Use bbox and/or segm.", exit_code=2)
    if "segm" in iou_types and any("segmentation" not in r for r in results):
        raise VitdetError(
            "segm evaluation asked for, but some results have no segmentation",
            hint="Run with the mask stage, or evaluate iou_types=('bbox',) only.",
            code="coco_no_masks",
        )


def coco_evaluate(
    ann_file: PathLike,
    results: list[dict],
    iou_types: Sequence[str] = ("bbox", "segm"),
    img_ids: Optional[Sequence[int]] = None,
    verbose: bool = False,
) -> dict:
    """mAP of ``results`` against ``ann_file`` on ``img_ids`` (default: images in results).

    Returns ``{"bbox": {mAP, mAP_50, mAP_75, mAP_s, mAP_m, mAP_l}, "segm": {...},
    "per_class": {"bbox": {name: AP}, ...}, "num_images", "num_results",
    "evaluator": "pycocotools COCOeval <version>"}``; a metric
    is None where COCOeval reports -1 (no ground truth in that area range). With no
    results and no ``img_ids`` every metric is 0.0. COCOeval's printing is suppressed unless
    ``verbose``. VitdetError for a missing or invalid annotation file.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    data = load_coco_json(ann_file)
    with _quiet(verbose):
        gt = COCO()
        gt.dataset = data
        gt.createIndex()
    _check_results(results, iou_types, set(gt.getImgIds()))
    ids = sorted({r["image_id"] for r in results}) if img_ids is None else list(img_ids)
    out: dict = {"per_class": {}}
    for iou_type in iou_types:
        stats = None
        if ids:
            with _quiet(verbose):
                dt = gt.loadRes([dict(r) for r in results]) if results else COCO()
                ev = COCOeval(gt, dt, iou_type)
                ev.params.imgIds = ids
                ev.evaluate()
                ev.accumulate()
                ev.summarize()
            stats = ev.stats[: len(STAT_NAMES)].tolist()
            out["per_class"][iou_type] = _per_class_ap(ev)
        out[iou_type] = _stats(stats)
    out["num_images"] = len(ids)
    out["num_results"] = len(results)
    out["evaluator"] = f"pycocotools COCOeval {metadata.version('pycocotools')}"
    return out
