"""Resolve a config's data section into checked files: generate, check, subset."""

from __future__ import annotations

from pathlib import Path

from vitdet_cli.atomic import write_json_atomic
from vitdet_cli.config.schema import ExperimentConfig
from vitdet_cli.data.coco import check_coco_layout, load_coco_json, subset_coco
from vitdet_cli.data.synth import ensure_synthetic_dataset
from vitdet_cli.data.validate import validate_coco, without_bad_annotations
from vitdet_cli.model.config_builder import DataPaths
from vitdet_cli.progress import SILENT, Progress


def resolve_data(
    exp: ExperimentConfig, work_dir: Path, generate: bool = True, progress: Progress = SILENT
) -> DataPaths:
    """Dataset files for a run; the built-in synthetic set is generated on first use (said to
    ``progress``, as are dropped annotations).

    ``data.subset``/``data.val_subset`` write deterministic subsets under ``work_dir/data/``.
    """
    d = exp.data
    root = Path(d.root)
    if d.synthetic is not None and generate:
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
        progress.note(f"synthetic dataset {'generated' if ds.generated else 'found'} at {root}")
    train_ann, val_ann = root / d.train_ann, root / d.val_ann
    train_img, val_img = root / d.train_img, root / d.val_img
    summary = check_coco_layout(train_ann, train_img, check_images="sample", allow_drop=True)
    val_summary = check_coco_layout(val_ann, val_img, check_images="sample", allow_drop=True)
    train_ann = _without_bad(train_ann, summary, work_dir, "train", progress)
    val_ann = _without_bad(val_ann, val_summary, work_dir, "val", progress)
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


def _without_bad(ann: Path, summary, work_dir: Path, split: str, progress: Progress) -> Path:
    """``ann``, or a copy without its bad annotations (with a warning saying what is dropped)."""
    if not summary.dropped_annotations:
        return ann

    data = load_coco_json(ann)
    report = validate_coco(data, ann)
    if len(report.bad_annotations) == len(data["annotations"]):
        raise report.error(hint="every annotation is bad: nothing would be left to train on")
    out = Path(work_dir) / "data" / f"{split}_valid.json"
    write_json_atomic(out, without_bad_annotations(data, report))
    progress.note(
        f"warning: {ann}: dropping {len(report.bad_annotations)} of "
        f"{len(data['annotations'])} annotations from training ({split}):\n{report.table()}\n"
        f"  training reads {out}"
    )
    return out


def _subset(ann: Path, n: int, work_dir: Path, split: str, seed: int) -> tuple[Path, int]:
    sub = subset_coco(ann, n, Path(work_dir) / "data" / f"{split}_subset_{n}.json", seed=seed)
    return Path(sub.out_file), sub.images
