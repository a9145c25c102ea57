"""Training curves (loss, lr, mAP) drawn from metrics.jsonl."""

from __future__ import annotations

import json
import os
from pathlib import Path

LOSS_KEYS = ("loss", "loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox", "loss_mask")
MAP_KEYS = ("coco/bbox_mAP", "coco/segm_mAP", "coco/bbox_mAP_50", "coco/segm_mAP_50")


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    if not Path(path).is_file():
        return rows
    for line in Path(path).read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a crash
            continue
    return rows


def plot_curves(metrics_file: Path, out_png: Path) -> Path:
    """Three panels: losses, learning rate, validation mAP; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_jsonl(metrics_file)
    train = [r for r in rows if r.get("mode") == "train"]
    val = [r for r in rows if r.get("mode") == "val"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for key in LOSS_KEYS:
        pts = [(r["iter"], r[key]) for r in train if key in r]
        if pts:
            axes[0].plot(*zip(*pts), label=key, linewidth=2 if key == "loss" else 1)
    axes[0].set_title("training loss")
    axes[0].set_yscale("log")
    pts = [(r["iter"], r["lr"]) for r in train if "lr" in r]
    if pts:
        axes[1].plot(*zip(*pts))
    axes[1].set_title("learning rate")
    for key in MAP_KEYS:
        pts = [(r["iter"], r[key]) for r in val if key in r]
        if pts:
            axes[2].plot(*zip(*pts), marker="o", label=key.split("/")[-1])
    axes[2].set_title("validation mAP")
    axes[2].set_ylim(0, 1)
    for ax in axes:
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    out_png = Path(out_png)
    tmp = out_png.with_name(f".{out_png.stem}.{os.getpid()}.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, out_png)
    return out_png
