"""``manifest.json``: every file of an artifacts folder with its size and sha256.

Written last by ``export`` (so a killed export leaves a folder that does not verify) and updated
by ``atc`` and ``tune``; checked like ``sha256sum -c`` on every open. Besides the files it holds
the one source checkpoint every stage was exported from and the versions of the tools that wrote
them.
Every file under ``export/``, ``atc/`` and ``tune/`` must be listed: ONNX Runtime reads external
data by name from beside a graph, so an unlisted file there could be used without being checked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from vitdet_cli.artifacts.layout import MANIFEST, SEALED, check_relative, inside
from vitdet_cli.atomic import write_json_atomic
from vitdet_cli.errors import VitdetError
from vitdet_cli.metafile import read_meta, sha256_file

SCHEMA_VERSION = 1
_HINT = "re-run `vitdet export` (then `vitdet atc`) to write a complete folder"


@dataclass(frozen=True)
class FileEntry:
    """One listed file: folder-relative POSIX path, size in bytes, sha256."""

    path: str
    size: int
    sha256: str

    @classmethod
    def of(cls, root: Path, rel: str) -> "FileEntry":
        path = root / rel
        return cls(rel, path.stat().st_size, sha256_file(path))


@dataclass(frozen=True)
class Manifest:
    """The content of ``manifest.json``.

    Args:
        files: path → :class:`FileEntry`, sorted by path.
        checkpoint: ``{"sha256", "path"}`` of the one checkpoint all stages come from.
        versions: tool versions (export's packages, ``atc``).
        created: UTC time of the last write, ISO 8601.
    """

    files: dict[str, FileEntry]
    checkpoint: dict[str, str]
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "created": self.created,
            "checkpoint": self.checkpoint,
            "versions": self.versions,
            "files": [vars(self.files[p]) for p in sorted(self.files)],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Manifest":
        files = {}
        for item in data["files"]:
            entry = FileEntry(str(item["path"]), int(item["size"]), str(item["sha256"]))
            check_relative(entry.path, MANIFEST)
            if entry.path in files:
                raise ValueError(f"{entry.path} is listed twice")
            files[entry.path] = entry
        checkpoint = dict(data["checkpoint"])
        if not checkpoint.get("sha256"):
            raise ValueError("checkpoint.sha256 is empty")
        return cls(
            files,
            checkpoint,
            dict(data.get("versions", {})),
            str(data.get("created", "")),
            int(data["schema_version"]),
        )


def read_manifest(root: Path) -> Manifest:
    """Parse ``<root>/manifest.json``; a missing one means an unfinished or pre-manifest export."""
    return read_meta(
        root / MANIFEST,
        SCHEMA_VERSION,
        Manifest.from_dict,
        hint=_HINT + " (no manifest: the export did not finish, or an older vitdet wrote it)",
        code="manifest",
        newer_hint="upgrade vitdet-cli",
    )


def sealed_files(root: Path) -> list[str]:
    """Folder-relative paths of every file (and link) under ``export/``, ``atc/`` and ``tune/``."""
    found = []
    for top in SEALED:
        for dirpath, dirnames, filenames in os.walk(root / top):
            base = Path(dirpath).relative_to(root)
            links = [d for d in dirnames if (Path(dirpath) / d).is_symlink()]
            found += [(base / name).as_posix() for name in [*filenames, *links]]
    return sorted(found)


def _under(rel: str, prefixes: Iterable[str]) -> bool:
    return any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in prefixes)


def write_manifest(
    root: Path,
    checkpoint: Mapping[str, str],
    versions: Mapping[str, str],
    previous: Optional[Manifest] = None,
    refresh: Iterable[str] = (),
) -> Manifest:
    """List the folder anew and write the manifest atomically.

    Files under the ``refresh`` prefixes (what the caller just wrote) are hashed now; others
    keep their entry in ``previous`` (checked when the folder was opened) or stay unlisted —
    nothing the caller did not write is blessed.
    """
    refresh = tuple(refresh)
    kept = previous.files if previous is not None else {}
    files = {}
    for rel in sealed_files(root):
        if _under(rel, refresh):
            inside(root, rel, "the artifacts folder")
            files[rel] = FileEntry.of(root, rel)
        elif rel in kept:
            files[rel] = kept[rel]
    manifest = Manifest(
        files,
        dict(checkpoint),
        dict(versions),
        datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    write_json_atomic(root / MANIFEST, manifest.to_dict(), indent=1)
    return manifest


@dataclass
class FileCheck:
    """One row of ``vitdet verify``: status ``ok``, ``missing``, ``size differs``,
    ``sha256 differs``, ``outside`` (leads out of the folder) or ``unlisted``."""

    path: str
    size: Optional[int]
    expected: Optional[str]
    actual: Optional[str]
    status: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self), ok=self.ok)


def check_entry(root: Path, entry: FileEntry) -> FileCheck:
    """Compare one listed file with the folder."""
    row = FileCheck(entry.path, None, entry.sha256, None, "ok")
    try:
        path = inside(root, entry.path, root / MANIFEST)
    except VitdetError as err:
        row.status, row.detail = "outside", err.message
        return row
    if not path.is_file():
        row.status = "missing"
        return row
    row.size = path.stat().st_size
    row.actual = sha256_file(path)
    if row.size != entry.size:
        row.status, row.detail = "size differs", f"{row.size} bytes, listed {entry.size}"
    elif row.actual != entry.sha256:
        row.status = "sha256 differs"
    return row


def check_files(root: Path, manifest: Manifest) -> list[FileCheck]:
    """Every listed file checked, then every unlisted file under the sealed folders."""
    rows = [check_entry(root, manifest.files[p]) for p in sorted(manifest.files)]
    return rows + unlisted_files(root, manifest.files, "not in the manifest")


def unlisted_files(root: Path, listed, detail: str) -> list[FileCheck]:
    """An ``unlisted`` row for every file under the sealed folders that ``listed`` lacks."""
    rows = []
    for rel in sealed_files(root):
        if rel not in listed:
            path = root / rel
            size = path.stat().st_size if path.is_file() else None
            rows.append(FileCheck(rel, size, None, None, "unlisted", detail))
    return rows


def failure_error(root: Path, row: FileCheck) -> VitdetError:
    """The error for a failed row: the file and what differs."""
    what = {
        "missing": "is listed in the manifest but missing",
        "size differs": f"differs from the manifest: {row.detail}",
        "sha256 differs": f"differs from the manifest: sha256 {str(row.actual)[:16]}… "
        f"!= {str(row.expected)[:16]}…",
        "unlisted": "is not listed in the manifest (a file that may be read must be sealed)",
        "outside": f"is refused: {row.detail}",
    }[row.status]
    return VitdetError(
        f"{root / row.path} {what}",
        hint="the folder changed after export/atc/tune wrote it; `vitdet verify "
        f"{root}` lists every file — restore the file or re-run export/atc/tune",
        code="artifacts_tampered" if row.status != "outside" else "path_outside",
    )
