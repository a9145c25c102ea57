"""Plan and run training: config → mmengine Config → in-process Runner or torchrun."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Union

from vitdet_cli.artifacts.model_config import TRAIN_NAME, write_model_config
from vitdet_cli.atomic import write_json_atomic
from vitdet_cli.config import load_config
from vitdet_cli.config.loader import parse_override
from vitdet_cli.envcheck.checks import require, require_fresh
from vitdet_cli.errors import VitdetError
from vitdet_cli.io_checks import prepare_out_dir
from vitdet_cli.model.config_builder import (
    RunShape,
    build_mmdet_config,
    effective_lr,
    total_batch,
)
from vitdet_cli.model.official import read_config
from vitdet_cli.platform import device as devlib
from vitdet_cli.platform.device import Placement
from vitdet_cli.progress import SILENT, Progress
from vitdet_cli.training import worker
from vitdet_cli.training.checkpoints import (
    check_load_from,
    latest_complete,
    remove_save_temps,
    resume_problem,
)
from vitdet_cli.training.curves import read_jsonl
from vitdet_cli.training.dataset import resolve_data
from vitdet_cli.training.launch import Launch, NodeSpec, plan_launch
from vitdet_cli.training.output import TRAIN_LOG, failure_detail, followed
from vitdet_cli.training.preflight import run_preflight

ResumeArg = Union[None, bool, Path]  # None/False: fresh; True: latest complete; Path: that file


@dataclass
class TrainPlan:
    source: Path
    work_dir: Path
    config_file: Path
    mm_cfg: object
    placement: Placement
    launch: Launch
    resume_from: Optional[Path]
    summary: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "source": str(self.source),
            "work_dir": str(self.work_dir),
            "config_file": str(self.config_file),
            "device": self.placement.kind,
            "devices": self.placement.devices,
            "world_size": self.placement.world_size,
            "backend": self.placement.backend,
            "env": self.launch.env,
            "command": self.launch.argv,
            "resume_from": str(self.resume_from) if self.resume_from else None,
            **self.summary,
        }


def _kind(requested: str, dry_run: bool, picked: list[int]) -> str:
    """The device kind; with devices picked, the runtimes are asked in a fresh process that
    already carries the selection (this one must not initialise them without it)."""
    if dry_run and requested != "auto":
        return requested
    if picked and requested != "cpu":
        selection = devlib.selection_env(requested, picked)
        kinds = devlib.available_kinds_fresh(selection)
        return devlib.resolve_kind(requested, kinds, selection)
    return devlib.resolve_kind(requested)


def _preflight(kind: str, dry_run: bool, picked: list[int]) -> None:
    """torch/mmcv/mmdet/torch_npu/CANN problems surface here, before any work is done; with
    devices picked, checked in a fresh process with the run's visible-device variable."""
    if dry_run:
        return

    env = Placement(kind, picked).env()
    if env:
        require_fresh(kind, env, ops=False)
    else:
        require(kind, ops=False)


def _resume_checkpoint(resume: ResumeArg, work_dir: Path) -> Optional[Path]:
    if resume is None or resume is False:
        return None
    if resume is True:
        found = latest_complete(work_dir)
        if found is None:
            raise VitdetError(
                f"--resume: no loadable checkpoint in {work_dir}",
                hint="train without --resume first, or pass --resume CKPT",
                code="no_checkpoint",
            )
        return found

    path = Path(resume)
    problem = resume_problem(path)
    if problem is not None:
        problem.message = f"--resume {problem.message}"
        raise problem
    return path


