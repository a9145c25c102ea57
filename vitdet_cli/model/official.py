"""MMDetection's ``projects/ViTDet`` configs, read with our modules standing in for the project's.

Its configs say ``custom_imports = dict(imports=['projects.ViTDet.vitdet'])``; that package is not
in MMDetection's wheel, and vitdet never imports modules a config lists (it runs only the file
the user names). The project's classes (``ViT``, ``SimpleFPN``, ``LN2d``,
``LayerDecayOptimizerConstructor``, ``Fp16CompresssionHook``) are ours under the same names, so
the import is dropped and our classes are registered in their place, replacing the project's
should it have been imported in this process. Any other custom import is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vitdet_cli.errors import VitdetError, reason
from vitdet_cli.model import register_modules

#: ``custom_imports`` entries that name MMDetection's ViTDet project (our modules replace them).
OFFICIAL_PACKAGE = "projects.ViTDet.vitdet"


def is_official_import(name: str) -> bool:
    """``projects.ViTDet``, ``projects.ViTDet.vitdet`` or one of its modules."""
    return name in ("projects.ViTDet", OFFICIAL_PACKAGE) or name.startswith(OFFICIAL_PACKAGE + ".")


def _listed_imports(custom_imports: Any) -> list[str]:
    imports = custom_imports
    if hasattr(custom_imports, "get"):
        imports = custom_imports.get("imports", [])
    return [imports] if isinstance(imports, str) else list(imports or [])


def drop_custom_imports(cfg: Any, source: Path | str) -> list[str]:
    """Remove ``custom_imports`` from ``cfg``; return the ViTDet-project entries it held.

    Raises when it lists anything else: vitdet would have to run code the user did not name.
    """
    imports = _listed_imports(cfg.pop("custom_imports", None) or [])
    foreign = [name for name in imports if not is_official_import(name)]
    if foreign:
        raise VitdetError(
            f"{source}: custom_imports {foreign} would run code outside this config",
            hint=f"vitdet imports no modules a config lists; only {OFFICIAL_PACKAGE!r} is "
            "understood (vitdet's own modules stand in for it). Remove the others from "
            "custom_imports, or run that config with MMDetection's tools/train.py",
            code="custom_imports",
            exit_code=2,
        )
    return imports


def read_config(path: Path | str, register: bool = True) -> Any:
    """An mmengine ``Config`` from ``path`` (bases merged, ``custom_imports`` resolved as above).

    When the config named the ViTDet project and ``register`` is set, our classes are registered
    into MMDetection's registries with ``force=True``: ours win, whatever was registered under
    those names before (a training worker registers them itself, in its own process).
    """
    from mmengine.config import Config

    try:
        cfg = Config.fromfile(str(path), import_custom_modules=False)
    except Exception as exc:  # syntax errors, missing bases, ...
        raise VitdetError(
            f"{path}: cannot read this mmengine config: {reason(exc)}",
            hint="check the file's Python syntax and its _base_ paths (relative to the file)",
            code="config_invalid",
            exit_code=2,
        ) from None
    if drop_custom_imports(cfg, path) and register:
        use_our_modules()
    return cfg


def use_our_modules() -> list[str]:
    """Register our ViTDet classes into mmdet's registries, replacing any other class there."""
    return register_modules(force=True)
