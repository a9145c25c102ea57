"""Atomic file writes: a reader never sees a half-written file."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Iterator


def _file_mode() -> int:
    """Permissions an ordinary ``open(path, "w")`` would give (mkstemp's are owner-only)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_MODE = _file_mode()


@contextmanager
def atomic_writer(path: str | os.PathLike, fsync: bool = True) -> Iterator[BinaryIO]:
    """A binary file handle whose content replaces ``path`` only if the block completes.

    Writes go to a temp file beside ``path`` (fsync'd unless told not to), renamed over it at the
    end; on any error the temp file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, _MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_writer(path, fsync) as fh:
        fh.write(data)
    return Path(path)


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int | None = None) -> Path:
    """Serialise ``obj`` as JSON (key order kept, so equal input gives equal bytes) atomically."""
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(obj, indent=indent, separators=separators, ensure_ascii=False)
    return write_bytes_atomic(path, (text + "\n").encode("utf-8"))
