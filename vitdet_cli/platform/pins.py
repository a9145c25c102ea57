"""The torch pins, read from their one home: ``scripts/install_torch.sh``.

The script holds one pip spec per machine kind in ``spec_for`` (``npu) echo "…" ;;``) and
prints it with ``--spec KIND``; the NPU check reads the same lines instead of repeating them.
Runs stand-alone too (``python3 vitdet_cli/platform/pins.py npu`` prints the NPU spec).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Optional


def install_script() -> Path:
    """``scripts/install_torch.sh`` as shipped (``vitdet_cli/shipped.py``)."""
    try:
        # deferred: optional dependency (vitdet_cli: also run as a plain script)
        from vitdet_cli.shipped import shipped_dir
    except ImportError:  # run as a plain script, vitdet_cli not importable: a checkout
        return Path(__file__).resolve().parents[2] / "scripts" / "install_torch.sh"
    return shipped_dir("scripts") / "install_torch.sh"


def _fail(message: str) -> Exception:
    try:
        # deferred: optional dependency (vitdet_cli: also run as a plain script)
        from vitdet_cli.errors import VitdetError
    except ImportError:  # run as a plain script
        return SystemExit(f"error: {message}")
    return VitdetError(
        message,
        hint='scripts/install_torch.sh must hold `npu) echo "..." ;;`, and the same for cuda '
        "and cpu, in spec_for",
        code="bad_pins",
    )


def specs(script: Optional[Path] = None) -> dict[str, str]:
    """``{"npu": "torch==… torch_npu==… …", "cuda": …, "cpu": …}`` from the install script."""
    path = Path(script or install_script())
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise _fail(f"cannot read {path}: {err.strerror}") from None
    found: dict[str, str] = {}
    for m in re.finditer(r'^\s*(npu|cuda|cpu)\)\s*echo "([^"$]+)"\s*;;', text, re.M):
        found.setdefault(m.group(1), m.group(2))
    missing = [k for k in ("npu", "cuda", "cpu") if k not in found]
    if missing:
        raise _fail(f"{path}: no torch spec found for {', '.join(missing)}")
    return found


def version_of(spec: str, dist: str) -> Optional[str]:
    m = re.search(rf"(?:^|\s){re.escape(dist)}==(\S+)", spec)
    return m.group(1) if m else None


def npu_pair(script: Optional[Path] = None) -> tuple[str, str]:
    """(torch, torch_npu) versions pinned for Ascend; they must be equal releases."""
    spec = specs(script)["npu"]
    torch_v, npu_v = version_of(spec, "torch"), version_of(spec, "torch_npu")
    if not torch_v or not npu_v:
        raise _fail(f"the npu spec {spec!r} does not pin both torch== and torch_npu==")
    return torch_v, npu_v


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "npu"
    print(specs()[kind])
