"""Plain ViT backbone for ViTDet: window + global attention, one stride-16 output map.

Module and parameter names follow MMDetection's ``projects/ViTDet`` ``ViT`` (itself detectron2's
names, which mirror timm): ``patch_embed.proj``, ``pos_embed``, ``blocks.N.{norm1,attn.qkv,
attn.proj,attn.rel_pos_h,attn.rel_pos_w,norm2,mlp.fc1,mlp.fc2}``. MAE pre-training checkpoints
and MMDetection's released ViTDet checkpoints therefore load with every backbone key matched.

Written for export: the decomposed relative position uses only reshape/permute/matmul (no
einsum), its gather indices are built from Python ints (constants in a traced graph), and
:meth:`ViT.bake_for_export` turns the bicubic pos-embed resize and the table gathers into
constant buffers so an exported graph has neither Resize nor Gather for them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from vitdet_cli.errors import ConfigError
from vitdet_cli.model.checkpoint import load_pretrained_backbone
from vitdet_cli.model.layers import (
    DropPath,
    build_activation,
    set_requires_grad,
    split_cfg,
    trunc_normal_init,
)
from vitdet_cli.model.pos_embed import resize_abs_pos, resize_rel_pos

#: LayerNorm epsilon used when a ``norm_cfg`` gives none: 1e-5, what ``mmcv.build_norm_layer``
#: fills in, so MMDetection's ViTDet configs (which give no eps) build the model its released
#: checkpoints were trained with. detectron2 (and MAE, timm) use 1e-6: say ``eps=1e-6``.
DEFAULT_LN_EPS = 1e-5


def build_layer_norm(norm_cfg: Mapping[str, Any] | None, dim: int) -> nn.LayerNorm:
    """LayerNorm from ``dict(type='LN', eps=..., requires_grad=...)`` (eps defaults to 1e-5)."""
    kind, kwargs = split_cfg(norm_cfg, "LN")
    if kind not in ("LN", "LayerNorm"):
        raise ConfigError(
            f"unsupported backbone norm type {kind!r}",
            hint="the ViT backbone uses LayerNorm: norm_cfg=dict(type='LN')",
            code="unsupported_layer",
        )
    requires_grad = kwargs.pop("requires_grad", True)
    eps = kwargs.pop("eps", DEFAULT_LN_EPS)
    try:
        norm = nn.LayerNorm(dim, eps=eps, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"bad arguments for LayerNorm: {exc}", code="unsupported_layer") from exc
    return set_requires_grad(norm, requires_grad)


# --------------------------------------------------------------------------- relative position


@functools.lru_cache(maxsize=128)
def _rel_pos_index_cpu(q_size: int, k_size: int) -> Tensor:
    q_ratio = max(k_size / q_size, 1.0)
    k_ratio = max(q_size / k_size, 1.0)
    rows = [
        [int(i * q_ratio - j * k_ratio + (k_size - 1) * k_ratio) for j in range(k_size)]
        for i in range(q_size)
    ]
    return torch.tensor(rows, dtype=torch.long)


def rel_pos_index(q_size: int, k_size: int, device: torch.device | None = None) -> Tensor:
    """``(q_size, k_size)`` indices into a table of ``2 * max(q_size, k_size) - 1`` entries.

    Built from Python ints, so a traced or exported graph holds it as a constant.
    """
    return _rel_pos_index_cpu(int(q_size), int(k_size)).to(device)


def gather_rel_pos(q_size: int, k_size: int, rel_pos: Tensor) -> Tensor:
    """Per-(query, key) embeddings ``(q_size, k_size, C)`` from an ``(L, C)`` table."""
    table = resize_rel_pos(rel_pos, 2 * max(q_size, k_size) - 1)
    return table[rel_pos_index(q_size, k_size, table.device)]


def add_decomposed_rel_pos(
    attn: Tensor,
    q: Tensor,
    rel_h: Tensor,
    rel_w: Tensor,
    q_hw: Sequence[int],
    k_hw: Sequence[int],
) -> Tensor:
    """Add the decomposed relative-position bias to attention logits (matmul only, no einsum).

    ``bias[n, (i, j), (k, l)] = q[n, i, j] . rel_h[i, k] + q[n, i, j] . rel_w[j, l]``.

    Args:
        attn: logits ``(N, qh*qw, kh*kw)``.
        q: unscaled queries ``(N, qh*qw, C)``.
        rel_h: height embeddings ``(qh, kh, C)`` from :func:`gather_rel_pos`.
        rel_w: width embeddings ``(qw, kw, C)``.
        q_hw: query grid ``(qh, qw)``.
        k_hw: key grid ``(kh, kw)``.
    """
    qh, qw = int(q_hw[0]), int(q_hw[1])
    kh, kw = int(k_hw[0]), int(k_hw[1])
    n, _, c = q.shape
    grid_q = q.reshape(n, qh, qw, c)
    # Height term: one (n*qw, C) @ (C, kh) product per query row i, batched over i.
    by_row = grid_q.permute(1, 0, 2, 3).reshape(qh, n * qw, c)
    bias_h = torch.matmul(by_row, rel_h.transpose(1, 2)).reshape(qh, n, qw, kh)
    bias_h = bias_h.permute(1, 0, 2, 3)  # (n, qh, qw, kh)
    # Width term: one (n*qh, C) @ (C, kw) product per query column j, batched over j.
    by_col = grid_q.permute(2, 0, 1, 3).reshape(qw, n * qh, c)
    bias_w = torch.matmul(by_col, rel_w.transpose(1, 2)).reshape(qw, n, qh, kw)
    bias_w = bias_w.permute(1, 2, 0, 3)  # (n, qh, qw, kw)
    attn = attn.reshape(n, qh, qw, kh, kw) + bias_h.unsqueeze(-1) + bias_w.unsqueeze(-2)
    return attn.reshape(n, qh * qw, kh * kw)


# --------------------------------------------------------------------------- windows


def window_partition(x: Tensor, window_size: int) -> tuple[Tensor, tuple[int, int]]:
    """Split ``(B, H, W, C)`` into ``(B*nW, ws, ws, C)`` windows, zero-padding H and W up to a
    multiple of ``window_size``. Returns the windows and the padded size ``(Hp, Wp)``."""
    b, h, w, c = x.shape
    pad_h = (window_size - h % window_size) % window_size
    pad_w = (window_size - w % window_size) % window_size
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    x = x.reshape(b, hp // window_size, window_size, wp // window_size, window_size, c)
    windows = x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size, window_size, c)
    return windows, (hp, wp)


def window_unpartition(
    windows: Tensor, window_size: int, pad_hw: Sequence[int], hw: Sequence[int]
) -> Tensor:
    """Inverse of :func:`window_partition`: reassemble windows and crop the padding."""
    hp, wp = int(pad_hw[0]), int(pad_hw[1])
    h, w = int(hw[0]), int(hw[1])
    n_h, n_w = hp // window_size, wp // window_size
    b = windows.shape[0] // (n_h * n_w)
    x = windows.reshape(b, n_h, n_w, window_size, window_size, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, -1)
    if hp != h or wp != w:
        x = x[:, :h, :w, :]
    return x


# --------------------------------------------------------------------------- modules


class Attention(nn.Module):
    """Multi-head self-attention over a ``(B, H, W, C)`` map with decomposed relative position.

    Args:
        dim: channels.
        num_heads: attention heads.
        qkv_bias: bias on the qkv projection.
        use_rel_pos: add decomposed relative-position bias (tables ``rel_pos_h``/``rel_pos_w``).
        rel_pos_zero_init: start the tables at zero (ViTDet); else truncated normal.
        input_size: ``(H, W)`` the tables are sized for (``2*H-1`` and ``2*W-1`` rows).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        use_rel_pos: bool = False,
        rel_pos_zero_init: bool = True,
        input_size: Sequence[int] | None = None,
    ):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.use_rel_pos = use_rel_pos
        if use_rel_pos:
            if input_size is None:
                raise ValueError("use_rel_pos=True needs input_size")
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * input_size[0] - 1, head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * input_size[1] - 1, head_dim))
            if not rel_pos_zero_init:
                nn.init.trunc_normal_(self.rel_pos_h, std=0.02)
                nn.init.trunc_normal_(self.rel_pos_w, std=0.02)
        # Export cache (non-persistent: never in the state dict).
        self.register_buffer("baked_rel_h", None, persistent=False)
        self.register_buffer("baked_rel_w", None, persistent=False)
        self.baked_hw: tuple[int, int] | None = None

    def bake_rel_pos(self, hw: Sequence[int]) -> None:
        """Freeze the gathered tables for grid ``hw`` into buffers (export: no Gather/Resize)."""
        if not self.use_rel_pos:
            return
        h, w = int(hw[0]), int(hw[1])
        with torch.no_grad():
            self.baked_rel_h = gather_rel_pos(h, h, self.rel_pos_h).detach().clone()
            self.baked_rel_w = gather_rel_pos(w, w, self.rel_pos_w).detach().clone()
        self.baked_hw = (h, w)

    def unbake(self) -> None:
        """Drop the export cache; tables are gathered from the parameters again."""
        self.baked_rel_h = None
        self.baked_rel_w = None
        self.baked_hw = None

    def rel_tables(self, h: int, w: int) -> tuple[Tensor, Tensor]:
        """Gathered ``(h, h, C)`` and ``(w, w, C)`` embeddings, from the cache when it fits."""
        if self.baked_hw == (h, w) and self.baked_rel_h is not None:
            return self.baked_rel_h, self.baked_rel_w
        return gather_rel_pos(h, h, self.rel_pos_h), gather_rel_pos(w, w, self.rel_pos_w)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.attend(self.qkv(x)))

    def attend(self, qkv: Tensor) -> Tensor:
        """Attention between projections: ``(B, H, W, 3C)`` qkv → ``(B, H, W, C)``, before
        ``proj``."""
        b, h, w, _ = qkv.shape
        qkv = qkv.reshape(b, h * w, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, b * self.num_heads, h * w, -1).unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        if self.use_rel_pos:
            rel_h, rel_w = self.rel_tables(h, w)
            attn = add_decomposed_rel_pos(attn, q, rel_h, rel_w, (h, w), (h, w))
        attn = attn.softmax(dim=-1)
        out = (attn @ v).reshape(b, self.num_heads, h, w, -1)
        return out.permute(0, 2, 3, 1, 4).reshape(b, h, w, -1)


