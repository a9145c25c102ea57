"""Layer-wise lr decay: layer ids, scales, and the optimizer-wrapper constructor."""

from __future__ import annotations

import pytest
import torch
from model_test_helpers import tiny_vit
from torch import nn

from vitdet_cli.errors import ConfigError
from vitdet_cli.model.layer_decay import (
    LayerDecayOptimizerConstructor,
    get_layer_id,
    lr_scale,
)
from vitdet_cli.model.simple_fpn import SimpleFPN

VIT_B_LAYERS = 12

VIT_B_IDS = {
    "backbone.patch_embed.proj.weight": 0,
    "backbone.patch_embed.proj.bias": 0,
    "backbone.pos_embed": 0,
    "backbone.blocks.0.norm1.weight": 1,
    "backbone.blocks.0.attn.rel_pos_h": 1,
    "backbone.blocks.5.attn.qkv.weight": 6,
    "backbone.blocks.10.mlp.fc2.bias": 11,
    "backbone.blocks.11.norm2.weight": 12,
    "neck.fpn1.0.weight": 13,
    "neck.lateral_convs.0.norm_layer.weight": 13,
    "rpn_head.rpn_conv.weight": 13,
    "roi_head.bbox_head.fc_cls.weight": 13,
    "module.backbone.blocks.3.attn.proj.weight": 4,  # DDP-wrapped names
    "blocks.2.attn.qkv.weight": 3,  # a bare backbone
}


@pytest.mark.parametrize(("name", "layer_id"), sorted(VIT_B_IDS.items()))
def test_get_layer_id_vit_b(name, layer_id):
    assert get_layer_id(name, VIT_B_LAYERS) == layer_id


def test_lr_scales_vit_b():
    assert lr_scale(13, VIT_B_LAYERS, 0.7) == 1.0
    for name, layer_id in VIT_B_IDS.items():
        expected = 0.7 ** (13 - layer_id)
        assert lr_scale(get_layer_id(name, VIT_B_LAYERS), VIT_B_LAYERS, 0.7) == pytest.approx(
            expected
        ), name
    assert lr_scale(0, VIT_B_LAYERS, 0.7) == pytest.approx(0.7**13)  # ~0.0097


class TinyDetector(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = tiny_vit()
        self.neck = SimpleFPN(backbone_channel=32, out_channels=8)
        self.head = nn.Linear(8, 2)


def _build(model, **paramwise):
    cfg = {"optimizer": {"type": "AdamW", "lr": 1e-4, "weight_decay": 0.1}}
    return LayerDecayOptimizerConstructor(cfg, paramwise_cfg=paramwise)(model)


def test_constructor_groups_lrs_and_weight_decay():
    model = TinyDetector()
    model.backbone.blocks[1].norm2.weight.requires_grad_(False)  # frozen: left out
    wrapper = _build(model, num_layers=2, decay_rate=0.5)
    groups = wrapper.optimizer.param_groups
    by_name = {}
    for group in groups:
        for name in group["param_names"]:
            assert name not in by_name, f"{name} in two groups"
            by_name[name] = group
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set(by_name) == trainable
    assert "backbone.blocks.1.norm2.weight" not in by_name

    def check(name, layer_id, decayed):
        group = by_name[name]
        assert group["lr"] == pytest.approx(1e-4 * 0.5 ** (3 - layer_id)), name
        assert group["weight_decay"] == (0.1 if decayed else 0.0), name

    check("backbone.patch_embed.proj.weight", 0, True)
    check("backbone.patch_embed.proj.bias", 0, False)
    check("backbone.pos_embed", 0, False)
    check("backbone.blocks.0.attn.qkv.weight", 1, True)
    check("backbone.blocks.0.attn.rel_pos_h", 1, True)
    check("backbone.blocks.0.norm1.weight", 1, False)
    check("backbone.blocks.1.mlp.fc1.bias", 2, False)
    check("neck.fpn1.0.weight", 3, True)
    check("neck.lateral_convs.0.norm_layer.weight", 3, False)
    check("head.weight", 3, True)

    # A step runs with these groups.
    model.backbone(torch.randn(1, 3, 64, 64)).sum().backward()
    wrapper.optimizer.step()


def test_constructor_rejects_bad_paramwise_cfg():
    model = TinyDetector()
    with pytest.raises(ConfigError, match="num_layers"):
        _build(model, num_layers=12, decay_rate=0.7)  # the backbone has 2 blocks
    with pytest.raises(ConfigError, match="decay_rate"):
        _build(model, num_layers=2, decay_rate=1.5)
    with pytest.raises(ConfigError, match="decay_type"):
        _build(model, num_layers=2, decay_rate=0.7, decay_type="stage_wise")
