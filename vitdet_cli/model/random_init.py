"""A randomly initialised Mask R-CNN checkpoint of a YAML config — for tests and speed
benchmarks that need a real model of the right shapes but no training."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from vitdet_cli.config.loader import load_config
from vitdet_cli.model import register_modules
from vitdet_cli.model.config_builder import model_cfg


def save_random_checkpoint(
    config: str | Path,
    path: str | Path,
    class_names: Optional[Sequence[str]] = None,
    num_classes: int = 80,
    seed: int = 0,
) -> Path:
    """Write ``{'state_dict', 'meta': {'dataset_meta': {'classes'}}}`` like ``vitdet train``.

    The RPN and box classifiers get wide random weights so scores spread out (no ties), and a
    random model still yields a full set of detections, masks included.
    """
    import torch
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    names = list(class_names) if class_names else [f"class_{i}" for i in range(num_classes)]
    register_all_modules()
    register_modules()
    torch.manual_seed(seed)
    model_dict = model_cfg(load_config(Path(config)), len(names))
    model_dict.get("backbone", {}).pop("init_cfg", None)
    model = MODELS.build(Config(dict(model=model_dict)).model).eval()
    for layer in (model.rpn_head.rpn_cls, model.roi_head.bbox_head.fc_cls):
        torch.nn.init.normal_(layer.weight, std=0.5)
    meta = {"dataset_meta": {"classes": names}}
    torch.save({"state_dict": model.state_dict(), "meta": meta}, path)
    return Path(path)
