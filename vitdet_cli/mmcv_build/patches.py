"""Patch files under ``patches/mmcv-<version>/``: headers, selection by target, applying."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from vitdet_cli.errors import VitdetError
from vitdet_cli.shipped import shipped_dir


@dataclass
class Patch:
    path: Path
    fixes: str
    versions: str
    targets: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.path.name


def patches_dir(mmcv_version: str, root: Optional[Path] = None) -> Path:
    """``patches/mmcv-<version>`` as shipped; ``root`` or ``$VITDET_PATCHES_DIR`` replace
    ``patches/``."""
    base = root or Path(os.environ.get("VITDET_PATCHES_DIR", shipped_dir("patches")))
    return base / f"mmcv-{mmcv_version}"


def _header_field(text: str, name: str) -> str:
    """The value of ``Name:`` in the header (continuation lines are joined)."""
    header = text.split("\n--- ", 1)[0].split("\ndiff --git", 1)[0]
    m = re.search(rf"^{name}:\s*(.*?)(?=^\w[\w ]*:|\Z)", header, re.M | re.S)
    return " ".join(m.group(1).split()) if m else ""


def read_patch(path: Path) -> Patch:
    text = path.read_text(encoding="utf-8")
    fixes, versions = _header_field(text, "Fixes"), _header_field(text, "Versions")
    targets = tuple(t.strip() for t in _header_field(text, "Targets").split(",") if t.strip())
    if not fixes or not versions or not targets:
        raise VitdetError(
            f"{path}: patch header must say 'Fixes:', 'Versions:' and 'Targets:'",
            hint="start the patch with those three lines before the diff",
            code="bad_patch",
        )
    return Patch(path, fixes, versions, targets)


def select_patches(mmcv_version: str, target: str, root: Optional[Path] = None) -> list[Patch]:
    """Patches for this mmcv version that apply to ``target``, in file-name order."""
    folder = patches_dir(mmcv_version, root)
    if not folder.is_dir():
        return []
    found = [read_patch(p) for p in sorted(folder.glob("*.patch"))]
    return [p for p in found if target in p.targets]


def patch_hash(patches: list[Patch]) -> str:
    digest = hashlib.sha256()
    for p in patches:
        digest.update(p.name.encode() + b"\0" + p.path.read_bytes() + b"\0")
    return digest.hexdigest()


def apply_patches(patches: list[Patch], src_dir: Path, log_path: Path) -> None:
    """Apply each patch with ``git apply`` (checked first); a failure names the patch."""
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(Path(src_dir).resolve().parent))
    with open(log_path, "a", encoding="utf-8") as log:
        for p in patches:
            for extra in (["--check"], []):
                argv = ["git", "apply", "-p1", "--verbose", *extra, str(p.path)]
                log.write(f"\n$ {' '.join(argv)}  (in {src_dir})\n")
                log.flush()
                try:
                    proc = subprocess.run(
                        argv, cwd=src_dir, env=env, capture_output=True, text=True
                    )
                except FileNotFoundError:
                    raise VitdetError(
                        "git is needed to apply patches but is not on PATH",
                        hint="apt-get install git",
                        code="no_git",
                    ) from None
                log.write(proc.stdout + proc.stderr)
                if proc.returncode != 0:
                    raise VitdetError(
                        f"patch {p.path} does not apply to {src_dir.name}:\n{proc.stderr.strip()}",
                        hint=f"the patch is for {p.versions}; check the mmcv version or refresh "
                        "the patch",
                        code="patch_failed",
                    )
