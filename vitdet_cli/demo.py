"""``vitdet demo``: the whole pipeline on the built-in synthetic dataset, on the CPU.

make data → train vit-tiny → evaluate → export the three stages → infer with ONNX Runtime (or
``backend``: OpenVINO) on held-out images → compare with PyTorch (tensors, detections, mAP of
both) → one summary.
Re-running continues: a finished training is reused, an interrupted one resumes.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.model_config import TRAIN_NAME
from vitdet_cli.atomic import write_bytes_atomic, write_json_atomic
from vitdet_cli.compare.api import compare_runs
from vitdet_cli.config.loader import load_config
from vitdet_cli.data.resolve import from_annotations
from vitdet_cli.errors import VitdetError
from vitdet_cli.progress import SILENT, Progress
from vitdet_cli.runtime.backends import get_backend
from vitdet_cli.runtime.infer import (
    PictureWriter,
    picture_of,
    run_images,
    write_outputs,
)
from vitdet_cli.runtime.staged import StagedModel
from vitdet_cli.shipped import shipped_dir
from vitdet_cli.training import api
from vitdet_cli.training.checkpoints import latest_complete

DEMO_CONFIG = shipped_dir("configs") / "vitdet_tiny_shapes.yaml"
STEPS = ("train", "export", "infer", "compare")


@dataclass
class DemoResult:
    """What each step produced, and how long it took (s)."""

    work_dir: Path
    train: object
    export: object
    infer: object
    compare: object
    seconds: dict[str, float] = field(default_factory=dict)
    trained_now: bool = True

    def to_dict(self) -> dict:
        return {
            "work_dir": str(self.work_dir),
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
            "trained_now": self.trained_now,
            "train": self.train.to_dict(),
            "export": {"out": str(self.export.out), "ok": self.export.ok},
            "infer": {
                "backend": self.infer.backend,
                "backend_info": self.infer.backend_info,
                "images": len(self.infer.images),
                "pictures": [str(p) for p in self.infer.pictures],
                "timing": self.infer.stats.to_dict(),
            },
            "compare": self.compare.to_dict(),
        }


def _finished(work_dir: Path, max_iters: int) -> Optional[Path]:
    ckpt = latest_complete(work_dir)
    return ckpt if ckpt is not None and ckpt.stem == f"iter_{max_iters}" else None


def train_step(
    config: Path, work_dir: Path, retrain: bool, overrides=(), progress: Progress = SILENT
):
    """Train, or reuse a finished run, or resume an interrupted one — of the *same* config.

    A work dir trained with another config (the demo config changed, other ``--set``) is moved
    aside to ``<work_dir>.previous`` and training starts over. Returns (TrainResult, trained_now).
    """
    dumped = work_dir / "vitdet_config.py"
    before = dumped.read_text() if dumped.is_file() else None
    kw = dict(device="cpu", work_dir=work_dir, overrides=overrides, progress=progress)
    plan = api.plan_training(config, **kw)
    if before is not None and (retrain or before != dumped.read_text()):
        aside = work_dir.with_name(work_dir.name + ".previous")
        why = "--retrain" if retrain else f"the config differs from {dumped}'s"
        progress.note(f"training again ({why}); the previous run is moved to {aside}")
        shutil.rmtree(aside, ignore_errors=True)
        work_dir.rename(aside)
        # planning overwrote it: the moved run keeps its own
        write_bytes_atomic(aside / dumped.name, before.encode())
        plan = api.plan_training(config, **kw)
    max_iters = int(plan.summary["max_iters"])
    if _finished(work_dir, max_iters) is not None:
        return api.collect_result(work_dir), False
    if latest_complete(work_dir) is not None:
        plan = api.plan_training(config, resume=True, **kw)
    return api.run_training(plan, progress), True


def run_demo(
    work_dir: str | Path = "outputs/demo",
    config: str | Path = DEMO_CONFIG,
    retrain: bool = False,
    pictures: int = 8,
    overrides=(),
    on_step: Optional[Callable[[str], None]] = None,
    backend: str = "onnxruntime",
    progress: Progress = SILENT,
) -> DemoResult:
    """Run every step; see the module docstring. ``on_step`` hears each step's name as it
    starts, ``progress`` what training reports (progress, notes, its log)."""
    # deferred: loads torch
    from vitdet_cli.export.api import export_artifacts

    step = on_step or (lambda _s: None)
    deployed = get_backend(backend)  # an unknown or unusable backend fails before training
    work = Path(work_dir)
    seconds: dict[str, float] = {}
    exp = load_config(Path(config), list(overrides))

    t0 = time.monotonic()
    step("train")
    train, trained_now = train_step(Path(config), work / "train", retrain, overrides, progress)
    seconds["train"] = time.monotonic() - t0
    if train.last_checkpoint is None:
        raise VitdetError(f"training left no checkpoint in {work / 'train'}", code="train_failed")

    t0 = time.monotonic()
    step("export")
    exported = export_artifacts(
        train.last_checkpoint, work / "train" / TRAIN_NAME, work / "artifacts"
    )
    artifacts = Artifacts.open(exported.out)
    seconds["export"] = time.monotonic() - t0

    root = Path(exp.data.root)  # the config's dataset, which training generated or checked
    ann = root / exp.data.val_ann
    val = list(from_annotations(ann, root / exp.data.val_img).images)
    t0 = time.monotonic()
    step("infer")
    drawn = PictureWriter(work / "infer" / "vis", val[:pictures])
    with StagedModel(artifacts, deployed) as model:
        drawn.draw = picture_of(model.class_names)
        run = run_images(
            model, val, 0.05, "none", warmup=1, repeat=1, record=True, on_result=drawn
        )
    shown = replace(run, images=val[:pictures], results=run.results[:pictures], tensors={})
    write_outputs(shown, work / "infer", drawn)
    seconds["infer"] = time.monotonic() - t0

    t0 = time.monotonic()
    step("compare")
    report = compare_runs(artifacts, run, work, 0.05, "none", ann_file=ann)
    seconds["compare"] = time.monotonic() - t0
    result = DemoResult(work, train, exported, shown, report, seconds, trained_now)

    write_json_atomic(work / "demo_summary.json", result.to_dict(), indent=2)
    return result
