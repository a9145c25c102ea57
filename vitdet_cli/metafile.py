"""Schema-versioned JSON metas and sha256-checked files: the one reader behind every
``*_meta.json`` (export, atc), so a stale, truncated or too-new file fails the same clear way."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable, Optional, TypeVar

from vitdet_cli.errors import VitdetError

T = TypeVar("T")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_meta(
    path: Path,
    max_version: int,
    parse: Callable[[dict], T],
    hint: str,
    code: str,
    newer_hint: str,
) -> T:
    """Load ``path``, check its ``schema_version`` (≤ ``max_version``) and ``parse`` it.

    Errors are ``<code>_missing``, ``<code>_invalid`` (bad JSON, no version, a missing or bad
    field) and ``<code>_newer``, each naming the file.
    """
    if not path.is_file():
        raise VitdetError(f"{path} not found", hint=hint, code=f"{code}_missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VitdetError(
            f"{path} is not valid JSON: {exc}", hint=hint, code=f"{code}_invalid"
        ) from exc
    version = data.get("schema_version") if isinstance(data, dict) else None
    if not isinstance(version, int):
        raise VitdetError(f"{path} has no schema_version", hint=hint, code=f"{code}_invalid")
    if version > max_version:
        raise VitdetError(
            f"{path} has schema_version {version}; this vitdet reads up to {max_version}",
            hint=newer_hint,
            code=f"{code}_newer",
        )
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise VitdetError(
            f"{path} is missing or has a bad field: {exc}", hint=hint, code=f"{code}_invalid"
        ) from exc


def verify_file(
    path: Path,
    sha256: str,
    meta_path: Optional[Path],
    hint: str,
    code: str,
    changed: str,
) -> None:
    """Raise ``<code>_missing`` / ``<code>_hash_mismatch`` when ``path`` is absent or its
    sha256 differs from the meta's; ``changed`` says what probably happened."""
    where = f" (listed in {meta_path})" if meta_path else ""
    if not path.is_file():
        raise VitdetError(f"{path} not found{where}", hint=hint, code=f"{code}_missing")
    actual = sha256_file(path)
    if actual != sha256:
        raise VitdetError(
            f"{path} does not match its meta{where}: sha256 {actual[:12]}… != {sha256[:12]}…",
            hint=f"{changed}; {hint}",
            code=f"{code}_hash_mismatch",
        )
