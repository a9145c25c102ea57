"""Rebuild a trained Mask R-CNN from its checkpoint and config, for export and the torch backend.

The config is the mmengine ``.py`` that ``vitdet train`` dumps into the work dir
(``vitdet_config.py``, found beside the checkpoint by default) or one of our YAML configs.
A checkpoint that does not fit the config is reported by key, not by a torch traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from torch import nn

from vitdet_cli.errors import VitdetError
from vitdet_cli.metafile import sha256_file

CONFIG_NAME = "vitdet_config.py"


@dataclass
class TrainedModel:
    """An mmdet ``MaskRCNN`` in eval mode with what export needs to describe it."""

    model: nn.Module
    model_dict: dict[str, Any]
    img_size: int
    class_names: list[str]
    checkpoint: Path
    checkpoint_sha256: str
    config_file: Path


def find_config(checkpoint: Path, config: Optional[Path]) -> Path:
    """``config`` if given, else the ``vitdet_config.py`` dumped beside the checkpoint."""
    if config is not None:
        if not Path(config).is_file():
            raise VitdetError(f"config {config} not found", code="config_missing", exit_code=2)
        return Path(config)
    found = Path(checkpoint).parent / CONFIG_NAME
    if not found.is_file():
        raise VitdetError(
            f"no config given and {found} does not exist",
            hint="pass --config (the YAML you trained with, or the work dir's vitdet_config.py)",
            code="config_missing",
            exit_code=2,
        )
    return found


def _mm_model_dict(config: Path, num_classes: int) -> tuple[dict, int, Optional[list[str]]]:
    """(model dict, test image size, class names if the config names them)."""
    if config.suffix in (".yaml", ".yml"):
        from vitdet_cli.config.loader import load_config
        from vitdet_cli.model.config_builder import model_cfg

        model = model_cfg(load_config(config), num_classes)
        return model, int(model["backbone"]["img_size"]), None
    from vitdet_cli.model.official import read_config

    # MMDetection's projects/ViTDet configs too: their custom_imports map to our modules
    cfg = read_config(config)
    model = cfg.model.to_dict()
    classes = None
    try:
        classes = list(cfg.test_dataloader.dataset.metainfo["classes"])
    except (AttributeError, KeyError, TypeError):
        pass
    img = model.get("backbone", {}).get("img_size")
    pad = model.get("data_preprocessor", {}).get("batch_augments") or []
    if img is None and pad:
        img = pad[0]["size"][0]
    if img is None:
        raise VitdetError(
            f"{config}: cannot tell the test image size (no backbone.img_size)",
            code="config_invalid",
            exit_code=2,
        )
    return model, int(img), classes


def _num_classes(state: dict) -> int:
    w = state.get("roi_head.bbox_head.fc_cls.weight")
    if w is None:
        raise VitdetError(
            "the checkpoint has no roi_head.bbox_head.fc_cls.weight: not a Mask R-CNN checkpoint",
            hint="pass a checkpoint written by `vitdet train` (work_dir/iter_N.pth)",
            code="checkpoint_mismatch",
        )
    return int(w.shape[0]) - 1


def _fit_error(checkpoint: Path, config: Path, exc: RuntimeError) -> VitdetError:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    detail = "; ".join(lines[1:4]) or lines[0]
    return VitdetError(
        f"checkpoint {checkpoint} does not fit config {config}: {detail[:400]}",
        hint="pass the --config the checkpoint was trained with (its work dir's vitdet_config.py)",
        code="checkpoint_mismatch",
    )


def load_trained_model(checkpoint: str | Path, config: str | Path | None = None) -> TrainedModel:
    """Build the model of ``config`` and load ``checkpoint`` into it (strict, on the CPU)."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    from vitdet_cli.model import register_modules
    from vitdet_cli.model.checkpoint import read_checkpoint
    from vitdet_cli.model.shims import allow_mmengine_checkpoints

    checkpoint = Path(checkpoint)
    allow_mmengine_checkpoints()
    obj = read_checkpoint(checkpoint)
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else obj
    if not isinstance(state, dict):
        raise VitdetError(f"{checkpoint}: no state dict inside", code="checkpoint_mismatch")
    config_file = find_config(checkpoint, Path(config) if config else None)
    num_classes = _num_classes(state)
    model_dict, img_size, classes = _mm_model_dict(config_file, num_classes)
    meta_classes = (obj.get("meta") or {}).get("dataset_meta", {}).get("classes")
    names = list(meta_classes or classes or [f"class_{i}" for i in range(num_classes)])
    if len(names) != num_classes:
        raise VitdetError(
            f"{checkpoint} predicts {num_classes} classes but names {len(names)}",
            hint="pass the --config the checkpoint was trained with",
            code="checkpoint_mismatch",
        )
    register_all_modules()
    register_modules()
    model_dict.pop("init_cfg", None)
    model_dict.get("backbone", {}).pop("init_cfg", None)  # never fetch pre-trained weights here
    try:
        model = MODELS.build(Config(dict(model=model_dict)).model)
    except Exception as exc:
        raise VitdetError(
            f"cannot build the model of {config_file}: {exc}", code="config_invalid", exit_code=2
        ) from exc
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise _fit_error(checkpoint, config_file, exc) from exc
    model.eval()
    return TrainedModel(
        model=model,
        model_dict=model_dict,
        img_size=img_size,
        class_names=names,
        checkpoint=checkpoint,
        checkpoint_sha256=sha256_file(checkpoint),
        config_file=config_file,
    )
