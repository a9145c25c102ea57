"""Finding the checkpoint to resume from: the newest one that loads, never a partial write."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from vitdet_cli.errors import VitdetError
from vitdet_cli.model.shims import allow_mmengine_checkpoints

_CKPT = re.compile(r"^(iter|epoch)_(\d+)\.pth$")
_SAVE_TEMP = re.compile(r"^\.(iter|epoch)_\d+\.pth\..*\.tmp$")


def resume_problem(path: Path) -> Optional[VitdetError]:
    """None if ``path`` loads (safely) as an mmengine training checkpoint, else why not."""
    # deferred: loads torch
    from vitdet_cli.model.checkpoint import read_checkpoint

    allow_mmengine_checkpoints()
    try:
        obj = read_checkpoint(path, mmap=True)
    except VitdetError as err:
        return err
    meta = obj.get("meta") if isinstance(obj, dict) else None
    if (
        not isinstance(meta, dict)
        or not all(isinstance(meta.get(k), int) for k in ("epoch", "iter"))
        or not isinstance(obj.get("state_dict"), dict)
        or not isinstance(obj.get("message_hub"), dict)
    ):
        return VitdetError(
            f"{path}: not a training checkpoint (no meta epoch/iter, state_dict and message_hub)",
            hint="--resume continues a `vitdet train` run from its work dir's iter_N.pth; "
            "to start from other weights use --load-from",
            code="bad_checkpoint",
        )
    return None


def check_load_from(path: Optional[Path]) -> None:
    """``--load-from`` must be a file that loads safely (found now, not after the set-up)."""
    if path is None:
        return
    if not Path(path).is_file():
        raise VitdetError(
            f"--load-from {path}: file not found",
            hint="check the path",
            code="bad_checkpoint",
            exit_code=2,
        )
    # deferred: loads torch
    from vitdet_cli.model.checkpoint import read_checkpoint

    allow_mmengine_checkpoints()
    try:
        read_checkpoint(path, mmap=True)
    except VitdetError as err:
        err.message = f"--load-from {err.message}"
        raise


def is_complete(path: Path) -> bool:
    """Whether ``path`` loads as a training checkpoint (checked, not guessed from its name)."""
    return resume_problem(path) is None


def list_checkpoints(work_dir: Path) -> list[Path]:
    """``iter_N.pth``/``epoch_N.pth`` in ``work_dir``, newest (highest N) first."""
    found = []
    for p in Path(work_dir).glob("*.pth"):
        m = _CKPT.match(p.name)
        if m:
            found.append((int(m.group(2)), p))
    return [p for _, p in sorted(found, reverse=True)]


def latest_complete(work_dir: Path) -> Optional[Path]:
    """The newest checkpoint that loads (older ones are tried when a newer one is damaged)."""
    return next((p for p in list_checkpoints(work_dir) if is_complete(p)), None)


def remove_save_temps(work_dir: Path) -> list[Path]:
    """Delete the temp files of checkpoint saves that were killed (``.iter_N.pth.*.tmp``)."""
    removed = []
    for p in Path(work_dir).glob(".*.tmp") if Path(work_dir).is_dir() else []:
        if _SAVE_TEMP.match(p.name) and p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed
