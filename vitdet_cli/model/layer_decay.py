"""Layer-wise learning-rate decay for ViT fine-tuning (the ViTDet / MAE recipe).

Block ``i`` of the backbone trains at ``lr * decay ** (num_layers - i)``; the patch/pos embed
at ``decay ** (num_layers + 1)``; the neck and heads at the full ``lr``.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping
from typing import Any

from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

from vitdet_cli.errors import ConfigError

_BLOCK = re.compile(r"^blocks\.(\d+)\.")
_EMBED_NAMES = ("pos_embed", "cls_token", "mask_token")


def _backbone_relative(param_name: str) -> str | None:
    """Name inside the backbone, or ``None`` for neck/head parameters.

    Accepts detector names (``backbone.blocks.0...``), DDP names (``module.backbone...``) and
    names of a bare backbone (``blocks.0...``).
    """
    name = param_name.removeprefix("module.")
    if name.startswith("backbone."):
        return name[len("backbone.") :]
    if name.startswith(("blocks.", "patch_embed.")) or name in _EMBED_NAMES:
        return name
    return None


def get_layer_id(param_name: str, num_layers: int) -> int:
    """Layer id of a parameter: 0 for patch/pos embed, ``i + 1`` for block ``i``, and
    ``num_layers + 1`` for everything else (neck, heads, anything unknown)."""
    name = _backbone_relative(param_name)
    if name is None:
        return num_layers + 1
    if name.startswith("patch_embed.") or name in _EMBED_NAMES:
        return 0
    match = _BLOCK.match(name)
    if match:
        return int(match.group(1)) + 1
    return num_layers + 1


def lr_scale(layer_id: int, num_layers: int, decay_rate: float) -> float:
    """Learning-rate multiplier ``decay_rate ** (num_layers + 1 - layer_id)``."""
    return float(decay_rate) ** (num_layers + 1 - layer_id)


#: Which parameters get no weight decay (``paramwise_cfg.no_decay`` / ``optim.no_decay``):
NO_DECAY_RULES = {
    # MMDetection projects/ViTDet's constructor: the backbone blocks' norms and the pos-embed
    "mmdet": "backbone.blocks.*norm*, *pos_embed*",
    # detectron2's ViTDet: torch norm layers (its channel LN2d is none) and pos_embed
    "detectron2": "torch norm layers (nn.LayerNorm, BatchNorm, GroupNorm, ...), pos_embed",
    # timm / MAE fine-tuning: every bias and 1-D tensor, and the pos-embed
    "timm": "every bias and 1-D tensor, pos_embed",
}
DEFAULT_NO_DECAY = "mmdet"

_TORCH_NORMS = (
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
)


def skips_weight_decay(rule: str, param_name: str, ndim: int, in_torch_norm: bool) -> bool:
    """Whether ``rule`` exempts this parameter from weight decay.

    ``in_torch_norm``: the parameter belongs to one of torch's norm layers (detectron2's test).
    """
    name = param_name.removeprefix("module.")
    if rule == "mmdet":
        inner = _backbone_relative(name)
        in_block_norm = inner is not None and inner.startswith("blocks.") and "norm" in inner
        return in_block_norm or "pos_embed" in name
    if rule == "detectron2":
        return in_torch_norm or name.rsplit(".", 1)[-1] == "pos_embed"
    if rule == "timm":
        return ndim <= 1 or name.endswith(".bias") or "pos_embed" in name
    raise ConfigError(
        f"unknown weight-decay rule {rule!r}", hint=f"use one of {', '.join(NO_DECAY_RULES)}"
    )


def no_decay_names(module: nn.Module, rule: str = DEFAULT_NO_DECAY) -> set[str]:
    """Names of the parameters of ``module`` that ``rule`` exempts from weight decay."""
    in_norm = {
        f"{prefix}.{pname}" if prefix else pname
        for prefix, sub in module.named_modules()
        if isinstance(sub, _TORCH_NORMS)
        for pname, _ in sub.named_parameters(recurse=False)
    }
    return {
        name
        for name, param in module.named_parameters()
        if skips_weight_decay(rule, name, param.ndim, name in in_norm)
    }


def layer_decay_param_groups(
    named_params: Iterable[tuple[str, nn.Parameter]],
    base_lr: float,
    base_wd: float,
    num_layers: int,
    decay_rate: float,
    no_decay: Container[str] = frozenset(),
) -> list[dict[str, Any]]:
    """Group parameters by (layer id, decay or not) with their scaled ``lr``/``weight_decay``.

    ``no_decay`` names the parameters without weight decay (see :func:`no_decay_names`).
    Frozen parameters are left out. Each group carries ``lr_scale``, ``layer_id``,
    ``group_name`` and ``param_names`` for logging.
    """
    groups: dict[str, dict[str, Any]] = {}
    for name, param in named_params:
        if not param.requires_grad:
            continue
        layer_id = get_layer_id(name, num_layers)
        exempt = name in no_decay
        key = f"layer_{layer_id}_{'no_decay' if exempt else 'decay'}"
        if key not in groups:
            scale = lr_scale(layer_id, num_layers, decay_rate)
            groups[key] = {
                "params": [],
                "param_names": [],
                "lr": base_lr * scale,
                "weight_decay": 0.0 if exempt else base_wd,
                "lr_scale": scale,
                "layer_id": layer_id,
                "group_name": key,
            }
        groups[key]["params"].append(param)
        groups[key]["param_names"].append(name)
    return sorted(groups.values(), key=lambda g: (g["layer_id"], g["group_name"]))


def _read_paramwise(paramwise_cfg: Mapping[str, Any]) -> tuple[int, float, str]:
    num_layers = paramwise_cfg.get("num_layers")
    decay_rate = paramwise_cfg.get("decay_rate")
    decay_type = paramwise_cfg.get("decay_type", "layer_wise")
    if not isinstance(num_layers, int) or num_layers <= 0:
        raise ConfigError(
            f"paramwise_cfg.num_layers must be a positive int, got {num_layers!r}",
            hint="set it to the backbone depth (12 for ViT-B)",
        )
    if not isinstance(decay_rate, (int, float)) or not 0 < decay_rate <= 1:
        raise ConfigError(
            f"paramwise_cfg.decay_rate must be in (0, 1], got {decay_rate!r}",
            hint="ViTDet uses 0.7 (ViT-B), 0.8 (ViT-L), 0.9 (ViT-H); 1.0 disables decay",
        )
    if decay_type != "layer_wise":
        raise ConfigError(
            f"paramwise_cfg.decay_type={decay_type!r} is not supported",
            hint="use decay_type='layer_wise'",
        )
    rule = paramwise_cfg.get("no_decay", DEFAULT_NO_DECAY)
    if rule not in NO_DECAY_RULES:
        raise ConfigError(
            f"paramwise_cfg.no_decay={rule!r} is not a weight-decay rule",
            hint=f"use one of {', '.join(NO_DECAY_RULES)} (default {DEFAULT_NO_DECAY!r})",
        )
    return num_layers, float(decay_rate), rule


class LayerDecayOptimizerConstructor(DefaultOptimWrapperConstructor):
    """Optimizer-wrapper constructor applying layer-wise lr decay to a ViT detector.

    ``paramwise_cfg``: ``num_layers`` (backbone depth), ``decay_rate``, optional
    ``decay_type='layer_wise'`` and ``no_decay`` (a key of :data:`NO_DECAY_RULES`, default
    ``'mmdet'``). Same registry name, cfg keys and groups as MMDetection's ViTDet.
    """

    def add_params(self, params: list[dict], module: nn.Module, **kwargs: Any) -> None:
        num_layers, decay_rate, rule = _read_paramwise(self.paramwise_cfg)
        blocks = getattr(getattr(module, "backbone", module), "blocks", None)
        if blocks is not None and len(blocks) != num_layers:
            raise ConfigError(
                f"paramwise_cfg.num_layers={num_layers} but the backbone has {len(blocks)} blocks",
                hint=f"set num_layers={len(blocks)}",
            )
        base_lr = self.base_lr if self.base_lr is not None else 0.0
        base_wd = self.base_wd if self.base_wd is not None else 0.0
        groups = layer_decay_param_groups(
            module.named_parameters(),
            base_lr,
            base_wd,
            num_layers,
            decay_rate,
            no_decay_names(module, rule),
        )
        _log_groups(groups, num_layers, decay_rate, rule)
        params.extend(groups)


def _log_groups(
    groups: list[dict[str, Any]], num_layers: int, decay_rate: float, rule: str
) -> None:
    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    lines = [
        f"layer-wise lr decay {decay_rate} over {num_layers} layers; "
        f"no weight decay ({rule} rule): {NO_DECAY_RULES[rule]}",
        f"  {'group':<22} {'lr_scale':>9} {'lr':>10} {'wd':>6} {'params':>6}  names",
    ]
    for g in groups:
        names = g["param_names"]
        shown = ", ".join(names[:3]) + (f" (+{len(names) - 3})" if len(names) > 3 else "")
        lines.append(
            f"  {g['group_name']:<22} {g['lr_scale']:>9.4g} {g['lr']:>10.3g} "
            f"{g['weight_decay']:>6g} {len(names):>6}  {shown}"
        )
    logger.info("\n".join(lines))
