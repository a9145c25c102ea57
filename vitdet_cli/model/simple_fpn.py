"""Simple feature pyramid of ViTDet: strides 4, 8, 16, 32 (+ 64) from one stride-16 map.

Names follow MMDetection's ``projects/ViTDet`` ``SimpleFPN`` so its checkpoints load:
``fpn1``..``fpn4`` (per-scale stages), ``lateral_convs.i`` / ``fpn_convs.i`` each holding a
``conv`` and a norm named as ``mmcv.cnn.ConvModule`` names it (``norm_layer`` for ``LN2d``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from vitdet_cli.config.pyramid import log2_scale, pyramid_channels
from vitdet_cli.errors import ConfigError
from vitdet_cli.model.layers import build_activation, set_requires_grad, split_cfg

#: LN2d epsilon when a norm cfg gives none: 1e-5 as ``mmcv.build_norm_layer`` fills in for the
#: heads (see ``vit.DEFAULT_LN_EPS``). The class itself keeps 1e-6, MMDetection's and detectron2's.
DEFAULT_LN2D_EPS = 1e-5

#: Pyramid scales relative to the backbone map (stride 16 → strides 4, 8, 16, 32).
DEFAULT_SCALE_FACTORS = (4.0, 2.0, 1.0, 0.5)


class LN2d(nn.Module):
    """LayerNorm over the channel axis of an NCHW tensor (per pixel), with affine weight/bias.

    Args:
        normalized_shape: number of channels.
        eps: added to the variance; 1e-6 when constructed directly, but a norm cfg without
            ``eps`` gives ``DEFAULT_LN2D_EPS`` (1e-5), as mmcv's builder does.
    """

    def __init__(self, normalized_shape: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))
        self.eps = eps
        self.normalized_shape = (normalized_shape,)

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(dim=1, keepdim=True)
        centred = x - mean
        var = centred.pow(2).mean(dim=1, keepdim=True)
        x = centred / torch.sqrt(var + self.eps)
        return x * self.weight[:, None, None] + self.bias[:, None, None]

    def extra_repr(self) -> str:
        return f"{self.normalized_shape[0]}, eps={self.eps}"


def build_norm2d(norm_cfg: Mapping[str, Any] | None, channels: int) -> tuple[str, nn.Module]:
    """Build an NCHW norm and the attribute name ``mmcv.cnn.ConvModule`` would give it."""
    kind, kwargs = split_cfg(norm_cfg, "LN2d")
    requires_grad = kwargs.pop("requires_grad", True)
    try:
        if kind == "LN2d":
            name, norm = "norm_layer", LN2d(channels, eps=kwargs.pop("eps", DEFAULT_LN2D_EPS))
        elif kind in ("BN", "BN2d"):
            name, norm = "bn", nn.BatchNorm2d(channels, **kwargs)
        elif kind == "SyncBN":
            name, norm = "bn", nn.SyncBatchNorm(channels, **kwargs)
        elif kind == "GN":
            name, norm = "gn", nn.GroupNorm(num_channels=channels, **kwargs)
        else:
            raise ConfigError(
                f"unsupported neck norm type {kind!r}",
                hint="ViTDet uses norm_cfg=dict(type='LN2d'); BN, SyncBN and GN also work",
                code="unsupported_layer",
            )
        if kwargs and kind == "LN2d":
            raise TypeError(f"unexpected keys {sorted(kwargs)}")
    except TypeError as exc:
        raise ConfigError(
            f"bad arguments for norm {kind!r}: {exc}", code="unsupported_layer"
        ) from exc
    return name, set_requires_grad(norm, requires_grad)


class ConvNorm(nn.Module):
    """Conv → norm → activation, named like ``ConvModule`` (``conv``, norm, ``activate``).

    The conv has a bias only when there is no norm, as ``ConvModule(bias='auto')``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        padding: int = 0,
        norm_cfg: Mapping[str, Any] | None = None,
        act_cfg: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=padding, bias=norm_cfg is None
        )
        self.norm_name = None
        if norm_cfg is not None:
            self.norm_name, norm = build_norm2d(norm_cfg, out_channels)
            self.add_module(self.norm_name, norm)
        activate = build_activation(act_cfg)
        if activate is not None:
            self.activate = activate
        # ConvModule's default init: Kaiming normal, fan_out, ReLU gain.
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")
        if self.conv.bias is not None:
            nn.init.zeros_(self.conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)
        if self.norm_name is not None:
            x = getattr(self, self.norm_name)(x)
        if hasattr(self, "activate"):
            x = self.activate(x)
        return x


