"""The folders that ship with the code but are not code: ``configs/``, ``patches/``, ``scripts/``.

Their one copy is the repository's top-level folder of that name. A wheel carries each inside
the package as ``vitdet_cli/_<name>/`` (``setup.py`` maps them); a checkout, whether on
``PYTHONPATH`` or installed editable (``pip install -e .``, as ``make setup`` and docker/ do),
has no such folder, and the top-level one beside the package is read.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

FOLDERS = ("configs", "patches", "scripts")


def shipped_dir(name: str) -> Path:
    """The folder ``name`` (one of :data:`FOLDERS`) of this installation."""
    if name not in FOLDERS:
        raise ValueError(f"{name!r} is not one of the shipped folders {FOLDERS}")
    package = Path(str(resources.files("vitdet_cli")))
    inside = package / f"_{name}"  # a wheel
    return inside if inside.is_dir() else package.parent / name
