"""Runtime fixes that let mmengine 0.10 / mmdet 3.3 run on current torch and on NPU/CPU.

Each shim is small, idempotent and tested; none edits installed files.
"""

from __future__ import annotations

import errno
import functools
import os
import pickle
import shutil

import numpy as np

from vitdet_cli.atomic import atomic_writer
from vitdet_cli.errors import VitdetError, reason
from vitdet_cli.io_checks import os_error

_applied: set[str] = set()


def _once(name: str) -> bool:
    if name in _applied:
        return False
    _applied.add(name)
    return True


def mmengine_safe_globals() -> list:
    """Non-tensor types that mmengine checkpoints hold (message hub buffers, numpy scalars).

    torch ≥ 2.6 loads with ``weights_only=True``; instead of turning that off (which would let a
    crafted file run code), these few known types are allow-listed.
    """
    from mmengine.logging.history_buffer import HistoryBuffer

    types: list = [HistoryBuffer, np.dtype, np.ndarray]
    core = getattr(np, "_core", None) or np.core
    types += [core.multiarray._reconstruct, core.multiarray.scalar]
    types += [type(np.dtype(t)) for t in ("float64", "float32", "int64", "int32", "bool")]
    # checkpoints of plain mmengine runs (MMDetection's tools/train.py) reference the buffers'
    # statistics as getattr(HistoryBuffer, 'min'): a getattr that allows only those
    types.append((history_buffer_statistic, "builtins.getattr"))
    return types


def history_buffer_statistic(owner: object, name: str):
    """``getattr`` for ``weights_only`` loads: only a statistics method of ``HistoryBuffer``."""
    from mmengine.logging.history_buffer import HistoryBuffer

    known = name in _DEFAULT_STATS or name in HistoryBuffer._statistics_methods
    if owner is HistoryBuffer and known:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(f"refused getattr({owner!r}, {name!r}) in a weights-only load")


_DEFAULT_STATS = ("min", "max", "current", "mean")


def _history_buffer_getstate(self) -> dict:
    """Like mmengine's, but without the built-in statistics functions.

    mmengine pickles ``HistoryBuffer.min`` & co. as ``getattr(HistoryBuffer, 'min')``, which a
    ``weights_only`` load must refuse (allowing ``getattr`` would open the door to code). They are
    re-registered by ``__setstate__`` anyway, so leaving them out loses nothing.
    """
    state = {k: v for k, v in self.__dict__.items() if k != "statistics_methods"}
    custom = {k: v for k, v in self._statistics_methods.items() if k not in _DEFAULT_STATS}
    if custom:
        state["statistics_methods"] = custom
    return state


def allow_mmengine_checkpoints() -> None:
    """Let ``torch.load(weights_only=True)`` read the checkpoints our runs write (resume).

    Known plain-data types are allow-listed and message-hub buffers are saved without function
    references; anything else in a foreign file still fails the safe load.
    """
    if not _once("safe_globals"):
        return
    import torch
    from mmengine.logging.history_buffer import HistoryBuffer

    HistoryBuffer.__getstate__ = _history_buffer_getstate
    if hasattr(torch.serialization, "add_safe_globals"):
        torch.serialization.add_safe_globals(mmengine_safe_globals())


def atomic_torch_save(obj, filename: str | os.PathLike) -> None:
    """``torch.save`` that never leaves a partial file (temp file, fsync, rename)."""
    import torch

    try:
        with atomic_writer(filename) as fh:
            torch.save(obj, fh)
    except RuntimeError as err:  # torch reports a failed write as "unexpected pos ..."
        raise write_failure(filename, err) from err


def write_failure(filename: str | os.PathLike, err: Exception):
    """The error for a ``torch.save`` that failed to write: disk full when it is."""
    try:
        full = shutil.disk_usage(os.path.dirname(os.path.abspath(filename))).free < 2**26
    except OSError:
        full = False
    if full:
        return os_error(OSError(errno.ENOSPC, "no space left"), filename)
    return VitdetError(f"could not write {filename}: {reason(err)}", code="write_failed")


def atomic_checkpoints() -> None:
    """Make mmengine's Runner write checkpoints atomically (a kill never leaves half a file)."""
    if not _once("atomic_checkpoints"):
        return
    import mmengine.runner.runner as runner_mod

    original = runner_mod.save_checkpoint

    @functools.wraps(original)
    def save_checkpoint(checkpoint, filename, *args, **kwargs):
        if "://" in str(filename):
            return original(checkpoint, filename, *args, **kwargs)
        atomic_torch_save(checkpoint, filename)

    runner_mod.save_checkpoint = save_checkpoint


def mmdet_device_defaults(device: str) -> None:
    """mmdet's ``sync_random_seed``/``obj2tensor`` default to ``device='cuda'``; use ours."""
    if not _once("mmdet_device"):
        return
    import mmdet.utils as mmdet_utils
    import mmdet.utils.dist_utils as dist_utils

    for name in ("sync_random_seed", "obj2tensor"):
        original = getattr(dist_utils, name)

        @functools.wraps(original)
        def wrapper(*args, _original=original, **kwargs):
            if len(args) < 2:
                kwargs.setdefault("device", device)
            return _original(*args, **kwargs)

        setattr(dist_utils, name, wrapper)
        if hasattr(mmdet_utils, name):
            setattr(mmdet_utils, name, wrapper)


def init_cpu_distributed() -> bool:
    """Start the gloo process group under torchrun on CPU.

    mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` first, which fails on a
    CPU-only torch; once a group exists the Runner skips its own initialisation.
    """
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False
    dist.init_process_group(backend="gloo")
    return True


def apply_all(device_kind: str) -> None:
    """Every shim that applies to ``device_kind`` (npu/cuda/cpu)."""
    allow_mmengine_checkpoints()
    atomic_checkpoints()
    mmdet_device_defaults("cpu" if device_kind == "cpu" else device_kind)
    if device_kind == "cpu":
        init_cpu_distributed()
