"""Environment checks: a library that env-check prints and other commands call to fail early.

It reads the facts ``platform/`` gathers (device, CANN, npu-smi, container nodes) and runs
``mmcv_build.verify``'s op smoke tests, so it sits above both.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import json
import os
import platform as pyplatform
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

from packaging.version import InvalidVersion, Version

from vitdet_cli.errors import VitdetError
from vitdet_cli.mmcv_build import verify
from vitdet_cli.platform import cann, container, device
from vitdet_cli.platform.check import Check

MMCV_MIN, MMCV_MAX = Version("2.0.0rc4"), Version("2.2.0")
SET_ENV_HINT = "source /usr/local/Ascend/ascend-toolkit/set_env.sh"


def _version(dist: str) -> Optional[str]:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _package(
    name: str,
    dist: str,
    expected: str,
    ok: Callable[[Version], bool],
    hint: str,
    required: bool = True,
) -> Check:
    found = _version(dist)
    if found is None:
        status = "fail" if required else "ok"
        shown = "not installed" if required else "not installed (optional)"
        return Check("packages", name, status, shown, expected, hint if required else "")
    try:
        good = ok(Version(found))
    except InvalidVersion:
        good = False
    return Check("packages", name, "ok" if good else "fail", found, expected, "" if good else hint)


def check_python() -> Check:
    v = sys.version_info
    good = v >= (3, 10)
    return Check(
        "python",
        "python",
        "ok" if good else "fail",
        pyplatform.python_version(),
        ">=3.10",
        "" if good else "use Python 3.10 or newer (3.11 is what we test)",
    )


def check_packages() -> list[Check]:
    pip_hint = "run `make setup` (or pip install -e .)"
    return [
        _package(
            "torch",
            "torch",
            ">=2.1 (2.8.0 with torch_npu 2.8.0)",
            lambda v: v >= Version("2.1"),
            "install torch first: see README (CPU: torch==2.13.0)",
        ),
        _check_torchvision(),
        _package(
            "mmengine",
            "mmengine",
            ">=0.10,<1.0",
            lambda v: Version("0.10") <= v < Version("1.0"),
            pip_hint,
        ),
        _package(
            "mmcv",
            "mmcv",
            f">={MMCV_MIN},<{MMCV_MAX} (2.1.0 built with ops)",
            lambda v: MMCV_MIN <= v < MMCV_MAX,
            "mmdet 3.x refuses mmcv>=2.2.0 and there is no prebuilt wheel for new torch: "
            "run `vitdet build-mmcv`",
        ),
        _package(
            "mmdet",
            "mmdet",
            ">=3.0,<3.4 (3.3.0)",
            lambda v: Version("3.0") <= v < Version("3.4"),
            "pip install mmdet==3.3.0",
        ),
        _package("onnx", "onnx", ">=1.15", lambda v: v >= Version("1.15"), pip_hint),
        _package("onnxruntime", "onnxruntime", ">=1.17", lambda v: v >= Version("1.17"), pip_hint),
    ]


def _check_torchvision() -> Check:
    found = _version("torchvision")
    if found is None:
        return Check("packages", "torchvision", "ok", "not installed (optional)", "optional")
    try:
        importlib.import_module("torchvision")
    except Exception as err:
        return Check(
            "packages",
            "torchvision",
            "warn",
            f"{found} (import fails: {_first_line(err)})",
            "a build matching torch",
            "uninstall it or install the build matching torch",
        )
    return Check("packages", "torchvision", "ok", found, "optional")


def check_torch_npu(kind: str) -> Check:
    required = kind == "npu"
    torch_v = _version("torch") or "?"
    found = _version("torch_npu")
    expected = f"=={torch_v.split('+')[0]} (same as torch)"
    if found is None:
        if required:
            return Check(
                "packages",
                "torch_npu",
                "fail",
                "not installed",
                expected,
                f"pip install torch_npu=={torch_v.split('+')[0]} and {SET_ENV_HINT} (CANN)",
            )
        return Check(
            "packages", "torch_npu", "ok", "not installed (needed for --device npu)", expected
        )
    same = Version(found).base_version == Version(torch_v.split("+")[0]).base_version
    if not same:
        return Check(
            "packages",
            "torch_npu",
            "fail" if required else "warn",
            found,
            expected,
            "torch and torch_npu must be the same release; a mismatch shows as undefined symbols",
        )
    err = device.import_torch_npu()
    if err:
        return Check(
            "packages",
            "torch_npu",
            "fail" if required else "warn",
            f"{found} ({err})",
            expected,
            f"{SET_ENV_HINT} before running (CANN libraries)",
        )
    return Check("packages", "torch_npu", "ok", found, expected)


def check_opencv() -> Check:
    try:
        cv2 = importlib.import_module("cv2")
    except Exception as err:
        return Check(
            "packages",
            "opencv",
            "fail",
            _first_line(err),
            "importable",
            "cv2 needs system libraries: apt-get install libgl1 libglib2.0-0 "
            "(or use opencv-python-headless)",
        )
    return Check("packages", "opencv", "ok", cv2.__version__, "importable")


def check_mmcv_ops(kinds: Iterable[str]) -> list[Check]:
    if _version("mmcv") is None:
        return [
            Check(
                "mmcv ops",
                "mmcv._ext",
                "fail",
                "mmcv not installed",
                "importable",
                "run `vitdet build-mmcv`",
            )
        ]
    err = verify.import_ext()
    if err:
        hint = (
            "mmcv was installed without compiled ops or against another torch/torch_npu "
            "(ABI drift): rebuild with `vitdet build-mmcv --force`"
        )
        return [Check("mmcv ops", "mmcv._ext", "fail", err, "importable", hint)]
    checks = [Check("mmcv ops", "mmcv._ext", "ok", "imported", "importable")]
    for kind in kinds:
        for res in verify.smoke_test(device.torch_device(kind)):
            hint = (
                ""
                if res.ok
                else (
                    f"build mmcv for this device: `vitdet build-mmcv --target {kind} --force`"
                    if kind != "cpu"
                    else "rebuild with `vitdet build-mmcv --force`"
                )
            )
            checks.append(
                Check(
                    "mmcv ops",
                    f"{res.op} on {res.device}",
                    "ok" if res.ok else "fail",
                    res.detail,
                    "matches the known answer" if kind == "cpu" else "matches CPU",
                    hint,
                )
            )
    return checks


def check_devices(kind: str, smi: Optional[str]) -> list[Check]:
    """CUDA and NPU devices; ``smi`` is the output of ``npu-smi info`` (None when absent)."""
    checks = []
    n_cuda = device.cuda_count()
    cuda_status = "ok" if n_cuda or kind != "cuda" else "fail"
    if not n_cuda and kind == "auto":
        cuda_status = "warn"
    checks.append(
        Check(
            "devices",
            "cuda",
            cuda_status,
            f"{n_cuda}: {', '.join(device.cuda_names())}" if n_cuda else "none",
            "GPUs for --device cuda",
            "" if n_cuda else "needs an NVIDIA driver and a CUDA build of torch",
        )
    )
    n_npu = device.npu_count() if device.torch_npu_installed() else 0
    chips = cann.parse_npu_smi_info(smi or "")
    npu_status = (
        "ok" if (n_npu or kind not in ("npu", "auto")) else ("fail" if kind == "npu" else "warn")
    )
    found = f"{n_npu} via torch_npu" if n_npu else "none via torch_npu"
    if chips:
        found += "; npu-smi: " + ", ".join(f"{c.npu}/{c.chip} {c.name} {c.health}" for c in chips)
    elif smi is None:
        found += "; npu-smi not found"
    checks.append(
        Check(
            "devices",
            "npu",
            npu_status,
            found,
            "NPUs for --device npu",
            "" if n_npu else _no_npu_hint(),
        )
    )
    vis = device.visible_device_vars()
    bad = [k for k, v in vis.items() if not _valid_visible(k, v)]
    checks.append(
        Check(
            "devices",
            "visible devices",
            "warn" if bad else "ok",
            ", ".join(f"{k}={v[:40]!r}" if k in bad else f"{k}={v}" for k, v in vis.items())
            or "no *_VISIBLE_DEVICES set",
            "what this process may use",
            f"{', '.join(bad)}: expected device indices like 0,1 (unset it or fix it)"
            if bad
            else "",
        )
    )
    return checks


def check_host(kind: str, root: Optional[str] = None) -> list[Check]:
    """Device nodes and driver mounts an Ascend process needs (``--device npu``, or ``auto``
    with torch_npu installed); a missing one names the ``docker run`` flag that provides it."""
    if kind != "npu" and not (kind == "auto" and device.torch_npu_installed()):
        return []

    base = Path(root or "/")
    boxed = container.in_container(base)
    checks = []
    for item in container.inspect(base):
        status = "ok" if item.present else ("fail" if item.required and kind == "npu" else "warn")
        if item.present:
            hint = ""
        elif boxed:
            hint = f"inside a container: start it with {item.flag} (docker/run.sh passes it)"
        else:
            hint = f"not on this host: install the Ascend driver (in a container: {item.flag})"
        found = "present" if item.present else "missing"
        if item.name == "/dev/davinciN":
            found = ", ".join(container.card_nodes(base)) or "none"
        checks.append(Check("host", item.name, status, found, item.why, hint))
    return checks


def _no_npu_hint() -> str:
    chosen = device.visible_device_vars().get("ASCEND_RT_VISIBLE_DEVICES")
    if chosen is not None:
        return (
            f"ASCEND_RT_VISIBLE_DEVICES={chosen} selects no usable card: pick indices that "
            "`npu-smi info` lists (--devices)"
        )
    return f"needs the Ascend driver, CANN ({SET_ENV_HINT}) and torch_npu"


def check_cann(
    kind: str, soc_flag: Optional[str], smi: Optional[str], config_soc: Optional[str] = None
) -> list[Check]:
    need = kind == "npu"
    bad = "fail" if need else "warn"
    set_env = cann.find_set_env()
    home = cann.toolkit_home()
    version = cann.toolkit_version(home)
    atc = cann.atc_path()
    soc = cann.resolve_soc_version(
        explicit=soc_flag, npu_smi_text=smi or "", config_value=config_soc
    )
    return [
        Check(
            "cann",
            "set_env.sh",
            "ok" if set_env else bad,
            str(set_env or "not found"),
            "CANN toolkit installed",
            ""
            if set_env
            else "install the CANN toolkit (needed for --device npu and `vitdet atc`)",
        ),
        Check(
            "cann",
            "toolkit",
            "ok" if version else bad,
            f"{version or 'unknown'} at {home or '-'}",
            "CANN 8.x",
            "" if version else f"{SET_ENV_HINT} so ASCEND_TOOLKIT_HOME is set",
        ),
        Check(
            "cann",
            "atc",
            "ok" if atc else bad,
            atc or "not on PATH",
            "for `vitdet atc`",
            "" if atc else f"{SET_ENV_HINT} (it puts atc on PATH)",
        ),
        Check(
            "cann",
            "soc_version",
            "ok",
            f"{soc.value} (from {soc.source})",
            "flag > environment > npu-smi > config > default",
        ),
    ]


def run_checks(
    kind: str = "auto",
    soc_flag: Optional[str] = None,
    ops: bool = True,
    config_soc: Optional[str] = None,
) -> list[Check]:
    """Every check, in display order. ``kind`` is the device the user asked for;
    ``config_soc`` is an experiment config's ``device.soc_version``."""
    if kind not in ("auto", "npu", "cuda", "cpu"):
        raise VitdetError(
            f"--device {kind!r} is not one of auto, npu, cuda, cpu",
            hint="use --device auto|npu|cuda|cpu",
            code="bad_device",
            exit_code=2,
        )
    checks = [check_python(), *check_packages(), check_torch_npu(kind), check_opencv()]
    smi = cann.run_npu_smi()  # once: devices and the SoC resolution both read it
    torch_ok = any(c.name == "torch" and c.status == "ok" for c in checks)
    if torch_ok:
        checks += check_devices(kind, smi)
        kinds = [k for k in device.available_kinds() if kind in ("auto", k) or k == "cpu"]
        checks += check_mmcv_ops(kinds if ops else [])  # without ops: the _ext import only
    checks += check_host(kind)
    checks += check_cann(kind, soc_flag, smi, config_soc)
    return checks


