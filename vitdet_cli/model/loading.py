"""Rebuild a trained Mask R-CNN from its checkpoint and config, for export and the torch backend.

The config is data by default: the ``vitdet_config.json`` that ``vitdet train`` writes beside
the checkpoints, or an artifacts folder's ``model_config.json``. Python is executed only when a
user names a ``.py`` config (``--config``); a ``vitdet_config.py`` found beside a checkpoint is
never run. A checkpoint that does not fit the config is reported by key, not by a traceback.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from vitdet_cli.artifacts.model_config import (
    TRAIN_NAME,
    ModelConfig,
    beside_checkpoint,
    read_model_config,
)
from vitdet_cli.config.loader import config_path, load_config
from vitdet_cli.errors import VitdetError
from vitdet_cli.metafile import sha256_file
from vitdet_cli.model import register_modules
from vitdet_cli.model.checkpoint import read_checkpoint
from vitdet_cli.model.config_builder import model_cfg
from vitdet_cli.model.official import read_config
from vitdet_cli.model.shims import allow_mmengine_checkpoints

PY_NAME = "vitdet_config.py"
"""The mmengine config ``vitdet train`` also dumps (for people and mmengine; never run here)."""


@dataclass
class TrainedModel:
    """An mmdet ``MaskRCNN`` in eval mode with what export needs to describe it."""

    model: nn.Module
    config: ModelConfig
    class_names: list[str]
    checkpoint: Path
    checkpoint_sha256: str
    config_source: str

    @property
    def model_dict(self) -> dict[str, Any]:
        return self.config.model

    @property
    def img_size(self) -> int:
        return self.config.img_size


def model_config_of(cfg: Any) -> ModelConfig:
    """The data an mmengine ``Config`` holds about the model: model dict, test size, classes."""
    model = cfg.model.to_dict()
    classes = None
    for loader in ("test_dataloader", "val_dataloader", "train_dataloader"):
        try:
            classes = [str(c) for c in cfg.get(loader).dataset.metainfo["classes"]]
            break
        except (AttributeError, KeyError, TypeError):
            continue
    img = model.get("backbone", {}).get("img_size")
    pad = model.get("data_preprocessor", {}).get("batch_augments") or []
    if img is None and pad:
        img = pad[0]["size"][0]
    if img is None:
        raise VitdetError(
            "the config does not tell the test image size (no backbone.img_size)",
            code="config_invalid",
            exit_code=2,
        )
    img = img[0] if isinstance(img, (list, tuple)) else img
    return ModelConfig(model, int(img), classes)


def _named_config(config: Path, num_classes: int) -> ModelConfig:
    """A config the user named: our YAML, a ``.json`` (data) or an mmengine ``.py`` (executed)."""
    config = config_path(config)
    if not config.is_file():
        raise VitdetError(f"config {config} not found", code="config_missing", exit_code=2)
    if config.suffix in (".yaml", ".yml"):
        model = model_cfg(load_config(config), num_classes)
        return ModelConfig(model, int(model["backbone"]["img_size"]))
    if config.suffix == ".json":
        return read_model_config(config)

    # MMDetection's projects/ViTDet configs too: their custom_imports map to our modules
    return model_config_of(read_config(config))


def resolve_config(
    checkpoint: Path, config: str | Path | ModelConfig | None, num_classes: int
) -> tuple[ModelConfig, str]:
    """(model config, where it came from): ``config`` if given, else the data config beside the
    checkpoint. Nothing beside the checkpoint is executed."""
    if isinstance(config, ModelConfig):
        return config, "model config data"
    if config is not None:
        return _named_config(Path(config), num_classes), str(config)
    found = Path(checkpoint).parent / TRAIN_NAME
    beside = beside_checkpoint(checkpoint)
    if beside is not None:
        return beside, str(found)
    py = found.with_name(PY_NAME)
    also = (
        f"; {py} is Python and runs only when you name it: --config {py}" if py.is_file() else ""
    )
    raise VitdetError(
        f"no config given and {found} does not exist{also}",
        hint="pass --config (the YAML you trained with, or a config you trust)",
        code="config_missing",
        exit_code=2,
    )


def _num_classes(state: dict) -> int:
    w = state.get("roi_head.bbox_head.fc_cls.weight")
    if w is None:
        raise VitdetError(
            "the checkpoint has no roi_head.bbox_head.fc_cls.weight: not a Mask R-CNN checkpoint",
            hint="pass a checkpoint written by `vitdet train` (work_dir/iter_N.pth)",
            code="checkpoint_mismatch",
        )
    return int(w.shape[0]) - 1


def _fit_error(checkpoint: Path, source: str, exc: RuntimeError) -> VitdetError:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    detail = "; ".join(lines[1:4]) or lines[0]
    return VitdetError(
        f"checkpoint {checkpoint} does not fit config {source}: {detail[:400]}",
        hint="pass the --config the checkpoint was trained with "
        "(its work dir's vitdet_config.json)",
        code="checkpoint_mismatch",
    )


def load_trained_model(
    checkpoint: str | Path, config: str | Path | ModelConfig | None = None
) -> TrainedModel:
    """Build the model of ``config`` (see :func:`resolve_config`) and load ``checkpoint`` into
    it (strict, on the CPU)."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    checkpoint = Path(checkpoint)
    allow_mmengine_checkpoints()
    obj = read_checkpoint(checkpoint)
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else obj
    if not isinstance(state, dict):
        raise VitdetError(f"{checkpoint}: no state dict inside", code="checkpoint_mismatch")
    num_classes = _num_classes(state)
    resolved, source = resolve_config(checkpoint, config, num_classes)
    meta_classes = (obj.get("meta") or {}).get("dataset_meta", {}).get("classes")
    names = list(
        meta_classes or resolved.class_names or [f"class_{i}" for i in range(num_classes)]
    )
    if len(names) != num_classes:
        raise VitdetError(
            f"{checkpoint} predicts {num_classes} classes but names {len(names)}",
            hint="pass the --config the checkpoint was trained with",
            code="checkpoint_mismatch",
        )
    register_all_modules()
    register_modules()
    model_dict = copy.deepcopy(resolved.model)
    model_dict.pop("init_cfg", None)
    model_dict.get("backbone", {}).pop("init_cfg", None)  # never fetch pre-trained weights here
    try:
        model = MODELS.build(Config(dict(model=model_dict)).model)
    except Exception as exc:
        raise VitdetError(
            f"cannot build the model of {source}: {exc}", code="config_invalid", exit_code=2
        ) from exc
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise _fit_error(checkpoint, source, exc) from exc
    model.eval()
    resolved = ModelConfig(model_dict, resolved.img_size, names)
    return TrainedModel(
        model=model,
        config=resolved,
        class_names=names,
        checkpoint=checkpoint,
        checkpoint_sha256=sha256_file(checkpoint),
        config_source=source,
    )
