"""Resizing the ViT's position embeddings: the absolute pos-embed grid and the relative-position
tables. The backbone uses them at run time and the checkpoint loader to fit weights trained at
another size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor


def pos_embed_grid(num_tokens: int, has_cls_token: bool) -> int:
    """Side of the square grid stored in an absolute pos-embed of ``num_tokens`` entries."""
    n = num_tokens - 1 if has_cls_token else num_tokens
    side = math.isqrt(max(n, 0))
    if side * side != n or side == 0:
        raise ValueError(
            f"a pos-embed of {num_tokens} tokens (cls token: {has_cls_token}) is not a square grid"
        )
    return side


def resize_abs_pos(pos_embed: Tensor, has_cls_token: bool, hw: Sequence[int]) -> Tensor:
    """Turn a ``(1, [1+]S*S, C)`` pos-embed into a ``(1, h, w, C)`` map (bicubic if S != h, w)."""
    if has_cls_token:
        pos_embed = pos_embed[:, 1:]
    side = pos_embed_grid(pos_embed.shape[1], has_cls_token=False)
    grid = pos_embed.reshape(1, side, side, -1)
    h, w = int(hw[0]), int(hw[1])
    if (side, side) == (h, w):
        return grid
    resized = F.interpolate(
        grid.permute(0, 3, 1, 2), size=(h, w), mode="bicubic", align_corners=False
    )
    return resized.permute(0, 2, 3, 1)


def resize_rel_pos(rel_pos: Tensor, length: int) -> Tensor:
    """Linearly resample an ``(L, C)`` relative-position table to ``(length, C)``.

    Needed when a table was trained for another size (a checkpoint from another input size,
    or a global block run on a grid other than ``img_size / patch_size``).
    """
    if rel_pos.shape[0] == length:
        return rel_pos
    channels_first = rel_pos.transpose(0, 1).unsqueeze(0)  # (1, C, L)
    resized = F.interpolate(channels_first, size=length, mode="linear", align_corners=False)
    return resized[0].transpose(0, 1)
