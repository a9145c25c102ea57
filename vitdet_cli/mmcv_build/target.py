"""Which mmcv build this machine can make *and* use: cpu, cuda or npu, with the reason.

``auto`` picks ``npu`` when torch_npu and CANN are present, ``cuda`` only when torch is a CUDA
build, an nvcc of the same CUDA major version exists (torch's extension builder refuses a major
mismatch) and a GPU is visible, else ``cpu``. An explicit ``--target cuda`` is a cross-build:
no GPU needed, but a matching nvcc is, checked before anything compiles.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from vitdet_cli.errors import VitdetError
from vitdet_cli.mmcv_build.spec import TARGETS
from vitdet_cli.platform import cann, device


@dataclass(frozen=True)
class Toolchain:
    """What the choice depends on (gathered once, so the rule itself is a pure function)."""

    torch_cuda: Optional[str]  # torch.version.cuda: "12.8", or None for a CPU build
    nvcc: Optional[str]
    nvcc_cuda: Optional[str]  # "13.0" from `nvcc --version`
    gpus: int
    torch_npu: bool
    cann_home: Optional[str]


@dataclass(frozen=True)
class TargetChoice:
    target: str
    reason: str
    toolchain: Toolchain

    def to_dict(self) -> dict:
        return {"target": self.target, "reason": self.reason, **asdict(self.toolchain)}


def nvcc_path() -> Optional[str]:
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    if home and (Path(home) / "bin" / "nvcc").exists():
        return str(Path(home) / "bin" / "nvcc")
    return shutil.which("nvcc")


def parse_nvcc_version(text: str) -> Optional[str]:
    """``Cuda compilation tools, release 13.0, V13.0.88`` → ``13.0``."""
    m = re.search(r"release (\d+)\.(\d+)", text)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def nvcc_cuda_version(nvcc: Optional[str]) -> Optional[str]:
    if nvcc is None:
        return None
    try:
        out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_nvcc_version(out.stdout + out.stderr)


def _major(version: Optional[str]) -> Optional[str]:
    return version.split(".")[0] if version else None


def gather() -> Toolchain:
    """Read this machine's toolchain (imports torch; asks the device layer for GPUs)."""
    import torch

    nvcc = nvcc_path()
    home = cann.toolkit_home()
    return Toolchain(
        torch_cuda=torch.version.cuda,
        nvcc=nvcc,
        nvcc_cuda=nvcc_cuda_version(nvcc),
        gpus=device.cuda_count() if torch.version.cuda else 0,
        torch_npu=device.torch_npu_installed(),
        cann_home=str(home) if home else None,
    )


def cuda_mismatch(tc: Toolchain) -> Optional[str]:
    """Why a CUDA build cannot succeed with this toolchain, or None when it can."""
    if not tc.torch_cuda:
        return "torch is a CPU build (torch.version.cuda is None)"
    if tc.nvcc is None:
        return f"torch is built for CUDA {tc.torch_cuda} but nvcc is not on PATH or $CUDA_HOME"
    if tc.nvcc_cuda is None:
        return f"could not read the CUDA version of {tc.nvcc} (`nvcc --version`)"
    if _major(tc.nvcc_cuda) != _major(tc.torch_cuda):
        return (
            f"nvcc {tc.nvcc} is CUDA {tc.nvcc_cuda} but torch is built for CUDA {tc.torch_cuda}; "
            "torch's extension builder refuses a major-version mismatch"
        )
    return None


def choose(requested: str, tc: Toolchain) -> TargetChoice:
    """The target for ``requested`` (auto|cpu|cuda|npu) on toolchain ``tc``, with the reason."""
    if requested not in ("auto", *TARGETS):
        raise VitdetError(
            f"--target {requested!r} is not one of auto, cpu, cuda, npu",
            hint="use --target auto|cpu|cuda|npu",
            code="bad_target",
            exit_code=2,
        )
    if requested != "auto":
        return TargetChoice(requested, "requested with --target", tc)
    if tc.torch_npu and tc.cann_home:
        return TargetChoice("npu", f"torch_npu installed and CANN at {tc.cann_home}", tc)
    why_not_cuda = cuda_mismatch(tc)
    if why_not_cuda is None and tc.gpus > 0:
        return TargetChoice(
            "cuda", f"torch CUDA {tc.torch_cuda}, nvcc CUDA {tc.nvcc_cuda}, {tc.gpus} GPU(s)", tc
        )
    if tc.torch_npu:
        reason = "torch_npu is installed but CANN is not (source set_env.sh for an npu build)"
    elif why_not_cuda is None:
        reason = "no visible GPU (use --target cuda to cross-build anyway)"
    elif tc.torch_cuda or tc.nvcc:
        reason = f"no usable CUDA build: {why_not_cuda}"
    else:
        reason = "no GPU toolchain and no torch_npu"
    return TargetChoice("cpu", reason, tc)


def require_cuda_toolchain(tc: Toolchain) -> None:
    """Refuse ``--target cuda`` before compiling when nvcc cannot build for this torch."""
    why = cuda_mismatch(tc)
    if why:
        raise VitdetError(
            f"--target cuda cannot build here: {why}",
            hint=f"install the CUDA {tc.torch_cuda or '?'} toolkit (or point CUDA_HOME at it), "
            "install a torch built for your nvcc, or use --target cpu",
            code="cuda_mismatch",
        )
