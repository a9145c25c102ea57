"""A random-init vit-tiny checkpoint and its exported artifacts, shared by the export tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY_CONFIG = ROOT / "configs" / "vitdet_tiny_shapes.yaml"


def make_checkpoint(path: Path, seed: int = 0) -> Path:
    """An mmengine-style checkpoint of a random vit-tiny Mask R-CNN with spread-out scores."""
    import torch
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    from vitdet_cli.config.loader import load_config
    from vitdet_cli.data.synth import CLASS_NAMES
    from vitdet_cli.model import register_modules
    from vitdet_cli.model.config_builder import model_cfg

    register_all_modules()
    register_modules()
    torch.manual_seed(seed)
    model_dict = model_cfg(load_config(TINY_CONFIG), len(CLASS_NAMES))
    model = MODELS.build(Config(dict(model=model_dict)).model).eval()
    for layer in (model.rpn_head.rpn_cls, model.roi_head.bbox_head.fc_cls):
        torch.nn.init.normal_(layer.weight, std=0.5)  # spread the scores: no ties to order
    meta = {"dataset_meta": {"classes": list(CLASS_NAMES)}}
    torch.save({"state_dict": model.state_dict(), "meta": meta}, path)
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    pytest.importorskip("mmcv.ops", reason="needs mmcv with ops (vitdet build-mmcv)")
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "iter_1.pth")


@pytest.fixture(scope="session")
def exported(tiny_checkpoint, tmp_path_factory):
    """(artifacts dir, ExportResult) of the tiny checkpoint."""
    from vitdet_cli.export.api import export_artifacts

    out = tmp_path_factory.mktemp("artifacts") / "tiny"
    return out, export_artifacts(tiny_checkpoint, TINY_CONFIG, out)
