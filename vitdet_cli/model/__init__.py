"""ViTDet model parts: ViT backbone, SimpleFPN, layer-decay optimizer constructor, presets,
MAE checkpoint loading, and their registration into MMDetection's registries.

Importing this package is cheap (no torch); classes load on first attribute access.
Call :func:`register_modules` before building an MMDetection config that names ``ViT``,
``SimpleFPN``, ``LN2d``, ``LayerDecayOptimizerConstructor`` or ``Fp16CompresssionHook``.
"""

from __future__ import annotations

import importlib
from typing import Any

from vitdet_cli.errors import VitdetError

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
    "ViTDetPreset": ("vitdet_cli.config.presets", "ViTDetPreset"),
    "get_preset": ("vitdet_cli.config.presets", "get_preset"),
    "list_presets": ("vitdet_cli.config.presets", "list_presets"),
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
            MMDetection's own ``projects.ViTDet`` imported earlier): ours win. Without it such a
            class is an error, never silently used in place of ours.

    Returns:
        ``"REGISTRY.Name"`` for each entry this call added or replaced (empty when all were
        already ours).
    """
    if registries is None:
        import mmdet.registry as mmdet_registry

        registries = {attr: getattr(mmdet_registry, attr) for attr, _, _ in REGISTRATIONS}
    todo = []
    for attr, type_name, public in REGISTRATIONS:
        cls = __getattr__(public)
        current = registries[attr].module_dict.get(type_name)
        if current is not cls:
            todo.append((attr, type_name, cls, current))
    foreign = [f"{a}.{n} ({c.__module__}.{c.__qualname__})" for a, n, _, c in todo if c]
    if foreign and not force:
        raise VitdetError(
            f"other classes are registered under vitdet's names: {', '.join(foreign)}; "
            "vitdet will not build with them",
            hint="do not import MMDetection's projects.ViTDet alongside vitdet (a config's "
            "custom_imports of it is mapped to vitdet's modules), or call "
            "register_modules(force=True) to replace them with vitdet's",
            code="registry_conflict",
        )
    for attr, type_name, cls, _ in todo:
        registries[attr].register_module(name=type_name, module=cls, force=True)
    return [f"{attr}.{type_name}" for attr, type_name, _, _ in todo]
