"""Presets: paper values, derived channels, lookup errors."""

from __future__ import annotations

import pytest

from vitdet_cli.config.presets import get_preset, list_presets
from vitdet_cli.errors import VitdetError


@pytest.mark.parametrize(
    ("name", "dim", "depth", "heads", "dp", "global_blocks", "decay"),
    [
        ("vit-b", 768, 12, 12, 0.1, (2, 5, 8, 11), 0.7),
        ("vit-l", 1024, 24, 16, 0.4, (5, 11, 17, 23), 0.8),
        ("vit-h", 1280, 32, 16, 0.5, (7, 15, 23, 31), 0.9),
    ],
)
def test_paper_presets(name, dim, depth, heads, dp, global_blocks, decay):
    p = get_preset(name)
    assert (p.embed_dim, p.depth, p.num_heads, p.drop_path_rate) == (dim, depth, heads, dp)
    assert p.global_block_indexes == global_blocks
    assert p.layer_decay == decay and p.num_layers == depth and p.fc_channels == 1024
    assert (p.img_size, p.patch_size, p.window_size, p.fpn_out_channels) == (1024, 16, 14, 256)
    assert p.fpn_in_channels == [dim // 4, dim // 2, dim, dim]
    bb = p.backbone_kwargs()
    assert set(bb["window_block_indexes"]) | set(global_blocks) == set(range(depth))
    assert not set(bb["window_block_indexes"]) & set(global_blocks)
    # MMDetection's build (mmcv's default eps), which its released checkpoints were trained with
    assert bb["use_rel_pos"] and bb["norm_cfg"]["eps"] == p.norm_eps == 1e-5
    assert p.neck_kwargs()["norm_cfg"]["eps"] == p.norm2d_cfg()["eps"] == 1e-5
    assert p.neck_cfg()["type"] == "SimpleFPN" and p.backbone_cfg()["type"] == "ViT"
    assert p.backbone_kwargs(img_size=512)["img_size"] == 512
    assert p.layer_decay_cfg() == {
        "num_layers": depth,
        "decay_rate": decay,
        "decay_type": "layer_wise",
    }


def test_vit_b_window_blocks_match_paper():
    assert get_preset("vit-b").window_block_indexes == (0, 1, 3, 4, 6, 7, 9, 10)


def test_vit_tiny_is_small_and_consistent():
    p = get_preset("vit-tiny")
    assert p.embed_dim <= 256 and p.depth <= 6 and 256 <= p.img_size <= 320
    assert p.embed_dim % p.num_heads == 0
    assert p.token_grid % p.window_size == 0  # windows tile the grid without padding
    assert p.global_block_indexes[-1] == p.depth - 1
    assert p.neck_kwargs()["in_channels"] == [48, 96, 192, 192]


def test_get_preset_normalises_and_suggests():
    assert get_preset("ViT_B").name == "vit-b"
    with pytest.raises(VitdetError) as info:
        get_preset("vit-bb")
    assert "did you mean 'vit-b'" in info.value.hint
    assert info.value.code == "unknown_preset"
    with pytest.raises(VitdetError) as info:
        get_preset("resnet50")
    assert "vit-tiny" in info.value.hint
    assert list_presets() == ["vit-b", "vit-l", "vit-h", "vit-tiny"]
