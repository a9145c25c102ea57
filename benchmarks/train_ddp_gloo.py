"""Two-process gloo training on CPU (torchrun): completes, and both ranks end with identical
weights (sha256 over every parameter and buffer, written by each rank).

    .venv/bin/python benchmarks/train_ddp_gloo.py [--iters 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--work-dir", default="work_dirs/bench_ddp_gloo")
    args = parser.parse_args()

    from vitdet_cli.training import api

    work = Path(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    sets = [
        f"train.max_iters={args.iters}",
        f"train.val_interval={args.iters}",
        f"train.checkpoint_interval={args.iters}",
        "train.batch_size=2",
    ]
    plan = api.plan_training(
        Path("configs/vitdet_tiny_shapes.yaml"),
        device="cpu",
        devices="0,1",
        work_dir=work,
        overrides=sets,
    )
    start = time.monotonic()
    result = api.run_training(plan)
    ranks = sorted((work / "ranks").glob("rank_*.json"))
    digests = [json.loads(p.read_text()) for p in ranks]
    print(
        json.dumps(
            {
                "world_size": len(digests),
                "wall_s": round(time.monotonic() - start, 1),
                "iters": args.iters,
                "ranks": digests,
                "identical": result.ranks_in_sync,
                "bbox_mAP": result.final_metrics.get("coco/bbox_mAP"),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
