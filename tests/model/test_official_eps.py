"""LayerNorm eps: our build equals MMDetection's official ViTDet build, layer by layer.

MMDetection's configs give no ``eps`` (``norm_cfg=dict(type='LN')`` / ``dict(type='LN2d')``), so
mmcv's ``build_norm_layer`` default decides it in the backbone, the neck and the RoI heads.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

pytest.importorskip("mmcv.ops", reason="needs mmcv with ops (vitdet build-mmcv)")

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "vitdet_tiny_shapes.yaml"


def _our_model_dict(*overrides: str) -> dict:
    from vitdet_cli.config import load_config
    from vitdet_cli.model.config_builder import model_cfg

    exp = load_config(TINY, ["model.img_size=64", "model.norm_eps=null", *overrides])
    return model_cfg(exp, num_classes=3)


def _official_layout(model: dict) -> dict:
    """The same model written as MMDetection's config writes it: no eps anywhere."""
    official = copy.deepcopy(model)
    norms = (
        official["backbone"]["norm_cfg"],
        official["neck"]["norm_cfg"],
        official["roi_head"]["bbox_head"]["norm_cfg"],
        official["roi_head"]["mask_head"]["norm_cfg"],
    )
    assert all("eps" in norm for norm in norms)  # ours is explicit
    for norm in norms:
        norm.pop("eps", None)  # the two heads may share one dict
    return official


def _build(model: dict):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import ConfigDict

    from vitdet_cli.model import register_modules

    register_all_modules()
    register_modules()
    torch.manual_seed(0)
    return MODELS.build(ConfigDict(model)).eval()


def _norm_eps(model, prefix: str) -> list[float]:
    from vitdet_cli.model.simple_fpn import LN2d

    return [
        m.eps
        for name, m in model.named_modules()
        if name.startswith(prefix) and isinstance(m, (torch.nn.LayerNorm, LN2d))
    ]


def _outputs(model, x):
    from mmdet.structures import DetDataSample

    meta = dict(img_shape=(64, 64), ori_shape=(64, 64), scale_factor=(1.0, 1.0))
    sample = DetDataSample(metainfo=dict(meta, pad_shape=(64, 64), batch_input_shape=(64, 64)))
    with torch.no_grad():
        feats = model.extract_feat(x)
        rpn = model.rpn_head(feats)
        det = model.predict(x, [sample])[0].pred_instances
    return [*feats, *rpn[0], *rpn[1], det.bboxes, det.scores, det.masks.float()]


def test_default_eps_is_the_official_layout_and_outputs_are_identical():
    from mmcv.cnn import build_norm_layer

    mmcv_default = build_norm_layer(dict(type="LN"), 8)[1].eps
    ours = _build(_our_model_dict())
    official = _build(_official_layout(_our_model_dict()))
    depth = len(ours.backbone.blocks)
    for model in (ours, official):
        assert _norm_eps(model, "backbone.") == [mmcv_default] * (2 * depth)
        assert _norm_eps(model, "neck.") == [mmcv_default] * 9  # 8 conv norms + 1 in fpn1
        assert _norm_eps(model, "roi_head.") == [mmcv_default] * 8  # 4 box + 4 mask convs
    official.load_state_dict(ours.state_dict(), strict=True)
    x = torch.rand(1, 3, 64, 64)
    got, want = _outputs(ours, x), _outputs(official, x)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert torch.equal(a, b)


def test_norm_eps_field_sets_every_norm_and_changes_outputs():
    ours = _build(_our_model_dict("model.norm_eps=1e-6"))
    assert set(_norm_eps(ours, "")) == {1e-6} and len(_norm_eps(ours, "")) == 2 * 4 + 9 + 8
    official = _build(_official_layout(_our_model_dict()))
    official.load_state_dict(ours.state_dict(), strict=True)
    x = torch.rand(1, 3, 64, 64)
    feats = ours.extract_feat(x)[0]
    assert not torch.equal(feats, official.extract_feat(x)[0])


def test_demo_config_pins_detectron2_eps():
    """The demo's measured figures were trained with 1e-6; its config keeps it."""
    from vitdet_cli.config import load_config

    assert load_config(TINY).model.norm_eps == 1e-6
