"""Atomic file writes: a reader never sees a half-written file."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from vitdet_cli.io_checks import fit_name, name_max, os_error


def _file_mode() -> int:
    """Permissions an ordinary ``open(path, "w")`` would give (mkstemp's are owner-only)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_MODE = _file_mode()


def temp_prefix(path: Path) -> str:
    """``.<name>.`` for the temp file beside ``path``, the name shortened so that the temp
    name (prefix, 8 random characters, ``.tmp``) fits the file system's name limit."""
    return "." + fit_name(path.name, ".", name_max(path.parent) - 1 - _RANDOM_AND_SUFFIX)


_RANDOM_AND_SUFFIX = 8 + len(".tmp")


@contextmanager
def atomic_writer(path: str | os.PathLike, fsync: bool = True) -> Iterator[BinaryIO]:
    """A binary file handle whose content replaces ``path`` only if the block completes.

    Writes go to a temp file beside ``path`` (fsync'd unless told not to), renamed over it at the
    end; on any error the temp file is removed and ``path`` is untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise os_error(err, err.filename or path) from err
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, _MODE)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise os_error(exc, path) from exc
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
