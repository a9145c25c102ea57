"""Build mmcv from source with ops, cache the wheel, install it and verify it.

fetch (pip download, sha256 pinned) → unpack → patch → pip wheel (no isolation, ops on)
→ cache under ``<cache>/wheels/<key>/`` → pip install → op smoke tests in a fresh process.
"""

from __future__ import annotations

import fcntl
import importlib.metadata as md
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Optional

from vitdet_cli.errors import VitdetError
from vitdet_cli.mmcv_build import patches as patchlib
from vitdet_cli.mmcv_build import target as targetlib
from vitdet_cli.mmcv_build.spec import (
    MMCV_VERSION,
    SDIST_SHA256,
    BuildSpec,
    cache_root,
    make_spec,
    sha256_file,
)
from vitdet_cli.platform import device
from vitdet_cli.platform.check import Check
from vitdet_cli.platform.proc import log_tail, run_logged
from vitdet_cli.progress import SILENT, Progress

# mmcv's setup.py is executed by `pip download` to read metadata, before any patch can apply;
# it imports pkg_resources, so that one step runs with an old setuptools on PYTHONPATH.
METADATA_TOOLS = ("setuptools==69.5.1", "wheel==0.48.0")
# The compile step (patched setup.py, torch's extension builder) gets its own pinned pair:
# bdist_wheel inside setuptools (>= 70.1) and new enough for torch 2.13 (>= 77.0.3); the same
# pair builds against torch 2.8.0, whose venv otherwise has Python's setuptools 65.5 and no wheel.
BUILD_TOOLS = ("setuptools==84.2.1", "wheel==0.48.0")


@dataclass
class BuildPlan:
    spec: BuildSpec
    choice: targetlib.TargetChoice
    patches: list[str]
    wheel_dir: Path
    cached_wheel: Optional[Path]
    log_path: Path
    steps: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "key": self.spec.key,
            "spec": asdict(self.spec),
            "target": self.choice.to_dict(),
            "patches": self.patches,
            "wheel_dir": str(self.wheel_dir),
            "cached_wheel": str(self.cached_wheel) if self.cached_wheel else None,
            "log": str(self.log_path),
            "steps": self.steps,
        }


@dataclass
class BuildResult:
    wheel: Path
    key: str
    choice: targetlib.TargetChoice
    from_cache: bool
    installed: bool
    seconds: float
    log_path: Path
    checks: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "wheel": str(self.wheel),
            "key": self.key,
            "target": self.choice.to_dict(),
            "from_cache": self.from_cache,
            "installed": self.installed,
            "seconds": round(self.seconds, 1),
            "log": str(self.log_path),
            "checks": [c.to_dict() for c in self.checks],
        }


def resolve_target(target: str) -> targetlib.TargetChoice:
    """The build target for ``target`` (auto|cpu|cuda|npu) on this machine, with the reason."""
    return targetlib.choose(target, targetlib.gather())


def _preflight(choice: targetlib.TargetChoice) -> None:
    if shutil.which(os.environ.get("CXX", "c++")) is None and shutil.which("g++") is None:
        raise VitdetError(
            "no C++ compiler found (c++/g++)",
            hint="apt-get install build-essential (or set CXX)",
            code="no_compiler",
        )
    if choice.target == "cuda":
        targetlib.require_cuda_toolchain(choice.toolchain)
    if choice.target == "npu":
        err = device.import_torch_npu()
        if err:
            raise VitdetError(
                f"--target npu needs a working torch_npu: {err}",
                hint="pip install torch_npu matching torch, then source "
                "/usr/local/Ascend/ascend-toolkit/set_env.sh",
                code="no_torch_npu",
            )


def plan(
    target: str = "auto",
    mmcv_version: str = MMCV_VERSION,
    choice: Optional[targetlib.TargetChoice] = None,
) -> BuildPlan:
    """What a build of ``target`` would do; ``choice`` skips resolving the target again."""
    choice = choice or resolve_target(target)
    target = choice.target
    selected = patchlib.select_patches(mmcv_version, target)
    spec = make_spec(target, patchlib.patch_hash(selected), mmcv_version)
    wheel_dir = cache_root() / "wheels" / spec.key
    wheels = sorted(wheel_dir.glob("mmcv-*.whl")) if wheel_dir.is_dir() else []
    log_path = cache_root() / "logs" / f"build-mmcv-{spec.key}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    steps = [
        f"pip download mmcv=={mmcv_version} (sdist, sha256 "
        f"{SDIST_SHA256.get(mmcv_version, '?')[:16]}…)",
        f"apply {len(selected)} patch(es): {', '.join(p.name for p in selected) or 'none'}",
        "pip wheel --no-build-isolation --no-deps with "
        + " ".join(f"{k}={v}" for k, v in spec.env.items())
        + f" and private {', '.join(BUILD_TOOLS)}",
        f"cache the wheel in {wheel_dir}",
        "pip install --no-deps --force-reinstall the wheel",
        "verify mmcv._ext, nms and RoIAlign",
    ]
    cached = wheels[-1] if wheels else None
    return BuildPlan(spec, choice, [p.name for p in selected], wheel_dir, cached, log_path, steps)


