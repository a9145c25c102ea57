"""One ViT-B Mask R-CNN training iteration at 1024×1024 (batch 1) on CPU, with and without
activation checkpointing; prints time and peak resident memory of each (separate processes).

    .venv/bin/python benchmarks/vitb_memory.py [--size 1024] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def one_iteration(size: int, with_cp: bool) -> dict:
    import torch
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.registry import init_default_scope
    from mmengine.structures import InstanceData

    from vitdet_cli.config.schema import ExperimentConfig
    from vitdet_cli.model import register_modules
    from vitdet_cli.model.config_builder import model_cfg

    register_modules()
    init_default_scope("mmdet")
    exp = ExperimentConfig.model_validate(
        {"model": {"preset": "vit-b", "img_size": size, "with_cp": with_cp}}
    )
    from mmengine.config import ConfigDict

    model = MODELS.build(ConfigDict(model_cfg(exp, num_classes=80))).train()
    torch.manual_seed(0)
    boxes = torch.tensor([[100.0, 120.0, 400.0, 500.0], [600.0, 300.0, 900.0, 700.0]]) * size / 1024
    masks = torch.zeros(2, size, size, dtype=torch.uint8)
    for i, (x1, y1, x2, y2) in enumerate(boxes.int().tolist()):
        masks[i, y1:y2, x1:x2] = 1
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(size, size),
            ori_shape=(size, size),
            pad_shape=(size, size),
            batch_input_shape=(size, size),
            scale_factor=(1.0, 1.0),
        )
    )
    sample.gt_instances = InstanceData(
        bboxes=boxes, labels=torch.tensor([1, 5]), masks=BitmapMasks(masks.numpy(), size, size)
    )
    optim = torch.optim.AdamW(model.parameters(), lr=1e-4)
    start = time.perf_counter()
    losses = model.loss(torch.rand(1, 3, size, size), [sample])
    total = sum(
        v.sum() if not isinstance(v, list) else sum(x.sum() for x in v)
        for k, v in losses.items()
        if "loss" in k
    )
    total.backward()
    optim.step()
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "with_cp": with_cp,
        "size": size,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_mb),
        "loss": round(float(total), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=["cp", "nocp"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_iteration(args.size, args.child == "cp")))
        return
    rows = []
    for mode in ("nocp", "cp"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--size", str(args.size)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"ViT-B Mask R-CNN, one training iteration, batch 1, {args.size}x{args.size}, CPU")
    print(f"{'activation checkpointing':<26}{'time s':>8}{'peak RSS MB':>13}")
    for r in rows:
        print(f"{'on' if r['with_cp'] else 'off':<26}{r['seconds']:>8}{r['peak_rss_mb']:>13}")
    saved = rows[0]["peak_rss_mb"] - rows[1]["peak_rss_mb"]
    share = saved / rows[0]["peak_rss_mb"]
    slower = rows[1]["seconds"] / rows[0]["seconds"]
    print(f"checkpointing saves {saved} MB of peak memory ({share:.0%}) at {slower:.2f}x the time")


if __name__ == "__main__":
    main()
