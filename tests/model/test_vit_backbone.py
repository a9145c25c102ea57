"""ViT backbone: window partition, relative position, pos-embed resize, shapes, with_cp."""

from __future__ import annotations

import math

import pytest
import torch
from model_test_helpers import randomise_rel_pos, tiny_vit

from vitdet_cli.config.presets import get_preset
from vitdet_cli.errors import ConfigError
from vitdet_cli.model.pos_embed import resize_abs_pos, resize_rel_pos
from vitdet_cli.model.simple_fpn import SimpleFPN
from vitdet_cli.model.vit import (
    DEFAULT_LN_EPS,
    Attention,
    ViT,
    rel_pos_index,
    window_partition,
    window_unpartition,
)

# --------------------------------------------------------------------------- windows


def test_window_partition_round_trip_with_padding():
    x = torch.randn(2, 5, 7, 3)
    windows, (hp, wp) = window_partition(x, 3)
    assert (hp, wp) == (6, 9)
    assert windows.shape == (2 * 2 * 3, 3, 3, 3)
    # Window order is (batch, window row, window column): window 1 of image 0 is rows 0..2,
    # columns 3..5; the last window of image 1 holds rows 3..4 / columns 6 plus zero padding.
    assert torch.equal(windows[1], x[0, 0:3, 3:6])
    last = windows[-1]
    assert torch.equal(last[:2, :1], x[1, 3:5, 6:7])
    assert torch.count_nonzero(last[2:]) == 0 and torch.count_nonzero(last[:, 1:]) == 0
    assert torch.equal(window_unpartition(windows, 3, (hp, wp), (5, 7)), x)


def test_window_partition_without_padding_is_exact():
    x = torch.randn(1, 6, 6, 2)
    windows, pad_hw = window_partition(x, 3)
    assert pad_hw == (6, 6) and windows.shape == (4, 3, 3, 2)
    assert torch.equal(window_unpartition(windows, 3, pad_hw, (6, 6)), x)


# --------------------------------------------------------------------------- relative position


def test_rel_pos_index_values():
    # Entry (i, j) = i - j + (k - 1): query 0 / key 2 is the most negative offset (index 0).
    assert rel_pos_index(3, 3).tolist() == [[2, 1, 0], [3, 2, 1], [4, 3, 2]]


def naive_attention(
    attn: Attention, x: torch.Tensor, rel_h: torch.Tensor, rel_w: torch.Tensor
) -> torch.Tensor:
    """Per-position loop: logit(i,j -> k,l) = s*q.k + q.Rh[i-k+H-1] + q.Rw[j-l+W-1]."""
    _, height, width, dim = x.shape
    heads = attn.num_heads
    hd = dim // heads
    qkv = x[0] @ attn.qkv.weight.T + attn.qkv.bias
    q, k, v = qkv[..., :dim], qkv[..., dim : 2 * dim], qkv[..., 2 * dim :]
    out = torch.zeros(height, width, dim, dtype=x.dtype)
    for h in range(heads):
        sl = slice(h * hd, (h + 1) * hd)
        for i in range(height):
            for j in range(width):
                qv = q[i, j, sl]
                logits, values = [], []
                for ki in range(height):
                    for kj in range(width):
                        logit = (qv @ k[ki, kj, sl]) / math.sqrt(hd)
                        logit = logit + qv @ rel_h[i - ki + height - 1]
                        logit = logit + qv @ rel_w[j - kj + width - 1]
                        logits.append(logit)
                        values.append(v[ki, kj, sl])
                weights = torch.softmax(torch.stack(logits), dim=0)
                out[i, j, sl] = (weights[:, None] * torch.stack(values)).sum(0)
    return (out @ attn.proj.weight.T + attn.proj.bias)[None]


def test_decomposed_rel_pos_matches_per_position_formula():
    attn = Attention(8, num_heads=2, use_rel_pos=True, input_size=(3, 4)).double()
    assert attn.rel_pos_h.shape == (5, 4) and attn.rel_pos_w.shape == (7, 4)
    assert torch.count_nonzero(attn.rel_pos_h) == 0  # zero-initialised
    randomise_rel_pos(attn)
    x = torch.randn(1, 3, 4, 8, dtype=torch.float64)
    expected = naive_attention(attn, x, attn.rel_pos_h, attn.rel_pos_w)
    got = attn(x)
    assert got.shape == (1, 3, 4, 8)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)
    # The bias matters: with zero tables the output differs.
    with torch.no_grad():
        attn.rel_pos_h.zero_()
    assert not torch.allclose(attn(x), expected)


def test_rel_pos_tables_are_resampled_for_another_grid():
    attn = Attention(8, num_heads=2, use_rel_pos=True, input_size=(4, 4)).double()
    randomise_rel_pos(attn)
    x = torch.randn(1, 3, 3, 8, dtype=torch.float64)  # tables are for 4x4, input is 3x3
    expected = naive_attention(
        attn, x, resize_rel_pos(attn.rel_pos_h, 5), resize_rel_pos(attn.rel_pos_w, 5)
    )
    torch.testing.assert_close(attn(x), expected, rtol=1e-9, atol=1e-9)


