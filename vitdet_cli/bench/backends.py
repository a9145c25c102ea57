"""``--backend(s)`` values: repeatable and/or comma-separated, checked against the registry."""

from __future__ import annotations

from typing import Iterable

from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.backends import BACKENDS
from vitdet_cli.runtime.backends.tuned import AUTO, TUNED

NAMES = (*BACKENDS, TUNED, AUTO)
"""Accepted names: every backend, ``tuned`` (``vitdet tune``'s choice per stage) and ``auto``."""


def parse_backends(values: Iterable[str]) -> list[str]:
    """``["onnxruntime,om", "torch"]`` → ``["onnxruntime", "om", "torch"]`` (order kept, no
    repeats); a usage error for an unknown name."""
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    unknown = [n for n in names if n not in NAMES]
    if unknown or not names:
        raise VitdetError(
            f"unknown backend(s): {', '.join(unknown)}" if unknown else "no backend given",
            hint=f"use one or more of: {', '.join(NAMES)}",
            code="bad_backend",
            exit_code=2,
        )
    return list(dict.fromkeys(names))
