"""Fidelity of the staged ONNX Runtime pipeline against PyTorch (issue: staged deploy).

Targets: ≥ 99% of PyTorch's detections (score ≥ 0.05) matched at IoU ≥ 0.99, max score
difference ≤ 1e-3, bbox and segm mAP difference ≤ 0.1 points — on the synthetic val split and
on ordinary photographs (matplotlib's sample photographs at three scales).

    .venv/bin/python benchmarks/deploy_fidelity.py [--artifacts outputs/demo/artifacts]
        [--data data/synthetic_shapes] [--json]

The artifacts come from `vitdet demo` (or `vitdet export`); the checkpoint they record is used
as the PyTorch reference.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from vitdet_cli.compare.api import compare
from vitdet_cli.data.photos import write_photo_set
from vitdet_cli.data.resolve import from_annotations

ORT = "onnxruntime"  # the staged ONNX Runtime pipeline, whatever the folder's tuning chose


def _line(name: str, report) -> dict:
    s = report.summary
    row = {
        "set": name,
        "images": s["images"],
        "reference_detections": s["ref_considered"],
        "matched_iou_0.99": s["frac_ref_matched_strict"],
        "max_score_diff": s["max_score_diff_strict"],
        "mask_iou_mean": s["mask_iou_mean"],
        "passed": report.passed,
    }
    if report.coco:
        row["bbox_mAP_delta_points"] = report.coco["delta_points"]["bbox"]
        row["segm_mAP_delta_points"] = report.coco["delta_points"]["segm"]
        row["bbox_mAP"] = [report.coco["a"]["bbox"]["mAP"], report.coco["b"]["bbox"]["mAP"]]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artifacts", type=Path, default=Path("outputs/demo/artifacts"))
    ap.add_argument("--data", type=Path, default=Path("data/synthetic_shapes"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    ann = args.data / "annotations" / "instances_val.json"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        val = list(from_annotations(ann, args.data / "val").images)
        rows.append(_line("synthetic val", compare(args.artifacts, val, ORT, ann_file=ann)))
        photos = write_photo_set(Path(tmp) / "photos")
        rows.append(_line("photographs", compare(args.artifacts, photos, ORT)))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        print(
            f"{r['set']:>14}: {r['images']} images, {r['reference_detections']} PyTorch "
            f"detections (score>=0.05), {r['matched_iou_0.99']:.2%} matched at IoU>=0.99 "
            f"(need 99%), max score diff {r['max_score_diff'] or 0:.2e} (need <=1e-3), "
            f"mask IoU mean {r['mask_iou_mean'] or 0:.4f}"
        )
        if "bbox_mAP" in r:
            print(
                f"{'':>14}  bbox mAP ORT {r['bbox_mAP'][0]:.4f} vs PyTorch {r['bbox_mAP'][1]:.4f}: "
                f"delta bbox {r['bbox_mAP_delta_points']:+.3f} / segm "
                f"{r['segm_mAP_delta_points']:+.3f} points (need |delta| <= 0.1)"
            )
        print(f"{'':>14}  {'PASSED' if r['passed'] else 'FAILED'}")


if __name__ == "__main__":
    main()
