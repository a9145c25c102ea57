"""Layer-wise learning-rate decay for ViT fine-tuning (the ViTDet / MAE recipe).

Block ``i`` of the backbone trains at ``lr * decay ** (num_layers - i)``; the patch/pos embed
at ``decay ** (num_layers + 1)``; the neck and heads at the full ``lr``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
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


def skips_weight_decay(param_name: str, ndim: int) -> bool:
    """No weight decay for 1-D tensors (norms, biases), any ``*.bias`` and the pos-embed."""
    return ndim <= 1 or param_name.endswith(".bias") or "pos_embed" in param_name


def layer_decay_param_groups(
    named_params: Iterable[tuple[str, nn.Parameter]],
    base_lr: float,
    base_wd: float,
    num_layers: int,
    decay_rate: float,
) -> list[dict[str, Any]]:
    """Group parameters by (layer id, decay or not) with their scaled ``lr``/``weight_decay``.

    Frozen parameters are left out. Each group carries ``lr_scale``, ``layer_id``,
    ``group_name`` and ``param_names`` for logging.
    """
    groups: dict[str, dict[str, Any]] = {}
    for name, param in named_params:
        if not param.requires_grad:
            continue
        layer_id = get_layer_id(name, num_layers)
        no_decay = skips_weight_decay(name, param.ndim)
        key = f"layer_{layer_id}_{'no_decay' if no_decay else 'decay'}"
        if key not in groups:
            scale = lr_scale(layer_id, num_layers, decay_rate)
            groups[key] = {
                "params": [],
                "param_names": [],
                "lr": base_lr * scale,
                "weight_decay": 0.0 if no_decay else base_wd,
                "lr_scale": scale,
                "layer_id": layer_id,
                "group_name": key,
            }
        groups[key]["params"].append(param)
        groups[key]["param_names"].append(name)
    return sorted(groups.values(), key=lambda g: (g["layer_id"], g["group_name"]))


def _read_paramwise(paramwise_cfg: Mapping[str, Any]) -> tuple[int, float]:
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
    return num_layers, float(decay_rate)


class LayerDecayOptimizerConstructor(DefaultOptimWrapperConstructor):
    """Optimizer-wrapper constructor applying layer-wise lr decay to a ViT detector.

    ``paramwise_cfg``: ``num_layers`` (backbone depth), ``decay_rate``, optional
    ``decay_type='layer_wise'``. Same registry name and cfg keys as MMDetection's ViTDet.
    """

    def add_params(self, params: list[dict], module: nn.Module, **kwargs: Any) -> None:
        num_layers, decay_rate = _read_paramwise(self.paramwise_cfg)
        blocks = getattr(getattr(module, "backbone", module), "blocks", None)
        if blocks is not None and len(blocks) != num_layers:
            raise ConfigError(
                f"paramwise_cfg.num_layers={num_layers} but the backbone has {len(blocks)} blocks",
                hint=f"set num_layers={len(blocks)}",
            )
        base_lr = self.base_lr if self.base_lr is not None else 0.0
        base_wd = self.base_wd if self.base_wd is not None else 0.0
        groups = layer_decay_param_groups(
            module.named_parameters(), base_lr, base_wd, num_layers, decay_rate
        )
        _log_groups(groups, num_layers, decay_rate)
        params.extend(groups)


def _log_groups(groups: list[dict[str, Any]], num_layers: int, decay_rate: float) -> None:
    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    lines = [f"layer-wise lr decay {decay_rate} over {num_layers} layers:"]
    for g in groups:
        lines.append(
            f"  {g['group_name']:<22} lr_scale={g['lr_scale']:.4g} "
            f"wd={g['weight_decay']:g} params={len(g['params'])}"
        )
    logger.info("\n".join(lines))
