"""Registration into (mmdet) registries, and the checkpoint key layout of MMDetection ViTDet."""

from __future__ import annotations

import pytest
import torch
from mmengine.registry import Registry

import vitdet_cli.model as vm
from vitdet_cli.config.presets import get_preset
from vitdet_cli.errors import VitdetError
from vitdet_cli.model.simple_fpn import SimpleFPN
from vitdet_cli.model.vit import ViT


def fresh_registries():
    return {
        "MODELS": Registry("model"),
        "OPTIM_WRAPPER_CONSTRUCTORS": Registry("optim wrapper constructor"),
        "HOOKS": Registry("hook"),
    }


def test_register_into_given_registries_is_idempotent():
    regs = fresh_registries()
    added = vm.register_modules(regs)
    assert sorted(added) == sorted(
        [
            "MODELS.ViT",
            "MODELS.SimpleFPN",
            "MODELS.LN2d",
            "OPTIM_WRAPPER_CONSTRUCTORS.LayerDecayOptimizerConstructor",
            "HOOKS.Fp16CompresssionHook",
        ]
    )
    assert vm.register_modules(regs) == []
    assert regs["MODELS"].get("ViT") is ViT
    neck = regs["MODELS"].build({"type": "SimpleFPN", "backbone_channel": 16, "out_channels": 8})
    assert isinstance(neck, SimpleFPN)


def test_foreign_class_refused_unless_forced():
    regs = fresh_registries()

    class Other(torch.nn.Module):
        pass

    regs["MODELS"].register_module(name="ViT", module=Other)
    with pytest.raises(VitdetError, match=r"MODELS\.ViT \(.*Other\)") as info:
        vm.register_modules(regs)
    assert info.value.code == "registry_conflict" and "force=True" in info.value.hint
    assert regs["MODELS"].get("ViT") is Other and regs["MODELS"].get("SimpleFPN") is None
    assert "MODELS.ViT" in vm.register_modules(regs, force=True)
    assert regs["MODELS"].get("ViT") is ViT and vm.register_modules(regs) == []


def test_register_into_mmdet_registries():
    pytest.importorskip("mmcv", reason="mmdet.registry imports mmcv (built by build-mmcv)")
    from mmdet.registry import HOOKS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS
    from mmengine.registry import DefaultScope

    vm.register_modules()
    assert vm.register_modules() == []
    assert MODELS.get("ViT") is ViT and MODELS.get("SimpleFPN") is SimpleFPN
    assert MODELS.get("LN2d") is vm.LN2d
    assert OPTIM_WRAPPER_CONSTRUCTORS.get("LayerDecayOptimizerConstructor") is (
        vm.LayerDecayOptimizerConstructor
    )
    assert HOOKS.get("Fp16CompresssionHook") is vm.Fp16CompresssionHook
    with DefaultScope.overwrite_default_scope("mmdet"):
        backbone = MODELS.build(
            {
                "type": "ViT",
                "img_size": 64,
                "embed_dim": 32,
                "depth": 2,
                "num_heads": 2,
                "window_block_indexes": (0,),
                "window_size": 2,
            }
        )
    assert isinstance(backbone, ViT)


# --------------------------------------------------------------------------- key layout

# Written from MMDetection projects/ViTDet (vit.py: Block/Attention/Mlp/PatchEmbed with
# use_rel_pos=True; simple_fpn.py: fpn1..fpn4 Sequentials, ConvModule(conv + LN2d, which
# mmcv names "norm_layer", conv without bias)) for ViT-B at 1024 px.
BLOCK_KEYS = {
    "norm1.weight": (768,),
    "norm1.bias": (768,),
    "attn.qkv.weight": (2304, 768),
    "attn.qkv.bias": (2304,),
    "attn.proj.weight": (768, 768),
    "attn.proj.bias": (768,),
    "norm2.weight": (768,),
    "norm2.bias": (768,),
    "mlp.fc1.weight": (3072, 768),
    "mlp.fc1.bias": (3072,),
    "mlp.fc2.weight": (768, 3072),
    "mlp.fc2.bias": (768,),
}
EXPLICIT_VIT_B = {
    "backbone.pos_embed": (1, 197, 768),
    "backbone.patch_embed.proj.weight": (768, 3, 16, 16),
    "backbone.patch_embed.proj.bias": (768,),
    "backbone.blocks.0.attn.rel_pos_h": (27, 64),  # window block: 2*14-1
    "backbone.blocks.0.attn.rel_pos_w": (27, 64),
    "backbone.blocks.0.attn.qkv.weight": (2304, 768),
    "backbone.blocks.0.mlp.fc1.bias": (3072,),
    "backbone.blocks.2.attn.rel_pos_h": (127, 64),  # global block: 2*64-1
    "backbone.blocks.2.attn.rel_pos_w": (127, 64),
    "backbone.blocks.2.norm2.weight": (768,),
    "backbone.blocks.11.attn.rel_pos_h": (127, 64),
    "neck.fpn1.0.weight": (768, 384, 2, 2),
    "neck.fpn1.0.bias": (384,),
    "neck.fpn1.1.weight": (384,),
    "neck.fpn1.1.bias": (384,),
    "neck.fpn1.3.weight": (384, 192, 2, 2),
    "neck.fpn1.3.bias": (192,),
    "neck.fpn2.0.weight": (768, 384, 2, 2),
    "neck.fpn2.0.bias": (384,),
    "neck.lateral_convs.0.conv.weight": (256, 192, 1, 1),
    "neck.lateral_convs.0.norm_layer.weight": (256,),
    "neck.lateral_convs.0.norm_layer.bias": (256,),
    "neck.lateral_convs.3.conv.weight": (256, 768, 1, 1),
    "neck.fpn_convs.2.conv.weight": (256, 256, 3, 3),
    "neck.fpn_convs.2.norm_layer.bias": (256,),
}


