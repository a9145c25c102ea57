"""Staged ONNX Runtime pipeline vs PyTorch eager, end to end on the CPU (issue: staged deploy).

Both start from the same BGR image and end with final detections and masks: PyTorch eager is
MMDetection's own test pipeline + ``model.test_step``; the staged pipeline is our numpy host
steps around the ONNX Runtime graphs. The model is a randomly initialised Mask R-CNN of the
preset (weights do not change the arithmetic; random weights give the full 100 detections with
masks, the worst case for the host). Prints per-step medians and the speed ratio (aim ≥ 1.3×).

    .venv/bin/python benchmarks/deploy_speed.py [--preset vit-b] [--img-size 1024]
        [--classes 80] [--repeat 3] [--work /tmp/vitdet_speed] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import cv2


def _prepare(args) -> tuple[Path, Path, Path]:
    from vitdet_cli.data.photos import sample_photo_paths
    from vitdet_cli.export.api import export_artifacts
    from vitdet_cli.model.random_init import save_random_checkpoint

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.yaml"
    config.write_text(f"model:\n  preset: {args.preset}\n  img_size: {args.img_size}\n")
    ckpt = save_random_checkpoint(config, work / "iter_0.pth", num_classes=args.classes)
    photo = cv2.imread(str(sample_photo_paths()[0]))
    scale = 1333 / max(photo.shape[:2])
    image = work / "photo.jpg"
    cv2.imwrite(str(image), cv2.resize(photo, None, fx=scale, fy=scale))
    t0 = time.perf_counter()
    result = export_artifacts(ckpt, config, work / "artifacts")
    print(f"export: {time.perf_counter() - t0:.0f}s, checks ok: {result.ok}")
    return ckpt, config, image


def torch_runner(ckpt: Path, config: Path, image: Path):
    """A callable that runs ``image`` end to end in PyTorch eager (MMDetection's pipeline)."""
    import torch

    from vitdet_cli.evaluation.checkpoint import empty_masks_outside_image, eval_pipeline
    from vitdet_cli.model.loading import load_trained_model

    trained = load_trained_model(ckpt, config)
    pipeline = eval_pipeline(trained.img_size)

    def run() -> None:
        packed = pipeline(dict(img_path=str(image), img_id=0))
        batch = dict(inputs=[packed["inputs"]], data_samples=[packed["data_samples"]])
        with torch.no_grad(), empty_masks_outside_image():
            (sample,) = trained.model.test_step(batch)
        sample.pred_instances.masks.numpy()

    return run


def time_torch(ckpt: Path, config: Path, image: Path, repeat: int) -> list[float]:
    run = torch_runner(ckpt, config, image)
    times = []
    for i in range(repeat + 1):  # first run is warm-up
        t0 = time.perf_counter()
        run()
        if i:
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def time_staged(artifacts: Path, image: Path, repeat: int):
    from vitdet_cli.runtime.backends import get_backend
    from vitdet_cli.runtime.infer import run_images
    from vitdet_cli.runtime.staged import StagedModel

    with StagedModel(artifacts, get_backend("onnxruntime")) as model:
        return run_images(model, [image], None, "none", warmup=1, repeat=repeat).stats


def model_args(description: str, work: Path) -> argparse.ArgumentParser:
    """The options :func:`_prepare` reads (model, image size, work folder), plus --repeat and
    --json; shared with tuned_speed.py."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--preset", default="vit-b")
    ap.add_argument("--img-size", type=int, default=1024)
    ap.add_argument("--classes", type=int, default=80)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", type=Path, default=work)
    ap.add_argument("--json", action="store_true")
    return ap


def main() -> None:
    args = model_args(__doc__.splitlines()[0], Path("/tmp/vitdet_speed")).parse_args()
    import torch

    ckpt, config, image = _prepare(args)
    stats = time_staged(args.work / "artifacts", image, args.repeat)
    torch_ms = statistics.median(time_torch(ckpt, config, image, args.repeat))
    staged_ms = stats.total.median
    row = {
        "preset": args.preset,
        "img_size": args.img_size,
        "classes": args.classes,
        "threads": torch.get_num_threads(),
        "torch_eager_ms": round(torch_ms, 1),
        "staged_onnxruntime_ms": round(staged_ms, 1),
        "speedup": round(torch_ms / staged_ms, 3),
        "steps_ms": {k: round(v.median, 2) for k, v in stats.steps.items()},
    }
    if args.json:
        print(json.dumps(row, indent=2))
        return
    print(f"{args.preset} @ {args.img_size}, {args.classes} classes, {row['threads']} threads")
    for name, ms in row["steps_ms"].items():
        print(f"  {name:>10}: {ms:9.2f} ms")
    print(f"staged ONNX Runtime: {staged_ms:.0f} ms/img; PyTorch eager: {torch_ms:.0f} ms/img; "
          f"ratio {row['speedup']:.2f}x (aim >= 1.3x)")  # fmt: skip


if __name__ == "__main__":
    main()