def _rescale_stage(scale: float, dim: int, norm_cfg: Mapping[str, Any] | None) -> nn.Sequential:
    """Layers that bring the backbone map to ``scale``: 2x2 stride-2 deconvs (LN2d + GELU
    between them), identity, or one max-pool of side ``1 / scale``."""
    steps = log2_scale(scale)
    if steps == 0:
        return nn.Sequential(nn.Identity())
    if steps < 0:
        return nn.Sequential(nn.MaxPool2d(kernel_size=2**-steps, stride=2**-steps))
    layers: list[nn.Module] = []
    for step in range(steps):
        if step > 0:
            if norm_cfg is not None:
                layers.append(build_norm2d(norm_cfg, dim)[1])
            layers.append(nn.GELU())
        layers.append(nn.ConvTranspose2d(dim, dim // 2, kernel_size=2, stride=2))
        dim //= 2
    return nn.Sequential(*layers)


class SimpleFPN(BaseModule):
    """ViTDet's simple pyramid: rescale one map by each scale factor, then 1x1 and 3x3
    conv + norm to ``out_channels``; extra levels by stride-2 subsampling of the last one.

    Arguments match MMDetection's ``projects/ViTDet`` ``SimpleFPN``. ``in_channels`` follows
    from the width and the scales; pass it only to check a config (a mismatch is an error).

    Args:
        backbone_channel: channels of the backbone map (the ViT ``embed_dim``).
        in_channels: channels after each rescale; ``None`` derives ``[d/4, d/2, d, d]``.
        out_channels: channels of every output level.
        num_outs: output levels; those beyond ``len(scale_factors)`` come from subsampling.
        conv_cfg: only ``None``/``dict(type='Conv2d')`` (plain convs) is supported.
        norm_cfg: norm after the convs and between deconvs; ``LN2d`` (eps 1e-5) by default.
        act_cfg: activation after each conv + norm; ``None`` as in ViTDet.
        scale_factors: rescaling of the backbone map per level, largest first.
        init_cfg: mmengine init cfg.
    """

    def __init__(
        self,
        backbone_channel: int,
        in_channels: Sequence[int] | None = None,
        out_channels: int = 256,
        num_outs: int = 5,
        conv_cfg: Mapping[str, Any] | None = None,
        norm_cfg: Mapping[str, Any] | None = None,
        act_cfg: Mapping[str, Any] | None = None,
        scale_factors: Sequence[float] = DEFAULT_SCALE_FACTORS,
        init_cfg: Any = None,
    ):
        super().__init__(init_cfg=init_cfg)
        if conv_cfg is not None and split_cfg(conv_cfg, "Conv2d")[0] not in ("Conv2d", "Conv"):
            raise ConfigError(
                f"unsupported conv_cfg {dict(conv_cfg)!r} for SimpleFPN",
                hint="leave conv_cfg unset (plain Conv2d)",
            )
        norm_cfg = dict(norm_cfg) if norm_cfg is not None else {"type": "LN2d"}
        self.scale_factors = tuple(float(s) for s in scale_factors)
        derived = pyramid_channels(backbone_channel, self.scale_factors)
        if in_channels is not None and list(in_channels) != derived:
            raise ConfigError(
                f"SimpleFPN in_channels={list(in_channels)} does not follow from "
                f"backbone_channel={backbone_channel} and scales {list(self.scale_factors)}",
                hint=f"use in_channels={derived} or leave it unset",
            )
        if num_outs < len(self.scale_factors):
            raise ConfigError(
                f"num_outs={num_outs} is fewer than the {len(self.scale_factors)} scale factors",
                hint="num_outs=5 gives strides 4, 8, 16, 32, 64",
            )
        self.backbone_channel = backbone_channel
        self.in_channels = derived
        self.out_channels = out_channels
        self.num_ins = len(derived)
        self.num_outs = num_outs

        self.stage_names = []
        for i, scale in enumerate(self.scale_factors, start=1):
            self.add_module(f"fpn{i}", _rescale_stage(scale, backbone_channel, norm_cfg))
            self.stage_names.append(f"fpn{i}")
        self.lateral_convs = nn.ModuleList(
            ConvNorm(c, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg) for c in derived
        )
        self.fpn_convs = nn.ModuleList(
            ConvNorm(out_channels, out_channels, 3, padding=1, norm_cfg=norm_cfg, act_cfg=act_cfg)
            for _ in derived
        )

    def forward(self, x: Tensor | Sequence[Tensor]) -> tuple[Tensor, ...]:
        if isinstance(x, (list, tuple)):
            x = x[-1]
        outs = [
            fpn_conv(lateral(getattr(self, name)(x)))
            for name, lateral, fpn_conv in zip(self.stage_names, self.lateral_convs, self.fpn_convs)
        ]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2))
        return tuple(outs)
