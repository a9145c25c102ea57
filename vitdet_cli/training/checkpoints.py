"""Finding the checkpoint to resume from: the newest *complete* one, never a partial write."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Optional

_CKPT = re.compile(r"^(iter|epoch)_(\d+)\.pth$")


def is_complete(path: Path) -> bool:
    """A torch zip checkpoint whose central directory (written last) is intact."""
    try:
        with zipfile.ZipFile(path) as zf:
            return any(name.endswith("data.pkl") for name in zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def list_checkpoints(work_dir: Path) -> list[Path]:
    """``iter_N.pth``/``epoch_N.pth`` in ``work_dir``, newest (highest N) first."""
    found = []
    for p in Path(work_dir).glob("*.pth"):
        m = _CKPT.match(p.name)
        if m:
            found.append((int(m.group(2)), p))
    return [p for _, p in sorted(found, reverse=True)]


def latest_complete(work_dir: Path) -> Optional[Path]:
    return next((p for p in list_checkpoints(work_dir) if is_complete(p)), None)