def _pip(*args: str) -> list[str]:
    return [sys.executable, "-m", "pip", *args]


def _private_tools(
    name: str, requirements: tuple[str, ...], log_path: Path, progress: Progress = SILENT
) -> Path:
    """A private folder of pinned build helpers, put on PYTHONPATH for one pip step only.

    The venv's own setuptools is whatever torch pulled in (65.5 without ``wheel`` beside torch
    2.8.0, 84 beside 2.13.0), so the steps that run mmcv's setup.py bring their own.
    """
    target = cache_root() / "tools" / name
    stamp = target / ".requirements"
    wanted = "\n".join(requirements)
    if not (stamp.is_file() and stamp.read_text() == wanted):
        shutil.rmtree(target, ignore_errors=True)
        rc = run_logged(
            _pip("install", "--quiet", "--target", str(target), *requirements),
            log_path,
            f"installing build helpers ({', '.join(requirements)}, private)",
            progress=progress,
        )
        if rc != 0:
            raise VitdetError(
                f"could not install the private build helpers {', '.join(requirements)}"
                f"\n{log_tail(log_path)}",
                hint=f"full log: {log_path}",
                code="pip_failed",
            )
        stamp.write_text(wanted)
    return target


def _tools_env(
    name: str, requirements: tuple[str, ...], log_path: Path, progress: Progress = SILENT
) -> dict[str, str]:
    tools = _private_tools(name, requirements, log_path, progress)
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(tools), os.environ.get("PYTHONPATH")]))}


def fetch_sdist(mmcv_version: str, log_path: Path, progress: Progress = SILENT) -> Path:
    """The mmcv sdist in the cache, downloaded with pip if absent; its sha256 is checked."""
    expected = SDIST_SHA256.get(mmcv_version)
    sdist_dir = cache_root() / "sdist"
    sdist = sdist_dir / f"mmcv-{mmcv_version}.tar.gz"
    if not sdist.is_file():
        env = _tools_env("metadata", METADATA_TOOLS, log_path, progress)
        tmp = sdist_dir / f".download-{os.getpid()}"
        tmp.mkdir(parents=True, exist_ok=True)
        rc = run_logged(
            _pip(
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--no-build-isolation",
                f"mmcv=={mmcv_version}",
                "-d",
                str(tmp),
            ),
            log_path,
            f"downloading mmcv {mmcv_version} source",
            env=env,
            progress=progress,
        )
        got = list(tmp.glob("mmcv-*.tar.gz"))
        if rc != 0 or not got:
            shutil.rmtree(tmp, ignore_errors=True)
            raise VitdetError(
                f"downloading the mmcv {mmcv_version} source failed:\n{log_tail(log_path)}",
                hint=f"check access to the package index (pip config list); log: {log_path}",
                code="download_failed",
            )
        os.replace(got[0], sdist)
        shutil.rmtree(tmp, ignore_errors=True)
    actual = sha256_file(sdist)
    if expected and actual != expected:
        bad = sdist.with_suffix(".rejected")
        os.replace(sdist, bad)
        raise VitdetError(
            f"{sdist}: sha256 {actual} does not match the pinned {expected}",
            hint="the download was corrupted or the index serves another file; it was "
            f"moved to {bad}; run again to re-download",
            code="bad_sha256",
        )
    return sdist


