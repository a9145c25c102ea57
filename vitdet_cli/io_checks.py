"""Output locations checked before any work starts, and OS errors as one clear message."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Iterable, Optional

from vitdet_cli.errors import VitdetError

DEFAULT_NAME_MAX = 255

_OS_ERRORS = {
    errno.ENOSPC: (
        "no space left on the device writing {path}",
        "free disk space or use another output folder",
    ),
    errno.EDQUOT: ("disk quota exceeded writing {path}", "free space or use another folder"),
    errno.EACCES: ("permission denied: {path}", "use a location you can read and write"),
    errno.EPERM: ("operation not permitted: {path}", "use a location you can read and write"),
    errno.EROFS: ("read-only file system: {path}", "write to a writable location"),
    errno.ENOTDIR: ("{path}: a part of this path is a file, not a folder", "check the path"),
    errno.EISDIR: ("{path} is a folder, expected a file", "name a file, not a folder"),
    errno.ENAMETOOLONG: ("file name too long: {path}", "use shorter file or folder names"),
    errno.ENOENT: ("no such file or folder: {path}", "check the path"),
}


def os_error(err: OSError, path: Optional[str | os.PathLike] = None) -> VitdetError:
    """One message naming the path for an :class:`OSError` (disk full, permissions, ...)."""
    where = path or err.filename or "?"
    if err.filename2:
        where = f"{where} → {err.filename2}"
    message, hint = _OS_ERRORS.get(
        err.errno, (f"{err.strerror or type(err).__name__}: {{path}}", "check the path")
    )
    code = errno.errorcode.get(err.errno or 0, "oserror").lower()
    return VitdetError(message.format(path=where), hint=hint, code=f"io_{code}")


def name_max(folder: str | os.PathLike) -> int:
    """The longest file name (bytes) the file system of ``folder`` accepts."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return DEFAULT_NAME_MAX


def fit_name(stem: str, suffix: str, limit: int = DEFAULT_NAME_MAX) -> str:
    """``stem + suffix``, the stem shortened (whole characters) so the UTF-8 name fits ``limit``."""
    room = limit - len(suffix.encode("utf-8"))
    raw = stem.encode("utf-8")
    if len(raw) > room:
        stem = raw[: max(room, 1)].decode("utf-8", errors="ignore")
    return stem + suffix


def prepare_out_dir(
    path: str | os.PathLike, option: str = "--out", create: bool = True
) -> Path:
    """Prove ``path`` (a folder) usable before any work is done: make it if needed and write a
    probe file there. With ``create=False`` a missing folder is not made; its nearest existing
    parent is probed instead, so a run refused later leaves no empty folder behind."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise VitdetError(
            f"{option} {out} is a file, not a folder",
            hint=f"pass a folder to {option} (it is created if missing)",
            code="out_not_dir",
            exit_code=2,
        )
    probe_dir = out
    try:
        if create:
            out.mkdir(parents=True, exist_ok=True)
        else:
            while not probe_dir.exists() and probe_dir != probe_dir.parent:
                probe_dir = probe_dir.parent
            if not probe_dir.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(probe_dir))
        fd, probe = tempfile.mkstemp(prefix=".vitdet-write-test.", dir=probe_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        bad = os_error(err, err.filename or probe_dir)
        raise VitdetError(
            f"{option} {out} is not usable: {bad.message}",
            hint=bad.hint,
            code=bad.code,
            exit_code=2,
        ) from None
    return out


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def prepare_out_file(
    path: str | os.PathLike, option: str = "--out", inputs: Iterable[str | os.PathLike] = ()
) -> Path:
    """Check that ``path`` can be written as a file and is none of ``inputs``."""
    out = Path(path)
    for given in inputs:
        if _same_file(out, Path(given)):
            raise VitdetError(
                f"{option} {out} is the input file {given}: writing it would destroy the input",
                hint=f"choose another file for {option}",
                code="out_is_input",
                exit_code=2,
            )
    if out.is_dir():
        raise VitdetError(
            f"{option} {out} is a folder, expected a file name",
            hint=f"e.g. {option} {out / 'subset.json'}",
            code="out_is_dir",
            exit_code=2,
        )
    prepare_out_dir(out.parent, option=f"{option} folder")
    if len(out.name.encode("utf-8")) > name_max(out.parent):
        raise VitdetError(
            f"{option}: file name too long: {out.name[:60]}...", code="io_enametoolong", exit_code=2
        )
    return out
