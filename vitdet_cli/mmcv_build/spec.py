"""What is built: the pinned mmcv source, the build target, and the cache key."""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from vitdet_cli.cache_dir import cache_root  # noqa: F401 - re-exported for the builders

MMCV_VERSION = "2.1.0"
# sha256 of the PyPI sdist; a different file is refused.
SDIST_SHA256 = {"2.1.0": "d387bcab66b467479b6660310e23746cfc79c6e57acf04094680adb499a5cd3f"}
TARGETS = ("cpu", "cuda", "npu")
TARGET_ENV = {"cpu": {}, "cuda": {"FORCE_CUDA": "1"}, "npu": {"FORCE_NPU": "1"}}


def python_tag() -> str:
    return f"cp{sys.version_info.major}{sys.version_info.minor}"


def platform_tag() -> str:
    return f"{sys.platform}_{platform.machine()}"


def _dist_version(name: str) -> str:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "none"


@dataclass(frozen=True)
class BuildSpec:
    mmcv_version: str
    target: str
    torch_version: str
    accel_version: str  # torch_npu version for npu, CUDA version for cuda, "" for cpu
    python_tag: str
    platform_tag: str
    patch_hash: str

    @property
    def key(self) -> str:
        accel = f"-{self.accel_version}" if self.accel_version else ""
        return (
            f"mmcv{self.mmcv_version}-torch{self.torch_version.replace('+', '_')}-"
            f"{self.target}{accel}-{self.python_tag}-{self.platform_tag}-p{self.patch_hash[:12]}"
        )

    @property
    def env(self) -> dict[str, str]:
        return {
            "MMCV_WITH_OPS": "1",
            "MAX_JOBS": str(os.cpu_count() or 1),
            **TARGET_ENV[self.target],
        }


def make_spec(target: str, patch_hash: str, mmcv_version: str = MMCV_VERSION) -> BuildSpec:
    accel = ""
    if target == "npu":
        accel = "npu" + _dist_version("torch_npu")
    elif target == "cuda":
        import torch

        accel = f"cu{torch.version.cuda or 'none'}"
    return BuildSpec(
        mmcv_version,
        target,
        _dist_version("torch"),
        accel,
        python_tag(),
        platform_tag(),
        patch_hash,
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
