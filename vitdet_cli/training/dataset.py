"""Resolve a config's data section into checked files: generate, check, subset."""

from __future__ import annotations

from pathlib import Path

from vitdet_cli.config.schema import ExperimentConfig
from vitdet_cli.model.config_builder import DataPaths
from vitdet_cli.report.console import info


def resolve_data(exp: ExperimentConfig, work_dir: Path, generate: bool = True) -> DataPaths:
    """Dataset files for a run; the built-in synthetic set is generated on first use.

    ``data.subset``/``data.val_subset`` write deterministic subsets under ``work_dir/data/``.
    """
    from vitdet_cli.data.coco import check_coco_layout

    d = exp.data
    root = Path(d.root)
    if d.synthetic is not None and generate:
        from vitdet_cli.data.synth import ensure_synthetic_dataset

        s = d.synthetic
        ds = ensure_synthetic_dataset(
            root,
            images=s.images,
            seed=s.seed,
            image_size=s.size,
            val_fraction=s.val_fraction,
            max_instances=s.max_instances,
            size_range=tuple(s.size_range),
        )
        info(f"synthetic dataset {'generated' if ds.generated else 'found'} at {root}")
    train_ann, val_ann = root / d.train_ann, root / d.val_ann
    train_img, val_img = root / d.train_img, root / d.val_img
    summary = check_coco_layout(train_ann, train_img, check_images="sample")
    check_coco_layout(val_ann, val_img, check_images="sample")
    train_images = summary.images
    if d.subset:
        train_ann, train_images = _subset(train_ann, d.subset, work_dir, "train", exp.train.seed)
    if d.val_subset:
        val_ann, _ = _subset(val_ann, d.val_subset, work_dir, "val", exp.train.seed)
    return DataPaths(
        root.resolve(),
        train_ann.resolve(),
        train_img.resolve(),
        val_ann.resolve(),
        val_img.resolve(),
        tuple(summary.class_names),
        train_images,
    )


def _subset(ann: Path, n: int, work_dir: Path, split: str, seed: int) -> tuple[Path, int]:
    from vitdet_cli.data.coco import subset_coco

    sub = subset_coco(ann, n, Path(work_dir) / "data" / f"{split}_subset_{n}.json", seed=seed)
    return Path(sub.out_file), sub.images
