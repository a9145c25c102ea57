"""``atc_meta.json``: how each OM of a stage was compiled, with the hashes that tie it to its ONNX.

One file per stage directory (``atc/<stage>/atc_meta.json``). ``om`` is the file atc actually
wrote (``<graph>.om`` or ``<graph>_linux_<arch>.om``); the OM bytes are checked against the
folder's manifest, the ONNX it came from against ``onnx_sha256``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from vitdet_cli.atomic import write_json_atomic
from vitdet_cli.metafile import read_meta

SCHEMA_VERSION = 1
ATC_META_NAME = "atc_meta.json"
FULL_PRECISION = frozenset({"must_keep_origin_dtype", "force_fp32", "origin"})
"""Precision modes that never lower fp32 ops (every other mode may compute in fp16/bf16)."""
_HINT = "run `vitdet atc --artifacts DIR` to (re)compile the stage"


@dataclass(frozen=True)
class OmRecord:
    """One compiled graph: its ONNX (path, sha256 as read), OM (file in the stage dir, sha256)."""

    onnx: str
    onnx_sha256: str
    om: str
    om_sha256: str
    om_bytes: int
    argv: tuple[str, ...]
    seconds: float
    log: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "OmRecord":
        return cls(
            onnx=str(data["onnx"]),
            onnx_sha256=str(data["onnx_sha256"]),
            om=str(data["om"]),
            om_sha256=str(data["om_sha256"]),
            om_bytes=int(data["om_bytes"]),
            argv=tuple(str(a) for a in data["argv"]),
            seconds=float(data["seconds"]),
            log=str(data.get("log", "")),
        )


@dataclass(frozen=True)
class AtcMeta:
    """The content of one ``atc_meta.json``.

    Args:
        stage: ``backbone``, ``rpn`` or ``roi``.
        graphs: graph name → :class:`OmRecord`.
        soc_version: the ``--soc_version`` used; ``soc_source`` says where it came from
            (flag, environment, npu-smi, config, default).
        precision_mode: ``--precision_mode``/``--precision_mode_v2`` value.
        keep_dtype: the ``--keep_dtype`` file content when one was passed, else "".
        atc_version: CANN/atc version when known.
        created: UTC time, ISO 8601.
    """

    stage: str
    graphs: dict[str, OmRecord]
    soc_version: str
    soc_source: str
    precision_mode: str
    keep_dtype: str
    atc_version: Optional[str]
    created: str
    schema_version: int = SCHEMA_VERSION

    @property
    def keeps_fp32(self) -> bool:
        """Whether atc kept every fp32 op in fp32 (see :data:`FULL_PRECISION`)."""
        return self.precision_mode in FULL_PRECISION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {"schema_version": data.pop("schema_version"), **data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AtcMeta":
        return cls(
            stage=str(data["stage"]),
            graphs={k: OmRecord.from_dict(v) for k, v in data["graphs"].items()},
            soc_version=str(data["soc_version"]),
            soc_source=str(data["soc_source"]),
            precision_mode=str(data["precision_mode"]),
            keep_dtype=str(data.get("keep_dtype", "")),
            atc_version=data.get("atc_version"),
            created=str(data["created"]),
            schema_version=int(data["schema_version"]),
        )


def write_atc_meta(stage_dir: str | Path, meta: AtcMeta) -> Path:
    """Write ``<stage_dir>/atc_meta.json`` atomically."""
    return write_json_atomic(Path(stage_dir) / ATC_META_NAME, meta.to_dict(), indent=2)


def read_atc_meta(path: Path) -> AtcMeta:
    """Read ``path`` (an ``atc_meta.json``), check its schema version and parse it."""
    return read_meta(
        path,
        SCHEMA_VERSION,
        AtcMeta.from_dict,
        hint=_HINT,
        code="atc_meta",
        newer_hint="upgrade vitdet-cli, or recompile with this version",
    )
