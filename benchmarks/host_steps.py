"""Time the numpy host steps of the staged pipeline at ViT-B-1024 sizes on one CPU core.

Inputs are synthetic but shaped like a real image through ViT-B Mask R-CNN: a 1333×800 BGR
image, RPN maps for a 1024 input (5 levels, 3 anchors), 1000 proposals into an 80-class box
head, 100 detections with 80-class 28×28 mask logits. The stages themselves are not timed.
The figure to meet (issue: staged deploy) is ≤ 15 ms per image for all host steps together.

    .venv/bin/python benchmarks/host_steps.py [--runs 30] [--json]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads its BLAS

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from vitdet_cli.runtime.host import HostConfig, preprocess, rpn_postprocess, run_pipeline  # noqa: E402
from vitdet_cli.runtime.masks import paste_mask_crops  # noqa: E402
from vitdet_cli.runtime.timing import HOST_STEPS, StepTimer  # noqa: E402

TARGET_MS = 15.0


def make_inputs(seed: int = 0):
    """(image, rpn outputs, box-head outputs fn, mask logits fn) with plausible statistics."""
    rng = np.random.default_rng(seed)
    cfg = HostConfig()
    image = cv2.GaussianBlur(rng.integers(0, 256, (800, 1333, 3), dtype=np.uint8), (0, 0), 2)
    sizes = cfg.featmap_sizes()
    # mostly background anchors, a tail of confident ones
    cls = [(rng.standard_normal((1, 3, h, w)) * 2 - 3).astype(np.float32) for h, w in sizes]
    reg = [(rng.standard_normal((1, 12, h, w)) * 0.2).astype(np.float32) for h, w in sizes]
    yy, xx = np.mgrid[0:28, 0:28] / 27 * 2 - 1
    blob = (5 * (0.5 - xx**2 - yy**2)).astype(np.float32)

    def box_head(rois):
        n = len(rois)
        logits = rng.standard_normal((n, 81)).astype(np.float32)
        logits[:, 80] += 2.0  # background
        hot = rng.integers(0, 80, (n, 2))
        logits[np.arange(n)[:, None], hot] += 4.0  # one or two likely classes per proposal
        deltas = (rng.standard_normal((n, 320)) * 0.1).astype(np.float32)
        return logits, deltas

    def mask_head(rois):
        noise = rng.standard_normal((len(rois), 80, 28, 28)).astype(np.float32)
        return noise + blob

    return cfg, image, (cls, reg), box_head, mask_head


def large_masks(seed: int = 1):
    """100 detections of large objects (sides log-uniform in 16..600 px): a heavy mask step."""
    rng = np.random.default_rng(seed)
    side = np.exp(rng.uniform(np.log(16), np.log(600), (100, 2)))
    centre = rng.uniform(0, 1, (100, 2)) * (1333, 800)
    boxes = np.concatenate([centre - side / 2, centre + side / 2], 1)
    boxes = boxes.clip(0, (1333, 800, 1333, 800)).astype(np.float32)
    yy, xx = np.mgrid[0:28, 0:28] / 27 * 2 - 1
    logits = 5 * (0.5 - xx**2 - yy**2) + rng.standard_normal((100, 80, 28, 28))
    return logits.astype(np.float32), boxes, rng.integers(0, 80, 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args()
    cv2.setNumThreads(1)

    cfg, image, rpn_out, box_head, mask_head = make_inputs()
    box_cache, mask_cache = {}, {}

    def rpn_stage(x):
        return rpn_out

    def box_stage(rois):  # same outputs every run, made outside the timed host steps
        if rois.shape not in box_cache:
            box_cache[rois.shape] = box_head(rois)
        return box_cache[rois.shape]

    def mask_stage(rois):
        if rois.shape not in mask_cache:
            mask_cache[rois.shape] = mask_head(rois)
        return mask_cache[rois.shape]

    kwargs = dict(roi_batch=cfg.rpn_max_per_img, mask_batch=cfg.rcnn_max_per_img)
    run_pipeline(image, cfg, rpn_stage, box_stage, mask_stage, **kwargs)  # warm up caches
    samples = {k: [] for k in (*HOST_STEPS, "masks_full", "total")}
    for _ in range(args.runs):
        timer = StepTimer()  # the stages here time nothing: the timer holds the host steps
        res = run_pipeline(image, cfg, rpn_stage, box_stage, mask_stage, **kwargs, timer=timer)
        for k in HOST_STEPS:
            samples[k].append(timer.ms[k])
        samples["total"].append(sum(timer.ms[k] for k in HOST_STEPS))
        t0 = time.perf_counter()
        res.masks.full()
        samples["masks_full"].append((time.perf_counter() - t0) * 1e3)

    logits, boxes, labels = large_masks()
    paste_mask_crops(logits, boxes, labels, (800, 1333))
    for _ in range(max(3, args.runs // 3)):
        t0 = time.perf_counter()
        big = paste_mask_crops(logits, boxes, labels, (800, 1333))
        samples.setdefault("mask_post_large", []).append((time.perf_counter() - t0) * 1e3)

    med = {k: statistics.median(v) for k, v in samples.items()}
    info = {
        "proposals": len(rpn_postprocess(*rpn_out, cfg, preprocess(image, cfg)[1].img_shape)),
        "detections": len(res.boxes),
        "mask_span_mpx": round(sum(c.size for c in res.masks.crops) / 1e6, 2),
        "large_mask_span_mpx": round(sum(c.size for c in big.crops) / 1e6, 2),
        "runs": args.runs,
    }
    if args.json:
        print(
            json.dumps(
                {
                    "median_ms": {k: round(v, 3) for k, v in med.items()},
                    **info,
                    "target_ms": TARGET_MS,
                }
            )
        )
        return
    print(f"host steps, 1 thread, median of {args.runs} runs ({info})")
    for k in HOST_STEPS:
        print(f"  {k:<12} {med[k]:8.2f} ms")
    print(
        f"  {'total':<12} {med['total']:8.2f} ms   (target <= {TARGET_MS:.0f} ms: "
        f"{'met' if med['total'] <= TARGET_MS else 'NOT met'})"
    )
    print(f"  (+ expanding masks to a (K, H, W) array: {med['masks_full']:.2f} ms)")
    print(
        f"  mask_post with 100 large objects ({info['large_mask_span_mpx']} Mpx of spans): "
        f"{med['mask_post_large']:.2f} ms"
    )


if __name__ == "__main__":
    main()
