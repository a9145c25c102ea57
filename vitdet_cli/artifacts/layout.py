"""Where everything lies in an artifacts folder — the one place that spells the layout out.

```
<artifacts>/manifest.json                 every file below: path, size, sha256 (written last)
<artifacts>/export/model_config.json      the resolved model config, as data
<artifacts>/export/<stage>/export_meta.json, <graph>.onnx (+ external data)
<artifacts>/atc/<stage>/atc_meta.json, <graph>[_linux_<arch>].om, atc_<graph>.log
<artifacts>/tune/tuning.json              the runtime and precision chosen per stage (`vitdet tune`)
<artifacts>/tune/<stage>/<graph>.int8.onnx, tune/om/<stage>/ (OMs + atc_meta.json): chosen files
```

Paths read from a meta or the manifest go through :func:`inside`, which refuses anything that
could lead out of the folder.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from vitdet_cli.errors import VitdetError

STAGES = ("backbone", "rpn", "roi")
"""Stage directories in pipeline order."""
STAGE_GRAPHS = {"backbone": ("model",), "rpn": ("model",), "roi": ("bbox", "mask")}
"""Graphs of each stage: ``export/<stage>/<graph>.onnx``."""
EXPORT = "export"
ATC = "atc"
TUNE = "tune"
TUNING = f"{TUNE}/tuning.json"
MANIFEST = "manifest.json"
MODEL_CONFIG = f"{EXPORT}/model_config.json"
SEALED = (EXPORT, ATC, TUNE)
"""Top-level folders whose every file the manifest must list."""


def export_rel(stage: str, name: str = "") -> str:
    """``export/<stage>[/<name>]`` (folder-relative, POSIX)."""
    return f"{EXPORT}/{stage}/{name}" if name else f"{EXPORT}/{stage}"


def atc_rel(stage: str, name: str = "") -> str:
    """``atc/<stage>[/<name>]`` (folder-relative, POSIX)."""
    return f"{ATC}/{stage}/{name}" if name else f"{ATC}/{stage}"


def check_relative(rel: str, source: Path | str) -> str:
    """``rel`` as a clean POSIX path inside the folder: no absolute path, ``..``, backslash or
    empty part. ``source`` (the file that named it) goes into the error."""
    parts = PurePosixPath(rel).parts if isinstance(rel, str) else ()
    bad = (
        not isinstance(rel, str)
        or not rel
        or "\\" in rel
        or rel.startswith("/")
        or (len(rel) > 1 and rel[1] == ":")
        or any(p in ("..", ".", "") for p in parts)
        or "\x00" in rel
    )
    if bad:
        raise VitdetError(
            f"{source} names the path {rel!r}, which is not a plain relative path inside the "
            "artifacts folder (absolute, '..' or odd parts)",
            hint="the folder was edited by hand or is hostile; re-export it",
            code="path_outside",
        )
    return str(PurePosixPath(*parts))


def inside(root: Path, rel: str, source: Path | str) -> Path:
    """``root / rel`` after :func:`check_relative`, refusing symlinks that lead out of ``root``."""
    rel = check_relative(rel, source)
    path = root / rel
    real_root = root.resolve()
    try:
        path.resolve().relative_to(real_root)
    except ValueError:
        raise VitdetError(
            f"{path} (named in {source}) leads out of the artifacts folder "
            f"to {path.resolve()}",
            hint="replace the link by the file itself, or re-export",
            code="path_outside",
        ) from None
    return path
