"""Load an ExperimentConfig from YAML with ``--set a.b=c`` overrides and readable errors."""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml
from pydantic import BaseModel, ValidationError

from vitdet_cli.config.schema import ExperimentConfig
from vitdet_cli.errors import ConfigError, excerpt
from vitdet_cli.shipped import shipped_dir

MAX_VALUES = 100_000
"""More values than this (after YAML aliases are expanded) is not a config but an attack."""


def expanded_size(data: Any, limit: int = MAX_VALUES) -> int:
    """How many values ``data`` holds with aliases expanded, counted without expanding them
    (shared nodes are sized once); stops counting past ``limit``."""
    sizes: dict[int, int] = {}

    def size(node: Any) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        key = id(node)
        if key not in sizes:
            sizes[key] = limit + 1  # a node reached again while being sized: a cycle
            children = node.values() if isinstance(node, dict) else node
            total = 1
            for child in children:
                total += size(child)
                if total > limit:
                    break
            sizes[key] = min(total, limit + 1)
        return sizes[key]

    return size(data)


def config_path(path: Path) -> Path:
    """``path``; but ``configs/NAME`` where this folder has no ``configs/`` is the shipped
    config of that name (``vitdet_cli/shipped.py``): the README's commands work from a wheel
    install too, and inside a checkout (or any folder with a ``configs/``) a path is a path."""
    path = Path(path)
    if path.is_absolute() or path.parent != Path("configs") or path.parent.exists():
        return path
    shipped = shipped_dir("configs") / path.name
    return shipped if shipped.is_file() else path


def read_yaml(path: Path) -> dict:
    """Read a YAML mapping, turning every failure into a :class:`ConfigError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"config file not found: {path}",
            hint="check the path; shipped configs live in configs/ (ls configs/)",
            code="config_not_found",
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(
            f"{path}: invalid YAML{where}: {problem}",
            hint="fix the YAML syntax (indentation, ':' after keys, quotes)",
            code="config_yaml",
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path}: not a text file", hint="pass a YAML config", code="config_yaml"
        ) from None
    if data is None:
        raise ConfigError(
            f"{path}: the config file is empty",
            hint="write at least one section (e.g. 'model:'), or start from configs/*.yaml",
            code="config_empty",
        )
    if expanded_size(data) > MAX_VALUES:
        raise ConfigError(
            f"{path}: the YAML expands to more than {MAX_VALUES:,} values (aliases nested in "
            "aliases?)",
            hint="a config needs a few dozen values; remove the nested '*alias' references",
            code="config_yaml",
        )
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of sections, got {type(data).__name__}",
            hint="start the file with keys such as 'name:', 'model:', 'train:'",
            code="config_yaml",
        )
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr=2e-4"`` → (["train", "lr"], "2e-4"); the value is parsed as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or any(not p for p in key.strip().split(".")):
        raise ConfigError(
            f"--set {text!r}: expected KEY=VALUE with a dotted key, e.g. train.lr=2e-4",
            hint="quote the whole pair if the value has spaces: --set 'data.root=/my data'",
            code="bad_override",
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: dict, overrides: Iterable[str]) -> dict:
    """Apply dotted overrides to a raw config mapping (before validation)."""
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for i, part in enumerate(path[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                dotted = ".".join(path[: i + 1])
                raise ConfigError(
                    f"--set {text}: '{dotted}' is a value, not a section",
                    hint=f"set '{dotted}' itself, e.g. --set {dotted}=...",
                    code="bad_override",
                )
            node = child
        node[path[-1]] = value
    return data


def _submodel(annotation: Any) -> Optional[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the section at ``loc`` (empty if it is not a section)."""
    current: Optional[type[BaseModel]] = model
    for part in loc:
        if current is None or not isinstance(part, str) or part not in current.model_fields:
            return []
        current = _submodel(current.model_fields[part].annotation)
    return list(current.model_fields) if current is not None else []


def _source(loc: tuple, overrides: list[str], file: Optional[Path]) -> str:
    dotted = ".".join(str(p) for p in loc)
    for text in reversed(overrides):
        key = text.partition("=")[0].strip()
        if dotted == key or dotted.startswith(key + ".") or key.startswith(dotted + "."):
            return f"--set {text}"
    return str(file) if file else "the config"


def format_validation_error(
    err: ValidationError, file: Optional[Path], overrides: list[str], model=ExperimentConfig
) -> ConfigError:
    """One readable message per problem: field path, source, what is wrong, a hint."""
    lines, hints, code = [], [], "config_invalid"
    for item in err.errors():
        loc = tuple(item["loc"])
        dotted = ".".join(str(p) for p in loc)
        source = _source(loc, overrides, file)
        if item["type"] == "extra_forbidden":
            code = "config_unknown_key"
            known = _fields_at(model, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.5)
            suggestion = (
                f"; did you mean '{'.'.join([*map(str, loc[:-1]), close[0]])}'?" if close else ""
            )
            lines.append(f"{source}: unknown key '{dotted}'{suggestion}")
            hints.append(f"known keys here: {', '.join(known)}" if known else "remove the key")
        else:
            given = item.get("input")
            shown = f" (got {excerpt(given)})" if not isinstance(given, dict) else ""
            msg = item["msg"].removeprefix("Value error, ")
            field = f"'{dotted}': " if dotted else ""
            lines.append(f"{source}: {field}{msg}{shown}")
    hint = hints[0] if hints else "see `vitdet config show CONFIG` for every field and its default"
    return ConfigError("\n".join(lines), hint=hint, code=code)


def load_config(path: Optional[Path], overrides: Iterable[str] = ()) -> ExperimentConfig:
    """Load, override and validate an experiment config.

    Args:
        path: YAML file; ``None`` starts from the defaults.
        overrides: ``a.b=c`` strings applied after the file, values coerced to the field type.
    """
    overrides = list(overrides)
    data = read_yaml(config_path(Path(path))) if path is not None else {}
    data = apply_overrides(data, overrides)
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as err:
        raise format_validation_error(err, Path(path) if path else None, overrides) from None


def dump_config(cfg: ExperimentConfig) -> str:
    """The resolved config as YAML (what `config show` prints)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
