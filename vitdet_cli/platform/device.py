"""What device this process runs on. The only module that asks torch about CUDA or NPU."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Optional, Sequence

from vitdet_cli.errors import VitdetError

VISIBLE_VAR = {"npu": "ASCEND_RT_VISIBLE_DEVICES", "cuda": "CUDA_VISIBLE_DEVICES"}
DIST_BACKEND = {"npu": "hccl", "cuda": "nccl", "cpu": "gloo"}
ALL_VISIBLE_VARS = ("ASCEND_RT_VISIBLE_DEVICES", "ASCEND_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")


def torch_npu_installed() -> bool:
    return importlib.util.find_spec("torch_npu") is not None


def import_torch_npu() -> Optional[str]:
    """Import torch_npu (must precede any device use); return an error text or None."""
    if not torch_npu_installed():
        return "torch_npu is not installed"
    try:
        import torch_npu  # noqa: F401
    except Exception as err:  # undefined symbols, missing CANN libraries ...
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        return f"torch_npu failed to import: {first}"
    return None


def npu_count() -> int:
    if import_torch_npu() is not None:
        return 0
    import torch

    try:
        return int(torch.npu.device_count()) if torch.npu.is_available() else 0
    except Exception:  # torch_npu present but driver absent
        return 0


def npu_names() -> list[str]:
    import torch

    return [torch.npu.get_device_name(i) for i in range(npu_count())]


def cuda_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def cuda_names() -> list[str]:
    import torch

    return [torch.cuda.get_device_name(i) for i in range(cuda_count())]


def available_kinds() -> list[str]:
    """Device kinds usable now, best first."""
    kinds = []
    if npu_count() > 0:
        kinds.append("npu")
    if cuda_count() > 0:
        kinds.append("cuda")
    return kinds + ["cpu"]


def selection_env(kind: str, devices: Sequence[int]) -> dict[str, str]:
    """The visible-device variables that select ``devices`` for ``kind`` (``auto``: both, each
    runtime reads only its own)."""
    if not devices or kind == "cpu":
        return {}
    value = ",".join(str(d) for d in devices)
    kinds = list(VISIBLE_VAR) if kind == "auto" else [kind]
    return {VISIBLE_VAR[k]: value for k in kinds if k in VISIBLE_VAR}


def available_kinds_fresh(env: dict[str, str]) -> list[str]:
    """:func:`available_kinds` asked in a fresh interpreter whose environment carries ``env``.

    The NPU and CUDA runtimes read their visible-device variable once, when they initialise;
    asking here would initialise them in this process before the selection is in place.
    """
    proc = subprocess.run(
        [sys.executable, "-m", "vitdet_cli.platform.device"],
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
    )
    try:
        kinds = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise VitdetError(
            "probing the devices in a fresh process failed",
            hint=(proc.stderr or proc.stdout).strip()[-500:],
            code="device_probe_failed",
        ) from None
    return list(kinds)


def resolve_kind(
    requested: str = "auto",
    available: Optional[Sequence[str]] = None,
    selection: Optional[dict[str, str]] = None,
) -> str:
    """``auto`` → npu, then cuda, then cpu; an explicit kind must be present.

    ``available`` is the list of usable kinds when already known (e.g. from
    :func:`available_kinds_fresh`); otherwise this process asks the runtimes. ``selection``
    (the visible-device variables in force) is named in the error.
    """
    if requested == "cpu":
        return "cpu"
    if requested != "auto" and requested not in VISIBLE_VAR:
        raise VitdetError(
            f"unknown device kind {requested!r}",
            hint="use auto, npu, cuda or cpu",
            code="bad_device",
            exit_code=2,
        )
    kinds = list(available) if available is not None else available_kinds()
    if requested == "auto":
        return kinds[0]
    if requested not in kinds:
        hint = (
            "install torch_npu matching torch, source /usr/local/Ascend/ascend-toolkit/set_env.sh, "
            "and check `npu-smi info`; `vitdet env-check --device npu` says what is missing"
            if requested == "npu"
            else "install a CUDA build of torch and check `nvidia-smi` "
            "(`vitdet env-check --device cuda`)"
        )
        var = VISIBLE_VAR[requested]
        chosen = f" with {var}={selection[var]}" if selection and var in selection else ""
        raise VitdetError(
            f"--device {requested} asked for, but no {requested.upper()} is usable{chosen}",
            hint=hint,
            code="no_device",
        )
    return requested


def torch_device(kind: str, index: int = 0) -> str:
    return "cpu" if kind == "cpu" else f"{kind}:{index}"


@dataclass
class Placement:
    """Which physical devices a run uses and the environment that selects them."""

    kind: str
    devices: list[int] = field(default_factory=list)

    @property
    def world_size(self) -> int:
        return max(1, len(self.devices))

    @property
    def backend(self) -> str:
        return DIST_BACKEND[self.kind]

    def env(self) -> dict[str, str]:
        """Variables to set for the launched processes (they then see devices 0..n-1)."""
        var = VISIBLE_VAR.get(self.kind)
        if var is None or not self.devices:
            return {}
        return {var: ",".join(str(d) for d in self.devices)}


def parse_devices(text: Optional[str | Sequence[int]]) -> list[int]:
    """``"6,7"`` → [6, 7], rejecting duplicates and non-integers with a clear error."""
    if text is None or text == "":
        return []
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[int] = []
    for item in items:
        item_s = str(item).strip()
        if not item_s.isdigit():
            raise VitdetError(
                f"--devices {text!r}: {item_s!r} is not a device index",
                hint="give indices like --devices 6,7",
                code="bad_devices",
                exit_code=2,
            )
        if int(item_s) in out:
            raise VitdetError(
                f"--devices {text!r}: device {item_s} listed twice",
                hint="list each device once",
                code="bad_devices",
                exit_code=2,
            )
        out.append(int(item_s))
    return out


def visible_device_vars(environ: Optional[dict] = None) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    return {k: environ[k] for k in ALL_VISIBLE_VARS if k in environ}


if __name__ == "__main__":  # the fresh-process probe of available_kinds_fresh
    print(json.dumps(available_kinds()))