def expected_vit_b_keys() -> dict[str, tuple]:
    keys = {
        "backbone.pos_embed": (1, 197, 768),
        "backbone.patch_embed.proj.weight": (768, 3, 16, 16),
        "backbone.patch_embed.proj.bias": (768,),
    }
    for i in range(12):
        size = 127 if i in (2, 5, 8, 11) else 27
        keys.update({f"backbone.blocks.{i}.{k}": s for k, s in BLOCK_KEYS.items()})
        keys[f"backbone.blocks.{i}.attn.rel_pos_h"] = (size, 64)
        keys[f"backbone.blocks.{i}.attn.rel_pos_w"] = (size, 64)
    keys.update(
        {
            "neck.fpn1.0.weight": (768, 384, 2, 2),
            "neck.fpn1.0.bias": (384,),
            "neck.fpn1.1.weight": (384,),
            "neck.fpn1.1.bias": (384,),
            "neck.fpn1.3.weight": (384, 192, 2, 2),
            "neck.fpn1.3.bias": (192,),
            "neck.fpn2.0.weight": (768, 384, 2, 2),
            "neck.fpn2.0.bias": (384,),
        }
    )
    for i, c in enumerate((192, 384, 768, 768)):
        keys[f"neck.lateral_convs.{i}.conv.weight"] = (256, c, 1, 1)
        keys[f"neck.fpn_convs.{i}.conv.weight"] = (256, 256, 3, 3)
        for conv in ("lateral_convs", "fpn_convs"):
            keys[f"neck.{conv}.{i}.norm_layer.weight"] = (256,)
            keys[f"neck.{conv}.{i}.norm_layer.bias"] = (256,)
    return keys


def test_vit_b_state_dict_matches_mmdet_vitdet_keys():
    preset = get_preset("vit-b")
    with torch.device("meta"):  # no memory, no init cost
        backbone = ViT(**preset.backbone_kwargs())
        neck = SimpleFPN(**preset.neck_kwargs())
    ours = {f"backbone.{k}": tuple(v.shape) for k, v in backbone.state_dict().items()}
    ours.update({f"neck.{k}": tuple(v.shape) for k, v in neck.state_dict().items()})
    for key, shape in EXPLICIT_VIT_B.items():
        assert ours.get(key) == shape, key
    expected = expected_vit_b_keys()
    assert set(ours) - set(expected) == set()
    assert set(expected) - set(ours) == set()
    assert ours == expected
    assert len([k for k in ours if k.startswith("backbone.")]) == 3 + 14 * 12


def test_official_config_makes_our_classes_win_over_the_project(tmp_path):
    """projects.ViTDet imported in this process: a config naming it still builds ours."""
    pytest.importorskip("mmcv", reason="mmdet.registry imports mmcv (built by build-mmcv)")
    from mmdet.registry import MODELS

    from vitdet_cli.model.official import read_config

    class ProjectViT(torch.nn.Module):
        pass

    vm.register_modules()
    MODELS.register_module(name="ViT", module=ProjectViT, force=True)  # what its import does
    try:
        with pytest.raises(VitdetError) as info:
            vm.register_modules()
        assert info.value.code == "registry_conflict" and "ProjectViT" in info.value.message
        config = tmp_path / "official.py"
        config.write_text(
            "custom_imports = dict(imports=['projects.ViTDet.vitdet'], "
            "allow_failed_imports=False)\nmodel = dict(type='MaskRCNN')\n"
        )
        cfg = read_config(config)
        assert "custom_imports" not in cfg and MODELS.get("ViT") is ViT
    finally:
        vm.register_modules(force=True)
