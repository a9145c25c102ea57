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
    no_decay_names,
    skips_weight_decay,
)
from vitdet_cli.model.simple_fpn import SimpleFPN
from vitdet_cli.model.vit import ViT

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


# name, ndim, owned by a torch norm layer → exempt from weight decay under (mmdet, detectron2, timm)
NO_DECAY_TABLE = [
    ("backbone.pos_embed", 3, False, (True, True, True)),
    ("backbone.patch_embed.proj.weight", 4, False, (False, False, False)),
    ("backbone.patch_embed.proj.bias", 1, False, (False, False, True)),
    ("backbone.blocks.0.norm1.weight", 1, True, (True, True, True)),
    ("backbone.blocks.11.norm2.bias", 1, True, (True, True, True)),
    ("module.backbone.blocks.1.norm1.weight", 1, True, (True, True, True)),  # DDP
    ("backbone.blocks.0.attn.qkv.bias", 1, False, (False, False, True)),
    ("backbone.blocks.0.attn.rel_pos_h", 2, False, (False, False, False)),
    ("backbone.blocks.3.mlp.fc1.weight", 2, False, (False, False, False)),
    ("backbone.norm.weight", 1, True, (False, True, True)),  # a norm outside the blocks
    ("neck.fpn1.1.weight", 1, False, (False, False, True)),  # LN2d between the deconvs
    ("neck.lateral_convs.0.norm_layer.bias", 1, False, (False, False, True)),
    ("neck.lateral_convs.0.bn.weight", 1, True, (False, True, True)),  # a BatchNorm neck
    ("neck.fpn1.0.bias", 1, False, (False, False, True)),
    ("rpn_head.rpn_conv.0.bias", 1, False, (False, False, True)),
    ("roi_head.bbox_head.shared_convs.0.norm_layer.weight", 1, False, (False, False, True)),
    ("roi_head.bbox_head.fc_cls.weight", 2, False, (False, False, False)),
]


@pytest.mark.parametrize("rule_index", [0, 1, 2], ids=["mmdet", "detectron2", "timm"])
@pytest.mark.parametrize(("name", "ndim", "in_norm", "expected"), NO_DECAY_TABLE)
def test_no_decay_rules_by_parameter_name(rule_index, name, ndim, in_norm, expected):
    rule = ("mmdet", "detectron2", "timm")[rule_index]
    assert skips_weight_decay(rule, name, ndim, in_norm) is expected[rule_index]


def test_no_decay_sets_of_vit_b():
    """ViT-B + SimpleFPN (203 tensors): mmdet and detectron2 exempt the same 49 (the 24 block
    LayerNorms and pos_embed; detectron2's channel LN2d is no torch norm), timm 119."""
    from vitdet_cli.config.presets import get_preset

    preset = get_preset("vit-b")
    model = nn.Module()
    with torch.device("meta"):
        model.backbone = ViT(**preset.backbone_kwargs())
        model.neck = SimpleFPN(**preset.neck_kwargs())
    assert len(list(model.parameters())) == 203
    mmdet = no_decay_names(model, "mmdet")
    assert mmdet == no_decay_names(model, "detectron2")
    assert len(mmdet) == 49 and "backbone.pos_embed" in mmdet
    assert all(n.startswith("backbone.blocks.") for n in mmdet - {"backbone.pos_embed"})
    assert len(no_decay_names(model, "timm")) == 119


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

    # the default rule is MMDetection's: only the blocks' norms and pos_embed go undecayed
    check("backbone.patch_embed.proj.weight", 0, True)
    check("backbone.patch_embed.proj.bias", 0, True)
    check("backbone.pos_embed", 0, False)
    check("backbone.blocks.0.attn.qkv.weight", 1, True)
    check("backbone.blocks.0.attn.rel_pos_h", 1, True)
    check("backbone.blocks.0.norm1.weight", 1, False)
    check("backbone.blocks.1.mlp.fc1.bias", 2, True)
    check("neck.fpn1.0.weight", 3, True)
    check("neck.lateral_convs.0.norm_layer.weight", 3, True)
    check("head.weight", 3, True)

    # A step runs with these groups.
    model.backbone(torch.randn(1, 3, 64, 64)).sum().backward()
    wrapper.optimizer.step()


def test_constructor_no_decay_rule_is_selectable():
    model = TinyDetector()
    for rule in ("mmdet", "detectron2", "timm"):
        groups = _build(model, num_layers=2, decay_rate=0.5, no_decay=rule).optimizer.param_groups
        undecayed = {n for g in groups if g["weight_decay"] == 0.0 for n in g["param_names"]}
        assert undecayed == no_decay_names(model, rule), rule
    assert "neck.lateral_convs.0.norm_layer.weight" in no_decay_names(model, "timm")


def test_constructor_rejects_bad_paramwise_cfg():
    model = TinyDetector()
    with pytest.raises(ConfigError, match="num_layers"):
        _build(model, num_layers=12, decay_rate=0.7)  # the backbone has 2 blocks
    with pytest.raises(ConfigError, match="decay_rate"):
        _build(model, num_layers=2, decay_rate=1.5)
    with pytest.raises(ConfigError, match="decay_type"):
        _build(model, num_layers=2, decay_rate=0.7, decay_type="stage_wise")
    with pytest.raises(ConfigError, match="no_decay"):
        _build(model, num_layers=2, decay_rate=0.7, no_decay="all")
