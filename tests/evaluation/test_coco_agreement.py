"""Our COCO numbers are MMDetection's: same predictions → same mAP as ``CocoMetric``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vitdet_cli.data.synth import CLASS_NAMES
from vitdet_cli.evaluation import coco_metrics, flat_metrics
from vitdet_cli.runtime.detections import Detections


def gt_predictions(ann: Path, img_dir: Path, noise: bool) -> tuple[list[Path], list[dict]]:
    """Per val image: the ground truth as detections, with jitter and false positives when
    ``noise``; as image paths and ``{img_id, shape, boxes, scores, labels, masks}``."""
    from pycocotools.coco import COCO

    rng = np.random.default_rng(0)
    coco = COCO(str(ann))
    cats = sorted(coco.getCatIds())
    paths, preds = [], []
    for img in coco.loadImgs(sorted(coco.getImgIds())):
        h, w = img["height"], img["width"]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img["id"], iscrowd=False))
        boxes = np.array(
            [
                [
                    a["bbox"][0],
                    a["bbox"][1],
                    a["bbox"][0] + a["bbox"][2],
                    a["bbox"][1] + a["bbox"][3],
                ]
                for a in anns
            ]
        ).reshape(-1, 4)
        labels = np.array([cats.index(a["category_id"]) for a in anns], dtype=np.int64)
        masks = np.stack([coco.annToMask(a).astype(bool) for a in anns]).reshape(-1, h, w)
        scores = np.full(len(anns), 0.9, dtype=np.float32)
        if noise:
            boxes = boxes + rng.normal(0, 3, boxes.shape)
            masks = masks.copy()
            masks[:, :, : w // 8] = False  # clip every mask's left edge
            fp = rng.uniform(0, min(h, w) / 2, (2, 4))
            fp[:, 2:] += fp[:, :2] + 8
            fp_masks = np.zeros((2, h, w), bool)
            for m, (x0, y0, x1, y1) in zip(fp_masks, fp.astype(int)):
                m[y0:y1, x0:x1] = True
            boxes = np.concatenate([boxes, fp])
            masks = np.concatenate([masks, fp_masks])
            labels = np.concatenate([labels, rng.integers(0, len(cats), 2)])
            scores = rng.uniform(0.05, 1.0, len(boxes)).astype(np.float32)
        paths.append(img_dir / img["file_name"])
        preds.append(
            dict(
                img_id=img["id"],
                shape=(h, w),
                boxes=boxes.astype(np.float32),
                scores=scores,
                labels=labels,
                masks=masks,
            )
        )
    return paths, preds


def ours(ann: Path, paths: list[Path], preds: list[dict]) -> dict:
    dets = [Detections(p["boxes"], p["scores"], p["labels"], masks=p["masks"]) for p in preds]
    return coco_metrics(ann, paths, dets)


def test_perfect_predictions_score_one(synth_val) -> None:
    ann, img_dir = synth_val
    res = ours(ann, *gt_predictions(ann, img_dir, noise=False))
    assert res["bbox"]["mAP"] == pytest.approx(1.0)
    assert res["segm"]["mAP"] == pytest.approx(1.0)
    assert res["evaluator"].startswith("pycocotools COCOeval ")


def test_same_map_as_mmdet_coco_metric(synth_val) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("mmdet")
    from mmdet.evaluation import CocoMetric

    ann, img_dir = synth_val
    paths, preds = gt_predictions(ann, img_dir, noise=True)
    metric = CocoMetric(ann_file=str(ann), metric=["bbox", "segm"])
    metric.dataset_meta = {"classes": list(CLASS_NAMES)}
    samples = [
        {
            "img_id": p["img_id"],
            "ori_shape": p["shape"],
            "pred_instances": {
                "bboxes": torch.from_numpy(p["boxes"]),
                "scores": torch.from_numpy(p["scores"]),
                "labels": torch.from_numpy(p["labels"]),
                "masks": torch.from_numpy(p["masks"]),
            },
        }
        for p in preds
    ]
    metric.process({}, samples)
    theirs = metric.compute_metrics(metric.results)  # rounded to 3 decimals
    mine = flat_metrics(ours(ann, paths, preds))
    assert 0.1 < mine["coco/bbox_mAP"] < 0.99 and 0.1 < mine["coco/segm_mAP"] < 0.99
    for key, value in mine.items():
        name = key.removeprefix("coco/")
        expected = theirs[name]
        assert (value if value is not None else -1.0) == pytest.approx(expected, abs=5e-4), name
