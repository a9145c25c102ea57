"""ViTDet model parts: ViT backbone, SimpleFPN, layer-decay optimizer constructor, presets,
MAE checkpoint loading, and their registration into MMDetection's registries.

Importing this package is cheap (no torch); classes load on first attribute access.
Call :func:`register_modules` before building an MMDetection config that names ``ViT``,
``SimpleFPN``, ``LN2d``, ``LayerDecayOptimizerConstructor`` or ``Fp16CompresssionHook``.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

# public name -> (module, attribute)
_LAZY = {
    "ViT": ("vitdet_cli.model.vit", "ViT"),
    "SimpleFPN": ("vitdet_cli.model.simple_fpn", "SimpleFPN"),
    "LN2d": ("vitdet_cli.model.simple_fpn", "LN2d"),
    "LayerDecayOptimizerConstructor": (
        "vitdet_cli.model.layer_decay",
        "LayerDecayOptimizerConstructor",
    ),
    "get_layer_id": ("vitdet_cli.model.layer_decay", "get_layer_id"),
    "lr_scale": ("vitdet_cli.model.layer_decay", "lr_scale"),
    "Fp16CompresssionHook": ("vitdet_cli.model.hooks", "Fp16CompresssionHook"),
    "LoadReport": ("vitdet_cli.model.checkpoint", "LoadReport"),
    "load_pretrained_backbone": ("vitdet_cli.model.checkpoint", "load_pretrained_backbone"),
    "ViTDetPreset": ("vitdet_cli.model.presets", "ViTDetPreset"),
    "get_preset": ("vitdet_cli.model.presets", "get_preset"),
    "list_presets": ("vitdet_cli.model.presets", "list_presets"),
}

#: (registry attribute of ``mmdet.registry``, registered type name, public name here)
REGISTRATIONS = (
    ("MODELS", "ViT", "ViT"),
    ("MODELS", "SimpleFPN", "SimpleFPN"),
    ("MODELS", "LN2d", "LN2d"),
    (
        "OPTIM_WRAPPER_CONSTRUCTORS",
        "LayerDecayOptimizerConstructor",
        "LayerDecayOptimizerConstructor",
    ),
    ("HOOKS", "Fp16CompresssionHook", "Fp16CompresssionHook"),
)

__all__ = [
    "REGISTRATIONS",
    "Fp16CompresssionHook",
    "LN2d",
    "LayerDecayOptimizerConstructor",
    "LoadReport",
    "SimpleFPN",
    "ViT",
    "ViTDetPreset",
    "get_layer_id",
    "get_preset",
    "list_presets",
    "load_pretrained_backbone",
    "lr_scale",
    "register_modules",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register_modules(registries: dict[str, Any] | None = None, force: bool = False) -> list[str]:
    """Register our classes under MMDetection ViTDet's type names; safe to call repeatedly.

    Args:
        registries: ``{'MODELS': reg, 'OPTIM_WRAPPER_CONSTRUCTORS': reg, 'HOOKS': reg}``;
            defaults to ``mmdet.registry``'s (which needs mmcv importable).
        force: replace a different class already registered under one of the names (e.g.
            MMDetection's own ``projects.ViTDet`` imported earlier); without it that class
            is left in place.

    Returns:
        ``"REGISTRY.Name"`` for each entry this call added or replaced (empty when all were
        already ours).
    """
    if registries is None:
        import mmdet.registry as mmdet_registry

        registries = {attr: getattr(mmdet_registry, attr) for attr, _, _ in REGISTRATIONS}
    changed = []
    for attr, type_name, public in REGISTRATIONS:
        registry = registries[attr]
        cls = __getattr__(public)
        current = registry.module_dict.get(type_name)
        if current is cls:
            continue
        if current is not None and not force:
            warnings.warn(
                f"{attr} already has a different {type_name!r} ({current.__module__}); "
                "keeping it (register_modules(force=True) replaces it)",
                stacklevel=2,
            )
            continue
        registry.register_module(name=type_name, module=cls, force=True)
        changed.append(f"{attr}.{type_name}")
    return changed
