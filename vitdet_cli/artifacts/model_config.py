"""The resolved model config as data (``model_config.json``): read without running any Python.

``vitdet train`` writes it beside the checkpoints (``vitdet_config.json``) and ``vitdet export``
into the artifacts (``export/model_config.json``); the torch backend and ``export`` without
``--config`` rebuild the model from it. A ``.py`` config is executed only when a user names it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from vitdet_cli.atomic import write_json_atomic
from vitdet_cli.errors import VitdetError
from vitdet_cli.metafile import read_meta

SCHEMA_VERSION = 1
TRAIN_NAME = "vitdet_config.json"
"""What ``vitdet train`` writes into the work dir beside the checkpoints."""
_HINT = "re-export (or re-train) with this version of vitdet, which writes it"


def as_data(value: Any, where: str = "model") -> Any:
    """``value`` as plain JSON data (tuples become lists); anything else — a class, a function,
    NaN — is an error naming the field."""
    if isinstance(value, Mapping):
        return {str(k): as_data(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_data(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise VitdetError(f"config field {where} is {value}", code="config_invalid", exit_code=2)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise VitdetError(
        f"config field {where} holds a {type(value).__name__}, which cannot travel as data",
        hint="name registered types by string (type='ViT'), as mmdet configs do",
        code="config_invalid",
        exit_code=2,
    )


@dataclass(frozen=True)
class ModelConfig:
    """An mmdet model dict, the square test image size and the class names (when known)."""

    model: dict[str, Any]
    img_size: int
    class_names: Optional[list[str]] = None
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "img_size": self.img_size,
            "class_names": self.class_names,
            "model": as_data(self.model),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelConfig":
        model, size = data["model"], data["img_size"]
        names = data.get("class_names")
        if not isinstance(model, dict) or not isinstance(model.get("type"), str):
            raise ValueError("'model' must be a mapping with a 'type'")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(f"'img_size' must be a positive integer, got {size!r}")
        if names is not None and (
            not isinstance(names, list) or not all(isinstance(n, str) and n for n in names)
        ):
            raise ValueError("'class_names' must be a list of non-empty strings")
        return cls(model, size, names, int(data["schema_version"]))


def write_model_config(path: str | Path, config: ModelConfig) -> Path:
    """Write ``config`` as JSON atomically."""
    return write_json_atomic(path, config.to_dict(), indent=1)


def read_model_config(path: str | Path) -> ModelConfig:
    """Parse a ``model_config.json`` / ``vitdet_config.json`` (data only, nothing executed)."""
    return read_meta(
        Path(path),
        SCHEMA_VERSION,
        ModelConfig.from_dict,
        hint=_HINT,
        code="model_config",
        newer_hint="upgrade vitdet-cli",
    )


def beside_checkpoint(checkpoint: str | Path) -> Optional[ModelConfig]:
    """The model config ``vitdet train`` wrote beside ``checkpoint`` (``vitdet_config.json``),
    or None when there is none."""
    found = Path(checkpoint).parent / TRAIN_NAME
    return read_model_config(found) if found.is_file() else None
