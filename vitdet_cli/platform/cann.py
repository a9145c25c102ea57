"""CANN toolkit, ``npu-smi`` and SoC version resolution (shared by env-check and atc)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from vitdet_cli.errors import VitdetError

DEFAULT_SOC = "Ascend910B3"
SET_ENV_CANDIDATES = (
    "/usr/local/Ascend/ascend-toolkit/set_env.sh",
    "/usr/local/Ascend/cann/set_env.sh",
    "~/Ascend/ascend-toolkit/set_env.sh",
)
# Variables that an activated CANN environment (or the user) may carry the SoC in.
SOC_ENV_VARS = ("SOC_VERSION", "ASCEND_SOC_VERSION")
HOME_ENV_VARS = ("ASCEND_TOOLKIT_HOME", "ASCEND_HOME_PATH")
_SOC_RE = re.compile(r"^Ascend[0-9A-Za-z_]+$")


@dataclass
class NpuChip:
    npu: int
    chip: int
    name: str
    health: str
    bus_id: str = ""
    memory_used_mb: Optional[int] = None
    memory_total_mb: Optional[int] = None


_NPU_ROW = re.compile(r"^\|\s*(\d+)\s+([0-9A-Za-z][\w\-]*)\s*\|\s*([A-Za-z]+)\s*\|(.*)\|\s*$")
# The chip row: ``| Chip [Device|Phy-ID] | Bus-Id | ...``; the Bus-Id is ``NA`` on SoC boards
# whose NPU is not a PCIe device (310B).
_CHIP_ROW = re.compile(
    r"^\|\s*(\d+)(?:\s+\d+)?\s*\|\s*([0-9A-Fa-f]{4}:[0-9A-Fa-f:.]+|NA)\s*\|(.*)\|\s*$"
)
_MEM = re.compile(r"(\d+)\s*/\s*(\d+)")


def parse_npu_smi_info(text: str) -> list[NpuChip]:
    """Parse the device table of ``npu-smi info`` (910B, 910_93 (A3), 310P and 310B layouts).

    Each chip spans two rows: ``| NPU Name | Health | ...`` then
    ``| Chip [Device|Phy-ID] | Bus-Id | ...``. On A3 parts each NPU shows two chips and the Name
    column is ``Ascend910`` for both. The process table that follows is ignored.
    """
    chips: list[NpuChip] = []
    pending: Optional[tuple[int, str, str]] = None
    for line in text.splitlines():
        line = line.rstrip()
        if "Process id" in line:
            break
        m = _NPU_ROW.match(line)
        if m and not m.group(2).isdigit():
            pending = (int(m.group(1)), m.group(2), m.group(3))
            continue
        c = _CHIP_ROW.match(line)
        if c and pending is not None:
            mems = _MEM.findall(c.group(3))
            used, total = (int(mems[-1][0]), int(mems[-1][1])) if mems else (None, None)
            chips.append(
                NpuChip(
                    pending[0], int(c.group(1)), pending[1], pending[2], c.group(2), used, total
                )
            )
            pending = None
    return chips


def run_npu_smi(args: tuple[str, ...] = ("info",), timeout: float = 20.0) -> Optional[str]:
    """Output of ``npu-smi ARGS``, or None when it is absent or fails."""
    exe = shutil.which("npu-smi")
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def parse_npu_smi_board(text: str) -> dict[str, str]:
    """The ``Key : value`` lines of ``npu-smi info -t board -i N -c C``."""
    fields = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and value.strip():
            fields[key.strip()] = value.strip()
    return fields


def soc_from_board(text: Optional[str]) -> Optional[str]:
    """The SoC from a board query: ``{Chip Name}_{NPU Name}`` on A3 parts (``Ascend910`` +
    ``9391`` → ``Ascend910_9391``), ``{Chip Type}{Chip Name}`` elsewhere (``Ascend910B3``)."""
    fields = parse_npu_smi_board(text or "")
    chip = fields.get("Chip Name", "").replace(" ", "")
    if not chip:
        return None
    if fields.get("NPU Name"):
        return normalize_soc(f"{chip}_{fields['NPU Name']}")
    return normalize_soc(fields.get("Chip Type", "Ascend") + chip)


def needs_board_query(chips: list[NpuChip]) -> bool:
    """True when the table's name is not the chip's (A3 prints ``Ascend910`` for every die)."""
    return bool(chips) and chips[0].name.lower().startswith("ascend")


def soc_from_npu_smi(text: Optional[str], board_text: Optional[str] = None) -> Optional[str]:
    """The SoC npu-smi reports: the board query's when given, else ``Ascend`` + the first
    chip's table name (``910B3`` → ``Ascend910B3``); None when only a board query can tell
    (A3) or nothing was parsed."""
    from_board = soc_from_board(board_text)
    if from_board:
        return from_board
    chips = parse_npu_smi_info(text or "")
    if not chips or needs_board_query(chips):
        return None
    return f"Ascend{chips[0].name}"


@dataclass
class SocResolution:
    value: str
    source: str  # flag | environment (VAR) | npu-smi | config | default


def resolve_soc_version(
    explicit: Optional[str] = None,
    environ: Optional[Mapping[str, str]] = None,
    npu_smi_text: Optional[str] = None,
    config_value: Optional[str] = None,
    query_npu_smi: bool = True,
    board_text: Optional[str] = None,
) -> SocResolution:
    """Pick the SoC for ``atc``: flag > environment > npu-smi > config > default.

    ``config_value`` is the experiment config's ``device.soc_version``. ``npu_smi_text`` and
    ``board_text`` may be given (recorded ``npu-smi info`` and ``npu-smi info -t board``
    outputs); otherwise they are queried when ``query_npu_smi`` is true, the board only when
    the table cannot name the SoC (A3).
    """
    environ = os.environ if environ is None else environ
    if explicit:
        return SocResolution(normalize_soc(explicit), "flag")
    for var in SOC_ENV_VARS:
        if environ.get(var):
            return SocResolution(normalize_soc(environ[var]), f"environment ({var})")
    if npu_smi_text is None and query_npu_smi:
        npu_smi_text = run_npu_smi()
    chips = parse_npu_smi_info(npu_smi_text or "")
    if board_text is None and query_npu_smi and needs_board_query(chips):
        board = ("info", "-t", "board", "-i", str(chips[0].npu), "-c", str(chips[0].chip))
        board_text = run_npu_smi(board)
    found = soc_from_npu_smi(npu_smi_text, board_text)
    if found:
        return SocResolution(found, "npu-smi")
    if config_value:
        return SocResolution(normalize_soc(config_value), "config")
    return SocResolution(DEFAULT_SOC, "default")


def normalize_soc(value: str) -> str:
    """Accept ``910B3`` or ``Ascend910B3``; always return the ``Ascend...`` form."""
    value = value.strip()
    if not value.lower().startswith("ascend"):
        value = "Ascend" + value
    else:
        value = "Ascend" + value[len("ascend") :]
    if not _SOC_RE.match(value):
        raise VitdetError(
            f"SoC version {value!r} does not look like Ascend<chip>",
            hint="use the form Ascend910B3 or Ascend310P3 (see `npu-smi info`)",
            code="bad_soc",
            exit_code=2,
        )
    return value


def find_set_env(environ: Optional[Mapping[str, str]] = None) -> Optional[Path]:
    environ = os.environ if environ is None else environ
    candidates = [Path(environ[v]).parent / "set_env.sh" for v in HOME_ENV_VARS if environ.get(v)]
    candidates += [Path(p).expanduser() for p in SET_ENV_CANDIDATES]
    return next((p for p in candidates if p.is_file()), None)


def toolkit_home(environ: Optional[Mapping[str, str]] = None) -> Optional[Path]:
    environ = os.environ if environ is None else environ
    for var in HOME_ENV_VARS:
        if environ.get(var) and Path(environ[var]).is_dir():
            return Path(environ[var])
    default = Path("/usr/local/Ascend/ascend-toolkit/latest")
    return default if default.is_dir() else None


def toolkit_version(home: Optional[Path]) -> Optional[str]:
    """Read the CANN version from ``*/ascend_toolkit_install.info`` or ``version.cfg``."""
    if home is None:
        return None
    for info in sorted(home.glob("*/ascend_toolkit_install.info")) + [home / "version.info"]:
        if info.is_file():
            m = re.search(r"^version=(\S+)", info.read_text(errors="replace"), re.M)
            if m:
                return m.group(1)
    cfg = home / "version.cfg"
    if cfg.is_file():
        m = re.search(r"\[(\d[\w.]*):", cfg.read_text(errors="replace"))
        if m:
            return m.group(1)
    return None


def atc_path() -> Optional[str]:
    return shutil.which("atc")
