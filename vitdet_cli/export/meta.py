"""``export_meta.json``: what a stage's graphs take and give, and everything the host needs.

One meta per stage directory (``export/<stage>/export_meta.json``); a stage holds one or more
graphs (``roi`` holds ``bbox`` and ``mask``). The reader checks the schema version and the
sha256 of every graph file, so a stale or truncated file is caught before it is run. This module
imports neither torch nor onnx: the deploy path reads metas on a bare inference box.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from vitdet_cli.atomic import write_json_atomic
from vitdet_cli.errors import VitdetError
from vitdet_cli.metafile import read_meta, verify_file

SCHEMA_VERSION = 1
META_NAME = "export_meta.json"
STAGES = ("backbone", "rpn", "roi")
"""Stage directories in pipeline order."""
_HINT = "run `vitdet export --checkpoint CKPT --out DIR` to (re)create the artifacts"
STAGE_GRAPHS = {"backbone": ("model",), "rpn": ("model",), "roi": ("bbox", "mask")}
"""Graphs of each stage: ``export/<stage>/<graph>.onnx``."""


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


def read_stage_meta(stage_dir: str | Path, verify: bool = True) -> StageMeta:
    """Read and check a stage's meta; with ``verify``, also each graph file and its sha256."""
    stage_dir = Path(stage_dir)
    path = stage_dir / META_NAME
    meta = read_meta(
        path,
        SCHEMA_VERSION,
        StageMeta.from_dict,
        hint=_HINT,
        code="meta",
        newer_hint="upgrade vitdet-cli, or re-export with this version",
    )
    if verify:
        for graph in meta.graphs.values():
            verify_graph_file(stage_dir / graph.file, graph.sha256, path)
    return meta


def verify_graph_file(path: Path, sha256: str, meta_path: Optional[Path] = None) -> None:
    """Raise a clear error when a graph file is absent or differs from the hash in its meta."""
    changed = "the file was truncated or replaced after export"
    verify_file(path, sha256, meta_path, _HINT, "graph", changed)


def read_all_metas(artifacts: str | Path, verify: bool = True) -> dict[str, StageMeta]:
    """The metas of all three stages under ``<artifacts>/export``."""
    root = Path(artifacts)
    if not root.is_dir():
        raise VitdetError(
            f"artifacts directory {root} not found",
            hint="pass the --out directory of `vitdet export`",
            code="artifacts_missing",
        )
    return {s: read_stage_meta(root / "export" / s, verify=verify) for s in STAGES}
