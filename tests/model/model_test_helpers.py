"""Tiny models shared by the model tests (small widths: the suite runs in seconds on CPU)."""

from __future__ import annotations

import torch

from vitdet_cli.model.vit import ViT


def tiny_vit(**overrides) -> ViT:
    """A 2-block ViT on 64 px inputs: 4x4 tokens, one window block (window 3 → padding), one
    global block, pos-embed pre-trained at 112 px (7x7 grid, resized to 4x4)."""
    kwargs = {
        "img_size": 64,
        "patch_size": 16,
        "embed_dim": 32,
        "depth": 2,
        "num_heads": 2,
        "window_size": 3,
        "window_block_indexes": (0,),
        "use_rel_pos": True,
        "pretrain_img_size": 112,
    }
    kwargs.update(overrides)
    return ViT(**kwargs)


def randomise_rel_pos(model: torch.nn.Module, seed: int = 0) -> None:
    """Give every relative-position table non-zero values (they start at zero)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "rel_pos" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.5)
