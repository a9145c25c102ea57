"""``export_meta.json``: what a stage's graphs take and give, and everything the host needs.

One meta per stage directory (``export/<stage>/export_meta.json``); a stage holds one or more
graphs (``roi`` holds ``bbox`` and ``mask``). The reader checks the schema version and every
value (:mod:`vitdet_cli.artifacts.validate`); the files themselves are checked against the
folder's manifest. No torch, no onnx: the deploy path reads metas on a bare inference box.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from vitdet_cli.artifacts.layout import STAGES
from vitdet_cli.atomic import write_json_atomic
from vitdet_cli.errors import VitdetError
from vitdet_cli.metafile import read_meta

SCHEMA_VERSION = 1
META_NAME = "export_meta.json"
HINT = "run `vitdet export --checkpoint CKPT --out DIR` to (re)create the artifacts"


@dataclass(frozen=True)
class TensorSpec:
    """A graph input or output: name, static shape and numpy dtype name."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TensorSpec":
        return cls(str(data["name"]), tuple(int(d) for d in data["shape"]), str(data["dtype"]))


@dataclass(frozen=True)
class GraphMeta:
    """One ONNX graph of a stage: its file (relative to the stage directory), hash and I/O."""

    file: str
    sha256: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "GraphMeta":
        return cls(
            str(data["file"]),
            str(data["sha256"]),
            tuple(TensorSpec.from_dict(t) for t in data["inputs"]),
            tuple(TensorSpec.from_dict(t) for t in data["outputs"]),
        )

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]


@dataclass(frozen=True)
class StageMeta:
    """The content of one ``export_meta.json``.

    Args:
        stage: ``backbone``, ``rpn`` or ``roi``.
        graphs: graph name → :class:`GraphMeta`.
        opset: ONNX opset the graphs were exported with.
        host: :class:`~vitdet_cli.runtime.host_config.HostConfig` as a dict — preprocessing
            (mean/std, colour order, resize to ``img_size`` keeping the ratio, pad value),
            anchors, coder means/stds and test thresholds.
        class_names: category names, index = label.
        checkpoint: ``{"path", "sha256"}`` of the source checkpoint.
        versions: tool versions that produced the export.
        preprocess: the resize/pad rule in words, for people reading the file.
        schema_version: format version; readers refuse newer ones.
    """

    stage: str
    graphs: dict[str, GraphMeta]
    opset: int
    host: dict[str, Any]
    class_names: list[str]
    checkpoint: dict[str, str]
    versions: dict[str, str] = field(default_factory=dict)
    preprocess: str = (
        "BGR image -> resize longer side to img_size keeping the aspect ratio (bilinear) -> "
        "pad bottom/right to img_size x img_size with pad_value -> BGR to RGB -> (x - mean) / std"
    )
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data = {"schema_version": data.pop("schema_version"), **data}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "StageMeta":
        return cls(
            stage=str(data["stage"]),
            graphs={k: GraphMeta.from_dict(v) for k, v in data["graphs"].items()},
            opset=int(data["opset"]),
            host=dict(data["host"]),
            class_names=[str(c) for c in data["class_names"]],
            checkpoint=dict(data.get("checkpoint", {})),
            versions=dict(data.get("versions", {})),
            preprocess=str(data.get("preprocess", "")),
            schema_version=int(data["schema_version"]),
        )


def parse_stages(stages: Optional[str | Iterable[str]]) -> tuple[str, ...]:
    """``"backbone,roi"`` or a list → stage names in pipeline order; None → all."""
    if stages is None:
        return STAGES
    names = stages.split(",") if isinstance(stages, str) else list(stages)
    wanted = {s.strip() for s in names if s.strip()}
    unknown = sorted(wanted - set(STAGES))
    if unknown or not wanted:
        raise VitdetError(
            f"unknown stage(s): {', '.join(unknown) or '(none given)'}",
            hint=f"use a comma list of: {', '.join(STAGES)}",
            code="bad_stage",
            exit_code=2,
        )
    return tuple(s for s in STAGES if s in wanted)


def write_stage_meta(stage_dir: str | Path, meta: StageMeta) -> Path:
    """Write ``<stage_dir>/export_meta.json`` atomically."""
    return write_json_atomic(Path(stage_dir) / META_NAME, meta.to_dict(), indent=2)


def read_stage_meta(path: Path) -> StageMeta:
    """Read ``path`` (an ``export_meta.json``), check its schema version and parse it."""
    return read_meta(
        path,
        SCHEMA_VERSION,
        StageMeta.from_dict,
        hint=HINT,
        code="meta",
        newer_hint="upgrade vitdet-cli, or re-export with this version",
    )