class Mlp(nn.Module):
    """Two-layer feed-forward network (``fc1`` → activation → ``fc2``)."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        act_cfg: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = build_activation(act_cfg or {"type": "GELU"})
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block; attention is windowed when ``window_size > 0``, else global.

    Args:
        dim: channels.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / ``dim``.
        qkv_bias: bias on the qkv projection.
        drop_path: stochastic-depth rate of both residual branches.
        norm_cfg: LayerNorm cfg (see :func:`build_layer_norm`).
        act_cfg: MLP activation cfg.
        use_rel_pos: decomposed relative position in attention.
        rel_pos_zero_init: zero-initialise the relative-position tables.
        window_size: window side in tokens; 0 for global attention.
        input_size: token grid of the full map (sizes the tables of a global block).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        norm_cfg: Mapping[str, Any] | None = None,
        act_cfg: Mapping[str, Any] | None = None,
        use_rel_pos: bool = False,
        rel_pos_zero_init: bool = True,
        window_size: int = 0,
        input_size: Sequence[int] | None = None,
    ):
        super().__init__()
        self.norm1 = build_layer_norm(norm_cfg, dim)
        self.attn = Attention(
            dim,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            use_rel_pos=use_rel_pos,
            rel_pos_zero_init=rel_pos_zero_init,
            input_size=input_size if window_size == 0 else (window_size, window_size),
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = build_layer_norm(norm_cfg, dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_cfg=act_cfg)
        self.window_size = window_size
        #: Project only the real tokens of a windowed block (set by ``ViT.bake_for_export``).
        self.project_real_tokens = False

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.window_size == 0:
            x = self.attn(x)
        elif self.project_real_tokens:
            x = self.windowed_attention_on_real_tokens(x)
        else:
            h, w = x.shape[1], x.shape[2]
            x, pad_hw = window_partition(x, self.window_size)
            x = self.attn(x)
            x = window_unpartition(x, self.window_size, pad_hw, (h, w))
        x = shortcut + self.drop_path(x)
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def windowed_attention_on_real_tokens(self, x: Tensor) -> Tensor:
        """Windowed attention with the same result, without projecting the padding.

        MMDetection pads the normed map with zeros to whole windows and runs qkv and proj on
        every padded token too (at 1024 px, 64 → 70 tokens a side: 20% more rows). A zero
        token's qkv is the qkv bias, so here the map is projected without bias, padded with
        zeros, and the bias added after; proj runs after the padding is cropped again.
        """
        h, w = x.shape[1], x.shape[2]
        qkv = self.attn.qkv
        windows, pad_hw = window_partition(F.linear(x, qkv.weight), self.window_size)
        if qkv.bias is not None:
            windows = windows + qkv.bias
        out = window_unpartition(self.attn.attend(windows), self.window_size, pad_hw, (h, w))
        return self.attn.proj(out)


class PatchEmbed(nn.Module):
    """Non-overlapping patch projection; returns channels-last ``(B, H/p, W/p, C)``."""

    def __init__(
        self,
        kernel_size: Sequence[int] = (16, 16),
        stride: Sequence[int] = (16, 16),
        padding: Sequence[int] = (0, 0),
        in_chans: int = 3,
        embed_dim: int = 768,
    ):
        super().__init__()
        self.proj = nn.Conv2d(
            in_chans,
            embed_dim,
            kernel_size=tuple(kernel_size),
            stride=tuple(stride),
            padding=tuple(padding),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class ViT(BaseModule):
    """Plain ViT backbone of ViTDet; returns the last block's map as ``(B, C, H/p, W/p)``.

    No cls token and no final norm are used. Constructor arguments match MMDetection's
    ``projects/ViTDet`` ``ViT`` so its configs build this class unchanged.

    Args:
        img_size: training input side; sizes the relative-position tables of global blocks.
        patch_size: patch side (the output stride).
        in_chans: input channels.
        embed_dim: token width.
        depth: number of blocks.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / ``embed_dim``.
        qkv_bias: bias on qkv projections.
        drop_path_rate: stochastic depth, rising linearly from 0 to this over the blocks.
        norm_cfg: LayerNorm cfg; eps defaults to 1e-5 (as mmcv), see ``DEFAULT_LN_EPS``.
        act_cfg: MLP activation cfg.
        use_abs_pos: learnable absolute pos-embed (MAE layout, resized to the token grid).
        use_rel_pos: decomposed relative position in every block.
        rel_pos_zero_init: zero-initialise relative-position tables.
        window_size: window side in tokens for the blocks in ``window_block_indexes``.
        window_block_indexes: blocks with window attention; all others attend globally.
            ``None`` (default) gives every block but each third, i.e. (0, 1, 3, 4, 6, 7, 9,
            10) for depth 12 as in ViT-B (MMDetection's default tuple).
        pretrain_img_size: image side of pre-training; the pos-embed holds that grid.
        pretrain_use_cls_token: the pos-embed has a leading cls-token slot (MAE: yes).
        with_cp: activation checkpointing per block while training: activations are
            recomputed in backward, trading compute for memory.
        init_cfg: ``dict(type='Pretrained', checkpoint=path)`` loads MAE (or mmdet) weights
            in :meth:`init_weights`; other mmengine init cfgs are passed on.
    """

    def __init__(
        self,
        img_size: int = 1024,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.0,
        norm_cfg: Mapping[str, Any] | None = None,
        act_cfg: Mapping[str, Any] | None = None,
        use_abs_pos: bool = True,
        use_rel_pos: bool = False,
        rel_pos_zero_init: bool = True,
        window_size: int = 0,
        window_block_indexes: Sequence[int] | None = None,
        pretrain_img_size: int = 224,
        pretrain_use_cls_token: bool = True,
        with_cp: bool = False,
        init_cfg: Mapping[str, Any] | None = None,
    ):
        super().__init__(init_cfg=init_cfg)
        if window_block_indexes is None:
            window_block_indexes = [i for i in range(depth) if i % 3 != 2]
        _check_vit_args(embed_dim, num_heads, depth, window_block_indexes, img_size, patch_size)
        norm_cfg = dict(norm_cfg) if norm_cfg is not None else {"type": "LN"}
        act_cfg = dict(act_cfg) if act_cfg is not None else {"type": "GELU"}
        self.img_size = img_size
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.depth = depth
        self.pretrain_img_size = pretrain_img_size
        self.pretrain_use_cls_token = pretrain_use_cls_token
        self.with_cp = with_cp
        self.window_block_indexes = tuple(int(i) for i in window_block_indexes)

        self.patch_embed = PatchEmbed(
            kernel_size=(patch_size, patch_size),
            stride=(patch_size, patch_size),
            in_chans=in_chans,
            embed_dim=embed_dim,
        )
        if use_abs_pos:
            grid = pretrain_img_size // patch_size
            num_positions = grid * grid + (1 if pretrain_use_cls_token else 0)
            self.pos_embed = nn.Parameter(torch.zeros(1, num_positions, embed_dim))
        else:
            self.pos_embed = None

        token_grid = (img_size // patch_size, img_size // patch_size)
        rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList(
            Block(
                dim=embed_dim,
                num_heads=num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop_path=rates[i],
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
                use_rel_pos=use_rel_pos,
                rel_pos_zero_init=rel_pos_zero_init,
                window_size=window_size if i in self.window_block_indexes else 0,
                input_size=token_grid,
            )
            for i in range(depth)
        )
        self.register_buffer("baked_pos_embed", None, persistent=False)
        self.baked_grid: tuple[int, int] | None = None
        self._init_from_scratch()

    # ----------------------------------------------------------------------- init

    def _init_from_scratch(self) -> None:
        if self.pos_embed is not None:
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.apply(trunc_normal_init)

    def init_weights(self) -> None:
        """Load ``init_cfg=dict(type='Pretrained', checkpoint=...)`` with the MAE-aware loader.

        Without a ``Pretrained`` init cfg the weights from construction (truncated normal,
        zero relative-position tables) are kept, or other mmengine init cfgs are applied.
        """
        cfg = self.init_cfg
        if isinstance(cfg, Mapping) and cfg.get("type") == "Pretrained":
            from mmengine.logging import MMLogger

            report = load_pretrained_backbone(self, cfg["checkpoint"], prefix=cfg.get("prefix"))
            MMLogger.get_current_instance().info(report.summary())
            self._is_init = True
        elif cfg is not None:
            super().init_weights()

    # ----------------------------------------------------------------------- export cache

    @property
    def token_grid(self) -> tuple[int, int]:
        """Token grid ``(H, W)`` at the training input size."""
        return (self.img_size // self.patch_size, self.img_size // self.patch_size)

    @property
    def is_baked(self) -> bool:
        return self.baked_grid is not None

    def bake_for_export(self, grid_hw: Sequence[int] | None = None) -> ViT:
        """Replace input-size-dependent computations by constant buffers for grid ``grid_hw``.

        The resized pos-embed (bicubic) and every block's gathered relative-position tables
        become non-persistent buffers, so a graph exported at this size contains no Resize and
        no table Gather; windowed blocks project only the real tokens
        (:meth:`Block.windowed_attention_on_real_tokens`). Outputs are unchanged up to float
        rounding. Calling ``train()`` drops the cache.

        Args:
            grid_hw: token grid of the export input; defaults to ``img_size / patch_size``.
        """
        h, w = (int(grid_hw[0]), int(grid_hw[1])) if grid_hw is not None else self.token_grid
        if self.pos_embed is not None:
            with torch.no_grad():
                pos = resize_abs_pos(self.pos_embed, self.pretrain_use_cls_token, (h, w))
                self.baked_pos_embed = pos.detach().clone()
        for block in self.blocks:
            size = (block.window_size,) * 2 if block.window_size > 0 else (h, w)
            block.attn.bake_rel_pos(size)
            block.project_real_tokens = True
        self.baked_grid = (h, w)
        return self

    def unbake(self) -> ViT:
        """Drop the export cache (back to computing from the parameters)."""
        self.baked_pos_embed = None
        self.baked_grid = None
        for block in self.blocks:
            block.attn.unbake()
            block.project_real_tokens = False
        return self

    def train(self, mode: bool = True) -> ViT:
        if mode:
            self.unbake()
        return super().train(mode)

    # ----------------------------------------------------------------------- forward

    def abs_pos(self, h: int, w: int) -> Tensor:
        """Absolute pos-embed for an ``h x w`` token grid, ``(1, h, w, C)``."""
        if self.baked_grid == (h, w) and self.baked_pos_embed is not None:
            return self.baked_pos_embed
        return resize_abs_pos(self.pos_embed, self.pretrain_use_cls_token, (h, w))

    def forward(self, x: Tensor) -> Tensor:
        x = self.patch_embed(x)
        if self.pos_embed is not None:
            x = x + self.abs_pos(x.shape[1], x.shape[2])
        checkpointing = self.with_cp and self.training and torch.is_grad_enabled()
        for block in self.blocks:
            if checkpointing:
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return x.permute(0, 3, 1, 2)


def _check_vit_args(
    embed_dim: int,
    num_heads: int,
    depth: int,
    window_block_indexes: Sequence[int],
    img_size: int,
    patch_size: int,
) -> None:
    if num_heads <= 0 or embed_dim % num_heads:
        raise ConfigError(
            f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}",
            hint="pick num_heads so that embed_dim / num_heads is a whole head width (e.g. 64)",
        )
    bad = [i for i in window_block_indexes if not 0 <= int(i) < depth]
    if bad:
        raise ConfigError(
            f"window_block_indexes {bad} are outside the {depth} blocks",
            hint=f"use indexes 0..{depth - 1}",
        )
    if img_size % patch_size:
        raise ConfigError(
            f"img_size={img_size} is not a multiple of patch_size={patch_size}",
            hint="use an image size divisible by the patch size (e.g. 1024 with patch 16)",
        )
