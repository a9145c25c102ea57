"""SimpleFPN and LN2d."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vitdet_cli.config.presets import get_preset
from vitdet_cli.config.pyramid import pyramid_channels
from vitdet_cli.errors import ConfigError
from vitdet_cli.model.simple_fpn import LN2d, SimpleFPN


def test_ln2d_matches_layer_norm_over_channels():
    norm = LN2d(6, eps=1e-6)
    with torch.no_grad():
        norm.weight.copy_(torch.randn(6))
        norm.bias.copy_(torch.randn(6))
    x = torch.randn(2, 6, 5, 3) * 3 + 1
    expected = F.layer_norm(x.permute(0, 2, 3, 1), (6,), norm.weight, norm.bias, eps=1e-6)
    torch.testing.assert_close(norm(x), expected.permute(0, 3, 1, 2), rtol=1e-5, atol=1e-5)
    assert LN2d(4).eps == 1e-6


@pytest.mark.parametrize(
    ("norm_cfg", "eps"),
    [
        (None, 1e-5),
        ({"type": "LN2d", "requires_grad": True}, 1e-5),
        ({"type": "LN2d", "eps": 1e-6}, 1e-6),
    ],
)
def test_neck_norm_eps_follows_the_cfg_as_mmcv_builds_it(norm_cfg, eps):
    """A cfg without eps gets mmcv's 1e-5 in every neck norm (MMDetection's ViTDet build)."""
    neck = SimpleFPN(backbone_channel=32, out_channels=8, norm_cfg=norm_cfg)
    found = [m.eps for m in neck.modules() if isinstance(m, LN2d)]
    assert len(found) == 9 and set(found) == {eps}  # 8 conv norms + 1 between the 4x deconvs


def test_pyramid_channels_follow_width():
    assert pyramid_channels(768, (4, 2, 1, 0.5)) == [192, 384, 768, 768]
    assert pyramid_channels(192, (4, 2, 1, 0.5)) == [48, 96, 192, 192]
    with pytest.raises(ConfigError):
        pyramid_channels(768, (3,))


def test_in_channels_are_checked_against_the_width():
    SimpleFPN(backbone_channel=32, in_channels=[8, 16, 32, 32], out_channels=8)
    with pytest.raises(ConfigError, match="in_channels"):
        SimpleFPN(backbone_channel=32, in_channels=[8, 16, 32, 16], out_channels=8)


def test_levels_strides_and_extra_level():
    neck = SimpleFPN(backbone_channel=32, out_channels=8, num_outs=5).eval()
    x = torch.randn(1, 32, 8, 8)  # a stride-16 map of a 128 px image
    with torch.no_grad():
        outs = neck(x)
    assert [tuple(o.shape) for o in outs] == [
        (1, 8, 32, 32),
        (1, 8, 16, 16),
        (1, 8, 8, 8),
        (1, 8, 4, 4),
        (1, 8, 2, 2),
    ]
    # P6 subsamples P5 (1x1 max-pool, stride 2), as MMDetection / detectron2 do.
    torch.testing.assert_close(outs[4], outs[3][:, :, ::2, ::2])
    # The 1x level goes straight from the map through the 1x1 and 3x3 convs.
    with torch.no_grad():
        direct = neck.fpn_convs[2](neck.lateral_convs[2](x))
    torch.testing.assert_close(outs[2], direct)


def test_stage_layout_per_scale():
    neck = SimpleFPN(backbone_channel=32, out_channels=8)
    kinds = [[type(m).__name__ for m in getattr(neck, f"fpn{i}")] for i in range(1, 5)]
    assert kinds == [
        ["ConvTranspose2d", "LN2d", "GELU", "ConvTranspose2d"],
        ["ConvTranspose2d"],
        ["Identity"],
        ["MaxPool2d"],
    ]
    assert neck.lateral_convs[0].conv.bias is None  # a norm follows, as ConvModule(bias='auto')


def test_patch_8_preset_gives_the_same_strides():
    from dataclasses import replace

    preset = replace(get_preset("vit-tiny"), patch_size=8)
    assert preset.fpn_scale_factors == (2.0, 1.0, 0.5, 0.25)
    assert preset.fpn_in_channels == [96, 192, 192, 192]
    neck = SimpleFPN(**preset.neck_kwargs()).eval()
    kinds = [[type(m).__name__ for m in getattr(neck, f"fpn{i}")] for i in range(1, 5)]
    assert kinds == [["ConvTranspose2d"], ["Identity"], ["MaxPool2d"], ["MaxPool2d"]]
    x = torch.randn(1, 192, 16, 16)  # a stride-8 map of a 128 px image
    with torch.no_grad():
        outs = neck(x)
    assert [o.shape[-1] for o in outs] == [32, 16, 8, 4, 2]  # strides 4, 8, 16, 32, 64
    torch.testing.assert_close(neck.fpn4(x), F.max_pool2d(x, 4))
    assert get_preset("vit-b").fpn_scale_factors == (4.0, 2.0, 1.0, 0.5)


def test_other_norms_and_errors():
    neck = SimpleFPN(backbone_channel=16, out_channels=8, norm_cfg={"type": "GN", "num_groups": 2})
    assert hasattr(neck.lateral_convs[0], "gn")
    with pytest.raises(ConfigError, match="norm"):
        SimpleFPN(backbone_channel=16, out_channels=8, norm_cfg={"type": "Nope"})
    with pytest.raises(ConfigError, match="num_outs"):
        SimpleFPN(backbone_channel=16, out_channels=8, num_outs=3)