def failed(checks: Iterable[Check]) -> list[Check]:
    return [c for c in checks if c.status == "fail"]


def require(kind: str = "auto", ops: bool = True) -> None:
    """Raise the first failing check as a :class:`VitdetError` (for commands to fail early)."""
    _raise_first(failed(run_checks(kind, ops=ops)))


def fresh_checks(kind: str, env: Mapping[str, str], ops: bool = False) -> list[Check]:
    """:func:`run_checks` run by ``vitdet env-check`` in a fresh interpreter with ``env`` added.

    With ``ASCEND_RT_VISIBLE_DEVICES``/``CUDA_VISIBLE_DEVICES`` in ``env`` the runtime
    initialises with the run's selection, so the card checked is the card the run will use,
    and this process never initialises a device runtime.
    """
    argv = [sys.executable, "-m", "vitdet_cli", "--json", "env-check", "--device", kind]
    proc = subprocess.run(
        argv + ([] if ops else ["--no-ops"]),
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
    )
    try:
        data = json.loads(proc.stdout)
        checks = [Check(**c) for c in data["checks"]]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise VitdetError(
            "the environment check in a fresh process printed no report",
            hint=(proc.stderr or proc.stdout).strip()[-500:],
            code="env_check",
        ) from None
    return checks


def require_fresh(kind: str, env: Mapping[str, str], ops: bool = False) -> None:
    """:func:`require` through :func:`fresh_checks` (the run's device selection in force)."""
    _raise_first(failed(fresh_checks(kind, env, ops)))


def _raise_first(bad: list[Check]) -> None:
    if bad:
        first = bad[0]
        more = f" (and {len(bad) - 1} more: run `vitdet env-check`)" if len(bad) > 1 else ""
        raise VitdetError(
            f"environment check '{first.name}' failed: found {first.found}, "
            f"expected {first.expected}{more}",
            hint=first.hint,
            code="env_check",
        )


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _valid_visible(name: str, value: str) -> bool:
    """A comma list of device indices (CUDA also takes GPU-/MIG- UUIDs and -1)."""
    items = [v.strip() for v in value.split(",")] if value.strip() else []
    cuda = name.startswith("CUDA")
    return all(
        v.isdigit() or (cuda and (v == "-1" or v.startswith(("GPU-", "MIG-")))) for v in items
    )
