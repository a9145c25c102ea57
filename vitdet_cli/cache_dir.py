"""Where the tool keeps what it can rebuild (mmcv wheels, compiled OpenVINO models)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$VITDET_CACHE_DIR`` or ``$XDG_CACHE_HOME/vitdet`` or ``~/.cache/vitdet``."""
    if os.environ.get("VITDET_CACHE_DIR"):
        return Path(os.environ["VITDET_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vitdet"
