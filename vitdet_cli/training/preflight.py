"""Before training: adapt an mmengine config to the device it runs on, and find what would fail.

The same checks run for ``--dry-run`` and for a real run, for our YAML configs and for raw
``.py`` configs (e.g. MMDetection's projects/ViTDet). Adaptations are applied and reported as
notices; problems (missing files, packages) stop the run with a fix for each.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from vitdet_cli.errors import VitdetError
from vitdet_cli.model.config_builder import cpu_ddp_wrapper_cfg

#: mmengine vis backends and the package each one imports when it starts
VIS_BACKEND_PACKAGES = {
    "TensorboardVisBackend": "tensorboard",
    "WandbVisBackend": "wandb",
    "MLflowVisBackend": "mlflow",
    "ClearMLVisBackend": "clearml",
    "NeptuneVisBackend": "neptune",
    "DVCLiveVisBackend": "dvclive",
    "AimVisBackend": "aim",
}
#: AmpOptimWrapper keys the plain OptimWrapper does not take
_AMP_ONLY_KEYS = ("loss_scale", "dtype", "use_fsdp")
_DATALOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")
_EVALUATORS = ("val_evaluator", "test_evaluator")


@dataclass
class Problem:
    """Something that would stop the run here, and how to fix it."""

    what: str
    fix: str


@dataclass
class Preflight:
    notices: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "notices": self.notices,
            "problems": [{"problem": p.what, "fix": p.fix} for p in self.problems],
        }

    def raise_problems(self, source: Path | str) -> None:
        """One error listing every problem with its fix (exit 2)."""
        if not self.problems:
            return
        n = len(self.problems)
        raise VitdetError(
            f"{source}: {n} problem{'s' if n > 1 else ''} would stop this run: "
            + "; ".join(f"({i}) {p.what}" for i, p in enumerate(self.problems, 1)),
            hint="; ".join(f"({i}) {p.fix}" for i, p in enumerate(self.problems, 1)),
            code="preflight_failed",
            exit_code=2,
        )


def adapt_to_device(cfg: Any, kind: str, world_size: int, backend: str) -> list[str]:
    """Make ``cfg`` runnable on ``kind`` as our YAML configs are built; returns notices."""
    notices = []
    wrapper = cfg.get("optim_wrapper") or {}
    if kind == "cpu" and wrapper.get("type") == "AmpOptimWrapper":
        wrapper["type"] = "OptimWrapper"
        for key in _AMP_ONLY_KEYS:
            wrapper.pop(key, None)
        notices.append(
            "optim_wrapper: AmpOptimWrapper needs a GPU or NPU; this CPU run uses OptimWrapper "
            "(fp32). --set optim_wrapper.type=OptimWrapper says so in the config"
        )
    if world_size > 1:
        env = dict(cfg.get("env_cfg") or {})
        dist_cfg = dict(env.get("dist_cfg") or {})
        if dist_cfg.get("backend") != backend:
            if dist_cfg.get("backend"):
                notices.append(f"env_cfg.dist_cfg.backend: {dist_cfg['backend']} → {backend}")
            env["dist_cfg"] = {**dist_cfg, "backend": backend}
            cfg["env_cfg"] = env
        if kind == "cpu":
            given = cfg.get("model_wrapper_cfg")
            if given is None:
                cfg["model_wrapper_cfg"] = cpu_ddp_wrapper_cfg(
                    bool(cfg.get("find_unused_parameters", False))
                )
                notices.append("model_wrapper_cfg: DDP without device_ids (CPU)")
            else:
                given["device_ids"] = None
    return notices


def find_problems(cfg: Any, resume: bool = False) -> list[Problem]:
    """Missing vis-backend packages, data files and pre-trained weights."""
    problems = list(_vis_backend_problems(cfg))
    for what, path, root_key in _data_paths(cfg):
        if not Path(path).exists():
            fix = f"--set {root_key}=DIR (paths are relative to it)" if root_key else ""
            fix = fix or f"--set {what}=PATH"
            problems.append(Problem(f"{what} {path} not found", f"put the data there, or {fix}"))
    return problems + list(_weight_problems(cfg, resume))


def run_preflight(
    cfg: Any, kind: str, world_size: int, backend: str, resume: bool = False
) -> Preflight:
    """Adapt ``cfg`` in place, then check it (see the module docstring)."""
    return Preflight(adapt_to_device(cfg, kind, world_size, backend), find_problems(cfg, resume))


def _vis_backend_problems(cfg: Any) -> Iterator[Problem]:
    """The Runner starts ``visualizer.vis_backends`` (a top-level ``vis_backends`` is a name)."""
    where = "visualizer.vis_backends"
    for backend in (cfg.get("visualizer") or {}).get("vis_backends") or []:
        kind = backend.get("type") if hasattr(backend, "get") else None
        package = VIS_BACKEND_PACKAGES.get(kind)
        if package and importlib.util.find_spec(package) is None:
            yield Problem(
                f"{where}: {kind} needs the '{package}' package, which is not installed",
                f"install {package}, or keep the local backend only: "
                f"--set '{where}=[{{type: LocalVisBackend}}]'",
            )


def _is_remote(path: str) -> bool:
    return "://" in path


def _join(root: Any, path: Any) -> str:
    path = str(path)
    if root and not Path(path).is_absolute() and not _is_remote(path):
        return str(Path(str(root)) / path)
    return path


def _datasets(dataset: Any, key: str) -> Iterator[tuple[str, Any]]:
    """A dataset cfg and those it wraps (RepeatDataset, ConcatDataset, ...)."""
    if not hasattr(dataset, "get"):
        return
    yield key, dataset
    if dataset.get("dataset") is not None:
        yield from _datasets(dataset["dataset"], f"{key}.dataset")
    for i, inner in enumerate(dataset.get("datasets") or []):
        yield from _datasets(inner, f"{key}.datasets.{i}")


def _data_paths(cfg: Any) -> Iterator[tuple[str, str, str]]:
    """``(dotted key, path, dotted key of its data_root or '')`` of each dataset file and folder."""
    seen = set()
    for loader in _DATALOADERS:
        for key, ds in _datasets((cfg.get(loader) or {}).get("dataset"), f"{loader}.dataset"):
            root = ds.get("data_root")
            found = [(f"{key}.ann_file", ds.get("ann_file"))]
            found += [
                (f"{key}.data_prefix.{name}", value)
                for name, value in (ds.get("data_prefix") or {}).items()
            ]
            for what, value in found:
                path = _join(root, value) if value else ""
                if path and path not in seen and not _is_remote(path):
                    seen.add(path)
                    yield what, path, f"{key}.data_root" if root else ""
    for evaluator in _EVALUATORS:
        metric = cfg.get(evaluator)
        ann = str(metric.get("ann_file") or "") if hasattr(metric, "get") else ""
        if ann and ann not in seen and not _is_remote(ann):
            seen.add(ann)
            yield f"{evaluator}.ann_file", ann, ""


def _init_cfgs(node: Any, key: str) -> Iterator[tuple[str, Any]]:
    """``(dotted key, init cfg)`` of every ``init_cfg`` under ``node``."""
    if not hasattr(node, "items"):
        return
    for name, value in node.items():
        if name != "init_cfg":
            yield from _init_cfgs(value, f"{key}.{name}")
        elif isinstance(value, list):
            yield from ((f"{key}.init_cfg.{i}", v) for i, v in enumerate(value))
        elif value is not None:
            yield f"{key}.init_cfg", value


def _weight_problems(cfg: Any, resume: bool) -> Iterator[Problem]:
    for key, init in _init_cfgs(cfg.get("model") or {}, "model"):
        path = str(init.get("checkpoint") or "") if hasattr(init, "get") else ""
        if init.get("type") == "Pretrained" and path and not _is_remote(path):
            if not Path(path).is_file():
                yield Problem(
                    f"{key}.checkpoint {path} not found",
                    f"download it to that path, or --set {key}.checkpoint=PATH "
                    f"(--set {key}=null trains from scratch)",
                )
    load_from = str(cfg.get("load_from") or "")
    if load_from and not resume and not _is_remote(load_from) and not Path(load_from).is_file():
        yield Problem(f"load_from {load_from} not found", "fix the path: --set load_from=PATH")