def unpack(sdist: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with tarfile.open(sdist) as tar:
        tar.extractall(dest, filter="data")
    roots = [p for p in dest.iterdir() if p.is_dir()]
    if len(roots) != 1:
        raise VitdetError(
            f"{sdist}: unexpected layout", hint="delete it and run again", code="bad_sdist"
        )
    return roots[0]


def build_wheel(plan_: BuildPlan, progress: Progress = SILENT) -> Path:
    """Download, patch and compile; the wheel lands in the cache atomically."""
    spec = plan_.spec
    _preflight(plan_.choice)
    sdist = fetch_sdist(spec.mmcv_version, plan_.log_path, progress)
    work = cache_root() / "build" / spec.key
    src = unpack(sdist, work / "src")
    selected = patchlib.select_patches(spec.mmcv_version, spec.target)
    patchlib.apply_patches(selected, src, plan_.log_path)
    out = work / "dist"
    out.mkdir(parents=True, exist_ok=True)
    progress.note(
        f"compiling mmcv {spec.mmcv_version} ops for {spec.target} (about 20 min on 2 cores); "
        f"log: {plan_.log_path}"
    )
    rc = run_logged(
        _pip("wheel", "--no-deps", "--no-build-isolation", "-v", str(src), "-w", str(out)),
        plan_.log_path,
        f"building mmcv {spec.mmcv_version} [{spec.target}]",
        env={**spec.env, **_tools_env("build", BUILD_TOOLS, plan_.log_path, progress)},
        progress=progress,
    )
    wheels = list(out.glob("mmcv-*.whl"))
    if rc != 0 or not wheels:
        raise VitdetError(
            f"building mmcv failed (exit {rc}); last lines of the log:\n"
            f"{log_tail(plan_.log_path, 30)}",
            hint=f"full log: {plan_.log_path}",
            code="build_failed",
        )
    return _store(wheels[0], plan_)


def _store(wheel: Path, plan_: BuildPlan) -> Path:
    plan_.wheel_dir.mkdir(parents=True, exist_ok=True)
    final = plan_.wheel_dir / wheel.name
    tmp = plan_.wheel_dir / f".{wheel.name}.tmp"
    shutil.copy2(wheel, tmp)
    os.replace(tmp, final)
    meta = {
        **plan_.to_dict(),
        "wheel": str(final),
        "sha256": sha256_file(final),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    meta_tmp = plan_.wheel_dir / ".build_meta.json.tmp"
    meta_tmp.write_text(json.dumps(meta, indent=2))
    os.replace(meta_tmp, plan_.wheel_dir / "build_meta.json")
    shutil.rmtree(cache_root() / "build" / plan_.spec.key, ignore_errors=True)
    return final


def installed_from(wheel: Path) -> bool:
    """Is the installed mmcv exactly this wheel (pip's direct_url.json records its path)?"""
    try:
        direct = md.distribution("mmcv").read_text("direct_url.json") or ""
    except md.PackageNotFoundError:
        return False
    return Path(wheel).resolve().as_uri() in direct


def install(wheel: Path, log_path: Path, progress: Progress = SILENT) -> None:
    rc = run_logged(
        _pip("install", "--no-deps", "--force-reinstall", str(wheel)),
        log_path,
        f"installing {wheel.name}",
        progress=progress,
    )
    if rc != 0:
        raise VitdetError(
            f"installing {wheel} failed:\n{log_tail(log_path)}",
            hint=f"full log: {log_path}",
            code="install_failed",
        )


def verify(target: str) -> list:
    """Op smoke tests in a fresh interpreter (the new mmcv must not meet a stale import)."""
    kind = target if target != "cpu" else "cpu"
    proc = subprocess.run(
        [sys.executable, "-m", "vitdet_cli", "--json", "env-check", "--device", kind],
        capture_output=True,
        text=True,
    )
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise VitdetError(
            "verifying mmcv failed: env-check printed no JSON",
            hint=(proc.stderr or proc.stdout)[-500:],
            code="verify_failed",
        ) from None
    return [
        Check(**c)
        for c in data.get("checks", [])
        if c["group"] == "mmcv ops" or c["name"] == "mmcv"
    ]


@contextmanager
def build_lock(key: str, progress: Progress = SILENT) -> Iterator[None]:
    """One build per cache key at a time; a second caller waits, then finds the cached wheel."""
    lock_path = cache_root() / "locks" / f"{key}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress.note(f"another build of {key} is running; waiting for it (lock {lock_path})")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_mmcv(
    target: str = "auto",
    force: bool = False,
    install_wheel: bool = True,
    progress: Progress = SILENT,
) -> BuildResult:
    """Build (or reuse) the mmcv wheel for ``target``, install it and verify its ops; each
    step is a task of ``progress``."""
    start = time.monotonic()
    choice = resolve_target(target)  # once: it runs `nvcc --version` and probes the GPUs
    key = plan(choice=choice).spec.key
    with build_lock(key, progress):
        p = plan(choice=choice)  # again: a build we waited for may have filled the cache
        return _build_locked(p, force, install_wheel, start, progress)


def _build_locked(
    p: BuildPlan, force: bool, install_wheel: bool, start: float, progress: Progress
) -> BuildResult:
    p.log_path.parent.mkdir(parents=True, exist_ok=True)
    progress.note(f"build target: {p.choice.target} ({p.choice.reason})")
    from_cache = p.cached_wheel is not None and not force
    if from_cache:
        wheel = p.cached_wheel
        progress.note(f"reusing cached wheel {wheel} (key {p.spec.key})")
    else:
        wheel = build_wheel(p, progress)
    installed = False
    if install_wheel:
        if from_cache and installed_from(wheel):
            progress.note("this wheel is already installed")
        else:
            install(wheel, p.log_path, progress)
            installed = True
    checks = verify(p.spec.target) if install_wheel else []
    bad = [c for c in checks if c.status == "fail"]
    if bad:
        raise VitdetError(
            "mmcv installed but its checks fail: " + "; ".join(f"{c.name}: {c.found}" for c in bad),
            hint=bad[0].hint or f"log: {p.log_path}",
            code="verify_failed",
        )
    seconds = time.monotonic() - start
    return BuildResult(
        wheel, p.spec.key, p.choice, from_cache, installed, seconds, p.log_path, checks
    )
