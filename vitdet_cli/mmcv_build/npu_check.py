"""``build-mmcv --target npu --check``: mmcv's NPU sources checked on a machine without CANN.

Every ``mmcv/ops/csrc/pytorch/npu/*.cpp`` of the pinned, patched mmcv sdist is compiled with the
flags mmcv's setup.py uses for ``FORCE_NPU=1``, against the headers of the torch and torch_npu
wheels that ``scripts/install_torch.sh`` pins for Ascend (downloaded once with ``pip download
--no-deps``, sha256-checked, never installed). Each object's undefined ``at_npu``/``c10_npu``/
``torch_npu`` symbols must then be exported by that wheel's ``libtorch_npu.so``; one that is not
makes ``import mmcv._ext`` fail with "undefined symbol" on the NPU host.

What it proves: the sources compile and their torch_npu symbols resolve. What it cannot: that
the ops run on an NPU and agree with the CPU (``vitdet env-check --device npu`` tests that).
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from vitdet_cli.errors import VitdetError
from vitdet_cli.mmcv_build import builder
from vitdet_cli.mmcv_build import patches as patchlib
from vitdet_cli.mmcv_build.spec import MMCV_VERSION, cache_root, sha256_file
from vitdet_cli.platform import pins
from vitdet_cli.platform.proc import log_tail, run_logged
from vitdet_cli.progress import SILENT, Progress

# The wheels are pinned by file; headers do not depend on the Python tag, so one set serves any
# host Python. Only x86_64 files are pinned: the objects are compiled for the host.
WHEEL_PYTHON = "3.11"
WHEEL_PLATFORM = "manylinux_2_28_x86_64"
WHEEL_SHA256 = {
    "torch-2.8.0-cp311-cp311-manylinux_2_28_x86_64.whl": (
        "c12fa219f51a933d5f80eeb3a7a5d0cbe9168c0a14bbb4055f1979431660879b"
    ),
    "torch_npu-2.8.0-cp311-cp311-manylinux_2_28_x86_64.whl": (
        "f437680685581f84c713e4625fdf3d95369856f1a583f38622f34e766f54039d"
    ),
}
# What is taken out of the wheels (headers and the library whose exports are checked).
SDK_MEMBERS = ("torch/include/", "torch_npu/include/", "torch_npu/lib/libtorch_npu.so")
NPU_NAMESPACES = ("at_npu::", "c10_npu::", "torch_npu::")
# Demangled special symbols name their class after one of these prefixes.
_SPECIAL = ("typeinfo name for ", "typeinfo for ", "vtable for ", "VTT for ", "guard variable for ")
NPU_SOURCES = "mmcv/ops/csrc/pytorch/npu"


@dataclass
class FileCheck:
    """One NPU source: did it compile, and which torch_npu symbols does it need but not get."""

    name: str
    compiled: bool
    errors: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.compiled and not self.missing


@dataclass
class NpuCheckReport:
    mmcv_version: str
    torch_version: str
    torch_npu_version: str
    patches: list[str]
    flags: list[str]
    files: list[FileCheck]
    seconds: float
    log: Path

    @property
    def ok(self) -> bool:
        return bool(self.files) and all(f.ok for f in self.files)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "mmcv": self.mmcv_version,
            "torch": self.torch_version,
            "torch_npu": self.torch_npu_version,
            "patches": self.patches,
            "flags": self.flags,
            "compiled": sum(f.compiled for f in self.files),
            "failed_to_compile": sum(not f.compiled for f in self.files),
            "with_missing_symbols": sum(bool(f.missing) for f in self.files),
            "files": [
                {**asdict(f), "ok": f.ok, "seconds": round(f.seconds, 1)} for f in self.files
            ],
            "seconds": round(self.seconds, 1),
            "log": str(self.log),
            "proves": "the NPU sources compile and their torch_npu symbols resolve",
            "does_not_prove": "that the ops run on an NPU and agree with CPU "
            "(vitdet env-check --device npu)",
        }


def _tool(name: str, hint: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise VitdetError(
            f"{name} is needed by --check but is not on PATH", hint=hint, code="no_tool"
        )
    return found


def wheel_names(torch_version: str, npu_version: str) -> list[str]:
    tag = f"cp{WHEEL_PYTHON.replace('.', '')}"
    return [
        f"{dist}-{ver}-{tag}-{tag}-{WHEEL_PLATFORM}.whl"
        for dist, ver in (("torch", torch_version), ("torch_npu", npu_version))
    ]


def fetch_wheels(
    torch_version: str, npu_version: str, log_path: Path, progress: Progress = SILENT
) -> list[Path]:
    """The two wheels in ``<cache>/npu-check/wheels``, downloaded once, sha256 checked."""
    names = wheel_names(torch_version, npu_version)
    unpinned = [n for n in names if n not in WHEEL_SHA256]
    if unpinned:
        raise VitdetError(
            f"no sha256 pinned for {', '.join(unpinned)}",
            hint="scripts/install_torch.sh pins another torch/torch_npu than npu_check.py knows: "
            "add the new files' sha256 to WHEEL_SHA256 in vitdet_cli/mmcv_build/npu_check.py",
            code="unpinned_wheel",
        )
    folder = cache_root() / "npu-check" / "wheels"
    folder.mkdir(parents=True, exist_ok=True)
    if not all((folder / n).is_file() for n in names):
        argv = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--python-version", WHEEL_PYTHON, "--implementation", "cp",
            "--platform", WHEEL_PLATFORM, "-d", str(folder),
            f"torch=={torch_version}", f"torch_npu=={npu_version}",
        ]  # fmt: skip

        title = "downloading the torch and torch_npu wheels (headers)"
        rc = run_logged(argv, log_path, title, progress=progress)
        if rc != 0 or not all((folder / n).is_file() for n in names):
            raise VitdetError(
                f"downloading torch {torch_version} / torch_npu {npu_version} failed:\n"
                f"{log_tail(log_path)}",
                hint=f"check access to the package index (pip config list); log: {log_path}",
                code="download_failed",
            )
    for n in names:
        actual = sha256_file(folder / n)
        if actual != WHEEL_SHA256[n]:
            bad = folder / (n + ".rejected")
            os.replace(folder / n, bad)
            raise VitdetError(
                f"{n}: sha256 {actual} does not match the pinned {WHEEL_SHA256[n]}",
                hint=f"the file was moved to {bad}; run again to download it anew",
                code="bad_sha256",
            )
    return [folder / n for n in names]


def unpack_sdk(wheels: Iterable[Path], dest: Path) -> Path:
    """Headers and libtorch_npu.so out of the wheels into ``dest`` (once; atomic)."""
    if (dest / ".complete").is_file():
        return dest
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            members = [m for m in zf.namelist() if m.startswith(SDK_MEMBERS)]
            zf.extractall(tmp, members)
    (tmp / ".complete").write_text("")
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return dest


def compile_flags(src_root: Path, sdk: Path) -> list[str]:
    """What setup.py passes for FORCE_NPU=1 with torch > 2.0 (through NpuExtension and
    torch's BuildExtension), on top of this Python's CFLAGS as setuptools does."""
    py_flags = (sysconfig.get_config_var("CFLAGS") or "").split()
    py_flags += (sysconfig.get_config_var("CCSHARED") or "-fPIC").split()
    defines = [
        "MMCV_WITH_NPU",  # setup.py, FORCE_NPU branch
        "MMCV_WITH_KPRIVATE",  # setup.py, torch > 2.0.0
        "TORCH_API_INCLUDE_EXTENSION_H",  # BuildExtension
        "TORCH_EXTENSION_NAME=_ext",  # BuildExtension, from the name mmcv._ext
        "_GLIBCXX_USE_CXX11_ABI=1",  # the ABI the torch 2.8.0 wheels are built with
    ]
    includes = [
        src_root / "mmcv/ops/csrc/common",
        src_root / "mmcv/ops/csrc/common/npu",
        sdk / "torch_npu/include",
        sdk / "torch_npu/include/third_party/acl/inc",
        sdk / "torch_npu/include/third_party/hccl/inc",
        sdk / "torch/include",
        sdk / "torch/include/torch/csrc/api/include",
        Path(sysconfig.get_paths()["include"]),
    ]
    return py_flags + ["-std=c++17"] + [f"-D{d}" for d in defines] + [f"-I{p}" for p in includes]


def compiler_errors(output: str, limit: int = 4) -> list[str]:
    """The distinct ``error:`` messages of a compiler run, file positions dropped, in order."""
    seen: list[str] = []
    for line in output.splitlines():
        m = re.search(r"\berror:\s*(.*)$", line)
        if m and m.group(1) not in seen:
            seen.append(m.group(1))
    return seen[:limit]


def _demangled_class(name: str) -> str:
    for prefix in _SPECIAL:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def demangle(names: list[str]) -> list[str]:
    if not names:
        return []
    cxxfilt = _tool("c++filt", "apt-get install binutils")
    out = subprocess.run(
        [cxxfilt], input="\n".join(names) + "\n", capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return out if len(out) == len(names) else names


def undefined_symbols(obj: Path) -> list[str]:
    """Mangled names an object file needs (``U``; weak references are not required)."""
    nm = _tool("nm", "apt-get install binutils")
    out = subprocess.run([nm, "-u", str(obj)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in out.splitlines()]
    return [r[-1] for r in rows if len(r) >= 2 and r[-2] == "U"]


def exported_symbols(library: Path) -> set[str]:
    """Mangled names the shared library defines in its dynamic symbol table."""
    nm = _tool("nm", "apt-get install binutils")
    out = subprocess.run(
        [nm, "-D", "--defined-only", str(library)], capture_output=True, text=True, check=True
    ).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            names.add(parts[2].split("@", 1)[0])
    return names


def missing_npu_symbols(needed: list[str], exported: set[str]) -> list[str]:
    """Demangled torch_npu symbols in ``needed`` (mangled) that ``exported`` lacks."""
    absent = [n for n in needed if n not in exported]
    return sorted({d for d in demangle(absent) if _demangled_class(d).startswith(NPU_NAMESPACES)})


def check_file(
    src: Path, obj: Path, cxx: str, flags: list[str], exported: set[str], log_path: Path
) -> FileCheck:
    start = time.monotonic()
    obj.unlink(missing_ok=True)
    proc = subprocess.run(
        [cxx, "-c", str(src), "-o", str(obj), *flags],
        capture_output=True,
        text=True,
        env=dict(os.environ, LC_ALL="C"),  # plain quotes in the messages
    )
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"\n$ {cxx} -c {src} -o {obj} ...  (exit {proc.returncode})\n")
        log.write(proc.stdout + proc.stderr)
    if proc.returncode != 0 or not obj.is_file():
        errors = compiler_errors(proc.stderr) or [proc.stderr.strip()[-300:]]
        return FileCheck(src.name, False, errors, [], time.monotonic() - start)
    missing = missing_npu_symbols(undefined_symbols(obj), exported)
    return FileCheck(src.name, True, [], missing, time.monotonic() - start)


def default_jobs() -> int:
    """``$MAX_JOBS`` (as setup.py reads it), else at most 2 parallel compilers."""
    env = os.environ.get("MAX_JOBS", "")
    return max(1, int(env)) if env.isdigit() else max(1, min(2, os.cpu_count() or 1))


def _prepare_sources(
    mmcv_version: str, log_path: Path, progress: Progress = SILENT
) -> tuple[Path, list[str]]:
    selected = patchlib.select_patches(mmcv_version, "npu")
    sdist = builder.fetch_sdist(mmcv_version, log_path, progress)
    work = cache_root() / "npu-check" / "build" / patchlib.patch_hash(selected)[:12]
    src = builder.unpack(sdist, work / "src")
    patchlib.apply_patches(selected, src, log_path)
    return src, [p.name for p in selected]


def run_check(
    mmcv_version: str = MMCV_VERSION, jobs: Optional[int] = None, progress: Progress = SILENT
) -> NpuCheckReport:
    """Compile every NPU source of the patched mmcv and resolve its torch_npu symbols
    (downloads and the compile are reported to ``progress``)."""
    start = time.monotonic()
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        raise VitdetError(
            f"--check runs on x86_64 Linux (this is {platform.system()} {platform.machine()})",
            hint="the torch/torch_npu wheels it compiles against are pinned for x86_64",
            code="unsupported_host",
            exit_code=2,
        )
    cxx = shutil.which(os.environ.get("CXX", "g++")) or _tool("g++", "apt-get install g++")
    torch_version, npu_version = pins.npu_pair()
    log_path = cache_root() / "logs" / f"npu-check-{time.strftime('%Y%m%d-%H%M%S')}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    wheels = fetch_wheels(torch_version, npu_version, log_path, progress)
    sdk = unpack_sdk(
        wheels, cache_root() / "npu-check" / "sdk" / f"torch{torch_version}-npu{npu_version}"
    )
    exported = exported_symbols(sdk / "torch_npu/lib/libtorch_npu.so")
    src, patch_names = _prepare_sources(mmcv_version, log_path, progress)
    flags = compile_flags(src, sdk)
    sources = sorted((src / NPU_SOURCES).glob("*.cpp"))
    if not sources:
        raise VitdetError(
            f"no NPU sources under {src / NPU_SOURCES}",
            hint="the mmcv sdist layout changed",
            code="bad_sdist",
        )
    objs = src / "npu-check-objs"
    objs.mkdir(exist_ok=True)
    progress.note(
        f"compiling {len(sources)} NPU sources of mmcv {mmcv_version} against torch "
        f"{torch_version} + torch_npu {npu_version} ({jobs or default_jobs()} at a time); "
        f"log: {log_path}"
    )
    with ThreadPoolExecutor(max_workers=jobs or default_jobs()) as pool:
        files = list(
            pool.map(
                lambda s: check_file(s, objs / (s.stem + ".o"), cxx, flags, exported, log_path),
                sources,
            )
        )
    return NpuCheckReport(
        mmcv_version,
        torch_version,
        npu_version,
        patch_names,
        flags,
        files,
        time.monotonic() - start,
        log_path,
    )