def plan_training(
    config: Path,
    device: Optional[str] = None,
    devices: Optional[str] = None,
    work_dir: Optional[Path] = None,
    resume: ResumeArg = None,
    load_from: Optional[Path] = None,
    overrides: Iterable[str] = (),
    nodes: Optional[NodeSpec] = None,
    dry_run: bool = False,
    progress: Progress = SILENT,
) -> TrainPlan:
    """Resolve everything a run needs; nothing is trained. The mmengine config is written to
    ``<work_dir>/vitdet_config.py`` (also for dry runs, so it can be inspected). ``progress``
    hears what was decided on the way (the dataset generated, annotations dropped)."""
    config = Path(config)
    nodes = nodes or NodeSpec()
    if config.suffix == ".py":
        return _plan_raw(
            config,
            device or "auto",
            devices,
            work_dir,
            resume,
            load_from,
            overrides,
            nodes,
            dry_run,
        )

    exp = load_config(config, overrides)
    picked = (
        devlib.parse_devices(devices) if devices is not None else list(exp.device.devices or [])
    )
    kind = _kind(device or exp.device.kind, dry_run, picked)
    _preflight(kind, dry_run, picked)
    placement = Placement(kind, picked)
    wd = Path(work_dir or exp.resolved_work_dir)
    prepare_out_dir(wd, "--work-dir")
    check_load_from(load_from)
    resume_from = _resume_checkpoint(resume, wd)
    if exp.model.pretrained is not None and not Path(exp.model.pretrained).is_file():
        raise VitdetError(
            f"{config}: model.pretrained {exp.model.pretrained} not found",
            hint="download the MAE ViT weights (e.g. mae_pretrain_vit_base.pth) to "
            "that path, or --set model.pretrained=null to train from scratch",
            code="pretrained_missing",
            exit_code=2,
        )
    paths = resolve_data(exp, wd, generate=True, progress=progress)
    if exp.model.num_classes is not None and exp.model.num_classes != len(paths.classes):
        raise VitdetError(
            f"{config}: model.num_classes={exp.model.num_classes} but "
            f"{paths.train_ann} has {len(paths.classes)} categories",
            hint="remove model.num_classes (it follows the data) or fix the data",
            code="config_invalid",
            exit_code=2,
        )
    shape = RunShape(kind, placement.world_size * nodes.nnodes)
    mm_cfg = build_mmdet_config(exp, paths, shape, wd, load_from)
    checked = _checked(mm_cfg, config, placement, shape.world_size, resume_from)
    threads = _threads(mm_cfg, placement)
    cfg_file = _dump(mm_cfg, wd)
    launch = plan_launch(placement, nodes, cfg_file, resume_from, wd)
    summary = {
        "preset": exp.model.preset,
        "classes": list(paths.classes),
        "train_images": paths.train_images,
        "max_iters": mm_cfg.train_cfg.max_iters,
        "total_batch": total_batch(exp, shape),
        "lr": exp.train.lr,
        "effective_lr": effective_lr(exp, shape),
        "lr_rule": f"lr × total_batch / {exp.train.base_batch_size}"
        if exp.train.scale_lr
        else "fixed",
        "amp": mm_cfg.optim_wrapper.type == "AmpOptimWrapper",
        "preflight": checked,
        "threads": threads,
    }
    return TrainPlan(config, wd, cfg_file, mm_cfg, placement, launch, resume_from, summary)


def _plan_raw(config, device, devices, work_dir, resume, load_from, overrides, nodes, dry_run):
    """A user's own mmengine .py config, passed through with our modules registered."""
    # projects.ViTDet's custom_imports: our modules, same type names (the worker registers them)
    cfg = read_config(config, register=False)
    updates = {}
    for text in overrides:
        keys, value = parse_override(text)
        updates[".".join(keys)] = value
    if updates:
        cfg.merge_from_dict(updates)
    picked = devlib.parse_devices(devices)
    kind = _kind(device, dry_run, picked)
    _preflight(kind, dry_run, picked)
    placement = Placement(kind, picked)
    wd = Path(work_dir or cfg.get("work_dir") or Path("work_dirs") / config.stem)
    cfg.work_dir = str(wd)
    world_size = placement.world_size * nodes.nnodes
    cfg.launcher = "pytorch" if world_size > 1 else "none"
    if load_from:
        check_load_from(load_from)
        cfg.load_from = str(load_from)
    prepare_out_dir(wd, "--work-dir")
    resume_from = _resume_checkpoint(resume, wd)
    checked = _checked(cfg, config, placement, world_size, resume_from)
    threads = _threads(cfg, placement)
    cfg_file = _dump(cfg, wd)
    launch = plan_launch(placement, nodes, cfg_file, resume_from, wd)
    summary = {"raw_config": True, "preflight": checked, "threads": threads}
    return TrainPlan(config, wd, cfg_file, cfg, placement, launch, resume_from, summary)


def _checked(cfg, source: Path, placement: Placement, world_size: int, resume_from) -> dict:
    """Device adaptations and checks shared by dry and real runs (see training.preflight)."""
    found = run_preflight(
        cfg, placement.kind, world_size, placement.backend, resume=resume_from is not None
    )
    found.raise_problems(source)
    return found.to_dict()


