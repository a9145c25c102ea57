"""mmcv's CPU RoIAlign (forward + backward) on one thread and on all of torch's threads.

One thread runs the same loops as mmcv's unpatched serial kernel, so the ratio is what patch
``0002-cpu-roi-align-threads.patch`` buys. Sizes are those of a vit-tiny training step at 192 px
(batch 2): the box head's RoIs at 7×7 and the mask head's positives at 14×14.

    .venv/bin/python benchmarks/cpu_roi_align.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import time


def time_case(feat, rois, out: int, threads: int, repeat: int) -> float:
    """Best of three: mean ms of ``repeat`` forward+backward passes."""
    import torch
    from mmcv.ops import roi_align

    torch.set_num_threads(threads)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeat):
            roi_align(feat, rois, (out, out), 0.25, 1, "avg", True).sum().backward()
        best = min(best, 1000 * (time.perf_counter() - start) / repeat)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    import torch

    most = torch.get_num_threads()
    gen = torch.Generator().manual_seed(0)
    print(f"mmcv CPU RoIAlign fwd+bwd, feature 2x64x48x48, 1 vs {most} threads")
    for count, out in ((128, 7), (32, 14)):
        feat = torch.randn(2, 64, 48, 48, generator=gen).requires_grad_(True)
        xy = torch.rand(count, 2, generator=gen) * 150
        batch = torch.randint(0, 2, (count, 1), generator=gen).float()
        rois = torch.cat([batch, xy, xy + 40], 1)
        one = time_case(feat, rois, out, 1, args.repeat)
        many = time_case(feat, rois, out, most, args.repeat)
        print(f"  {count:4d} RoIs {out}x{out}: {one:6.2f} ms vs {many:6.2f} ms = {one / many:.2f}x")


if __name__ == "__main__":
    main()
