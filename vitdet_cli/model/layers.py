"""Small building blocks shared by the backbone and the neck (no mmcv needed).

MMDetection builds these through ``mmcv.cnn``; we build the few kinds ViTDet uses ourselves so
the model imports and runs where mmcv is not installed (the deploy box, fresh CI).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from vitdet_cli.errors import ConfigError

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "GELU": nn.GELU,
    "ReLU": nn.ReLU,
    "SiLU": nn.SiLU,
    "Swish": nn.SiLU,
    "Sigmoid": nn.Sigmoid,
    "Tanh": nn.Tanh,
}


def split_cfg(cfg: Mapping[str, Any] | None, default_type: str) -> tuple[str, dict[str, Any]]:
    """Return ``(type, remaining keys)`` of an mmengine-style ``dict(type=..., ...)``."""
    cfg = dict(cfg) if cfg is not None else {}
    return cfg.pop("type", default_type), cfg


def build_activation(act_cfg: Mapping[str, Any] | None) -> nn.Module | None:
    """Build an activation from ``dict(type='GELU')``-style config; ``None`` means no activation."""
    if act_cfg is None:
        return None
    kind, kwargs = split_cfg(act_cfg, "GELU")
    if kind not in _ACTIVATIONS:
        raise ConfigError(
            f"unsupported activation type {kind!r}",
            hint=f"use one of {', '.join(sorted(_ACTIVATIONS))}",
            code="unsupported_layer",
        )
    try:
        return _ACTIVATIONS[kind](**kwargs)
    except TypeError as exc:
        raise ConfigError(
            f"bad arguments for activation {kind!r}: {exc}", code="unsupported_layer"
        ) from exc


def drop_path(x: Tensor, drop_prob: float, training: bool) -> Tensor:
    """Stochastic depth: zero whole samples of a residual branch, rescale the survivors."""
    if drop_prob == 0.0 or not training:
        return x
    keep = 1.0 - drop_prob
    mask_shape = (x.shape[0],) + (1,) * (x.dim() - 1)
    mask = x.new_empty(mask_shape).bernoulli_(keep)
    return x * mask / keep


class DropPath(nn.Module):
    """Module wrapper of :func:`drop_path` (no parameters, so no state-dict keys)."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = float(drop_prob)

    def forward(self, x: Tensor) -> Tensor:
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:.3f}"


def set_requires_grad(module: nn.Module, requires_grad: bool) -> nn.Module:
    """Freeze or unfreeze every parameter of ``module`` (the ``requires_grad`` key of norm cfgs)."""
    for param in module.parameters():
        param.requires_grad_(requires_grad)
    return module


def trunc_normal_init(module: nn.Module, std: float = 0.02) -> None:
    """ViT-style init: truncated-normal Linear weights, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm) and module.elementwise_affine:
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