def _threads(cfg, placement: Placement) -> dict:
    """Intra-op threads per process (training/threads.py): its hook goes into the config."""
    from vitdet_cli.training.threads import add_to_config  # deferred: loads mmengine

    return add_to_config(cfg, placement.kind, placement.world_size).to_dict()


def _dump(cfg, work_dir: Path) -> Path:
    """``vitdet_config.py`` for mmengine, and the model part as data (``vitdet_config.json``):
    ``export``/``eval --checkpoint`` read the latter and never execute the former."""
    # deferred: loads torch
    from vitdet_cli.model.loading import model_config_of

    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / "vitdet_config.py"
    tmp = work_dir / f".vitdet_config.{os.getpid()}.py"
    cfg.dump(str(tmp))
    os.replace(tmp, path)
    write_model_config(work_dir / TRAIN_NAME, model_config_of(cfg))
    return path


@dataclass
class TrainResult:
    work_dir: Path
    seconds: float
    final_metrics: dict
    last_checkpoint: Optional[Path]
    curves: Optional[Path]
    ranks_in_sync: Optional[bool] = None  # distributed runs: all ranks ended with equal weights
    resumed_from: Optional[Path] = None

    def to_dict(self) -> dict:
        return {
            "work_dir": str(self.work_dir),
            "seconds": round(self.seconds, 1),
            "ranks_in_sync": self.ranks_in_sync,
            "resumed_from": str(self.resumed_from) if self.resumed_from else None,
            "final_metrics": self.final_metrics,
            "last_checkpoint": str(self.last_checkpoint) if self.last_checkpoint else None,
            "curves": str(self.curves) if self.curves else None,
        }


def run_training(plan: TrainPlan, progress: Progress = SILENT) -> TrainResult:
    """Train through torchrun (several devices), in one fresh worker process (one selected
    device: its visible-device variable is in that process's environment from the start), or
    in-process; then collect the final metrics.

    Whatever the run prints (mmengine's log, warnings) goes to ``<work_dir>/train.log``;
    ``progress`` gets rank 0's progress records and that log's lines as they come
    (``training/output.py``).
    """
    start = time.monotonic()

    shutil.rmtree(plan.work_dir / "ranks", ignore_errors=True)
    remove_save_temps(plan.work_dir)
    with followed(plan.work_dir, progress) as log:
        if plan.launch.argv is not None:
            env = dict(os.environ, **plan.launch.env)
            proc = subprocess.run(
                plan.launch.argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        else:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                worker.run(plan.config_file, plan.placement.kind, plan.work_dir, plan.resume_from)
    if plan.launch.argv is not None and proc.returncode != 0:
        what = "distributed training" if plan.launch.distributed else "training"
        runner = "torchrun" if plan.launch.distributed else "worker"
        detail, hint = failure_detail(plan.work_dir / TRAIN_LOG)
        raise VitdetError(
            f"{what} failed ({runner} exit {proc.returncode})" + (f": {detail}" if detail else ""),
            hint=(f"{hint}; " if hint else "") + f"full log: {plan.work_dir / TRAIN_LOG}",
            code="train_failed",
        )
    result = collect_result(plan.work_dir, time.monotonic() - start)
    result.resumed_from = plan.resume_from
    return result


def collect_result(work_dir: Path, seconds: float = 0.0) -> TrainResult:
    """The last validation metrics (also written to final_metrics.json) and artifact paths."""
    rows = read_jsonl(work_dir / "metrics.jsonl")
    vals = [r for r in rows if r.get("mode") == "val"]
    final = {
        k: v for k, v in (vals[-1] if vals else {}).items() if k.startswith("coco/") or k == "iter"
    }
    if final:
        write_json_atomic(work_dir / "final_metrics.json", final, indent=2)
    curves = work_dir / "curves.png"
    digests = {
        json.loads(p.read_text())["sha256"] for p in (work_dir / "ranks").glob("rank_*.json")
    }
    return TrainResult(
        work_dir,
        seconds,
        final,
        latest_complete(work_dir),
        curves if curves.is_file() else None,
        None if not digests else len(digests) == 1,
    )


def describe(plan: TrainPlan) -> str:
    return json.dumps(plan.to_dict(), indent=2)
