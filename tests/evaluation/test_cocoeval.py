"""COCO mAP with pycocotools on a tiny annotation file written here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vitdet_cli.errors import VitdetError
from vitdet_cli.evaluation.cocoeval import coco_evaluate
from vitdet_cli.runtime.detections import Detections
from vitdet_cli.runtime.results_json import coco_entries

pytest.importorskip("pycocotools")
# pycocotools' own decode (annToMask) trips numpy 2's __array__ copy deprecation
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

H, W = 100, 150
CAT_IDS = [3, 7]  # non-contiguous, as COCO's


def rect(x, y, w, h):
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


GT_OBJECTS = {  # image id → [(label, xywh, polygon)]
    1: [(0, (10, 10, 50, 40), rect(10, 10, 50, 40)), (1, (80, 20, 60, 70), rect(80, 20, 60, 70))],
    2: [(1, (20, 30, 45, 50), [[20, 30, 65, 30, 20, 80]])],  # a triangle
}


@pytest.fixture
def ann_file(tmp_path):
    images = [{"id": i, "file_name": f"{i}.jpg", "height": H, "width": W} for i in GT_OBJECTS]
    anns = []
    for img_id, objs in GT_OBJECTS.items():
        for label, (x, y, w, h), poly in objs:
            anns.append({"id": len(anns) + 1, "image_id": img_id, "category_id": CAT_IDS[label],
                         "bbox": [x, y, w, h], "area": float(w * h), "segmentation": poly,
                         "iscrowd": 0})  # fmt: skip
    cats = [{"id": c, "name": f"c{c}"} for c in CAT_IDS]
    path = tmp_path / "gt.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return path


def perfect_results(ann_file, drop: int | None = None) -> list[dict]:
    """Each GT object as a detection: its box and its rasterised polygon as the mask."""
    from pycocotools.coco import COCO

    coco = COCO(str(ann_file))
    results = []
    for img_id in GT_OBJECTS:
        anns = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=img_id)) if a["id"] != drop]
        boxes = [[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)]
        full = np.stack([coco.annToMask(a) for a in anns]).astype(bool)
        labels = [CAT_IDS.index(a["category_id"]) for a in anns]
        det = Detections(boxes, np.linspace(0.9, 0.5, len(anns)), labels, full)
        results += coco_entries(img_id, det, CAT_IDS)
    return results


def test_coco_entries(ann_file):
    from pycocotools import mask as mask_utils

    res = perfect_results(ann_file)
    first = res[0]
    assert first["image_id"] == 1 and first["category_id"] == 3
    assert first["bbox"] == [10.0, 10.0, 50.0, 40.0] and first["score"] == pytest.approx(0.9)
    seg = first["segmentation"]
    assert seg["size"] == [H, W] and isinstance(seg["counts"], str)
    assert mask_utils.decode({**seg, "counts": seg["counts"].encode()}).sum() > 1500
    json.dumps(res)
    with pytest.raises(VitdetError, match="category ids"):
        coco_entries(1, Detections([[0, 0, 1, 1]], [0.5], [2]), CAT_IDS)


def test_perfect_predictions(ann_file, capsys):
    results = perfect_results(ann_file)
    capsys.readouterr()
    m = coco_evaluate(ann_file, results)
    for task in ("bbox", "segm"):
        assert m[task]["mAP"] == pytest.approx(1.0)
        assert m[task]["mAP_50"] == pytest.approx(1.0)
        assert m[task]["mAP_s"] is None  # no small objects: COCOeval's -1
    assert m["num_images"] == 2 and m["num_results"] == 3
    assert m["evaluator"].startswith("pycocotools COCOeval ")
    assert capsys.readouterr().out == ""  # COCOeval's prints suppressed


def test_missed_object(ann_file):
    m = coco_evaluate(ann_file, perfect_results(ann_file, drop=2))
    for task in ("bbox", "segm"):
        assert 0.0 < m[task]["mAP"] < 1.0
        per_class = m["per_class"][task]
        assert per_class["c3"] == pytest.approx(1.0)
        # c7: one of its two objects found, at full precision → 51 of 101 recall points
        assert per_class["c7"] == pytest.approx(51 / 101)
        assert m[task]["mAP"] == pytest.approx((per_class["c3"] + per_class["c7"]) / 2)


def test_empty_results(ann_file):
    m = coco_evaluate(ann_file, [])
    assert m["bbox"]["mAP"] == 0.0 and m["segm"]["mAP_l"] == 0.0 and m["num_images"] == 0
    m = coco_evaluate(ann_file, [], iou_types=("bbox",), img_ids=[1, 2])
    assert m["bbox"]["mAP"] == 0.0 and "segm" not in m and m["num_images"] == 2


def test_bad_inputs(ann_file, tmp_path):
    with pytest.raises(VitdetError, match="not found"):
        coco_evaluate(tmp_path / "nope.json", [])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(VitdetError, match="not valid JSON"):
        coco_evaluate(bad, [])
    no_masks = [{"image_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5, "category_id": 3}]
    with pytest.raises(VitdetError, match="no segmentation"):
        coco_evaluate(ann_file, no_masks)
    assert coco_evaluate(ann_file, no_masks, iou_types=("bbox",))["bbox"]["mAP"] == 0.0
    with pytest.raises(VitdetError, match="image ids"):
        coco_evaluate(ann_file, [dict(no_masks[0], image_id=99)], iou_types=("bbox",))