def test_resize_rel_pos():
    table = torch.randn(7, 4)
    assert resize_rel_pos(table, 7) is table
    assert resize_rel_pos(table, 13).shape == (13, 4)
    const = torch.full((5, 3), 2.5)
    torch.testing.assert_close(resize_rel_pos(const, 11), torch.full((11, 3), 2.5))


def test_rel_pos_table_sizes_follow_block_kind():
    model = tiny_vit()
    assert model.blocks[0].window_size == 3 and model.blocks[1].window_size == 0
    assert model.blocks[0].attn.rel_pos_h.shape == (5, 16)  # window 3 → 2*3-1
    assert model.blocks[1].attn.rel_pos_w.shape == (7, 16)  # global on 4x4 → 2*4-1


# --------------------------------------------------------------------------- abs pos


def test_resize_abs_pos_identity_when_grid_matches():
    pos = torch.randn(1, 1 + 16, 6)
    out = resize_abs_pos(pos, True, (4, 4))
    assert out.shape == (1, 4, 4, 6)
    assert torch.equal(out, pos[:, 1:].reshape(1, 4, 4, 6))
    assert torch.equal(resize_abs_pos(pos[:, 1:], False, (4, 4)), out)


def test_resize_abs_pos_drops_cls_and_resizes():
    pos = torch.ones(1, 1 + 14 * 14, 5)
    pos[:, 0] = 100.0  # the cls slot must not leak into the grid
    out = resize_abs_pos(pos, True, (64, 48))
    assert out.shape == (1, 64, 48, 5)
    torch.testing.assert_close(out, torch.ones_like(out))


def test_resize_abs_pos_rejects_non_square():
    with pytest.raises(ValueError):
        resize_abs_pos(torch.zeros(1, 1 + 15, 4), True, (4, 4))


# --------------------------------------------------------------------------- whole backbone


@pytest.mark.parametrize("size", [256, 320])
def test_vit_tiny_backbone_and_fpn_shapes(size):
    preset = get_preset("vit-tiny")
    backbone = ViT(**preset.backbone_kwargs()).eval()
    neck = SimpleFPN(**preset.neck_kwargs()).eval()
    with torch.no_grad():
        feat = backbone(torch.randn(1, 3, size, size))
        outs = neck(feat)
    assert feat.shape == (1, preset.embed_dim, size // 16, size // 16)
    assert len(outs) == 5
    for out, stride in zip(outs, (4, 8, 16, 32, 64)):
        assert out.shape == (1, preset.fpn_out_channels, size // stride, size // stride)


def test_layer_norm_eps_default_and_override():
    model = tiny_vit()
    assert DEFAULT_LN_EPS == 1e-5  # mmcv's build_norm_layer default, as MMDetection builds it
    assert model.blocks[0].norm1.eps == 1e-5
    assert tiny_vit(norm_cfg={"type": "LN", "requires_grad": True}).blocks[0].norm1.eps == 1e-5
    model = tiny_vit(norm_cfg={"type": "LN", "eps": 1e-5, "requires_grad": False})
    assert model.blocks[1].norm2.eps == 1e-5
    assert not model.blocks[1].norm2.weight.requires_grad


def test_bad_backbone_args_raise_config_error():
    with pytest.raises(ConfigError, match="num_heads"):
        tiny_vit(num_heads=5)
    with pytest.raises(ConfigError, match="window_block_indexes"):
        tiny_vit(window_block_indexes=(0, 7))


def test_drop_path_rises_linearly():
    model = tiny_vit(depth=3, drop_path_rate=0.2, window_block_indexes=(0,))
    rates = [getattr(b.drop_path, "drop_prob", 0.0) for b in model.blocks]
    assert rates == pytest.approx([0.0, 0.1, 0.2])


def _grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_with_cp_matches_plain_forward_and_backward():
    model = tiny_vit(drop_path_rate=0.3)
    randomise_rel_pos(model)
    model.train()
    x = torch.randn(2, 3, 64, 64)
    calls = []
    model.blocks[0].register_forward_pre_hook(lambda *_: calls.append(1))

    torch.manual_seed(1)
    ref = model(x)
    ref.square().sum().backward()
    ref_grads = _grads(model)
    assert len(calls) == 1

    model.zero_grad()
    model.with_cp = True
    calls.clear()
    torch.manual_seed(1)
    out = model(x)
    out.square().sum().backward()
    assert len(calls) == 2  # recomputed in backward: checkpointing is really on
    torch.testing.assert_close(out, ref)
    grads = _grads(model)
    assert grads.keys() == ref_grads.keys()
    for name in ref_grads:
        torch.testing.assert_close(grads[name], ref_grads[name], msg=name)


def test_default_window_blocks_follow_vit_b_pattern():
    model = tiny_vit(depth=12, window_block_indexes=None)
    assert model.window_block_indexes == (0, 1, 3, 4, 6, 7, 9, 10)
    assert tiny_vit(depth=4, window_block_indexes=None).window_block_indexes == (0, 1, 3)
