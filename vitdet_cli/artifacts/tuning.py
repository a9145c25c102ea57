"""``tune/tuning.json``: the runtime and precision ``vitdet tune`` chose for each stage.

Sealed like every other file of the folder (listed in the manifest, rewritten after it). Each
choice names the sha256 of the graphs it was measured on, so a choice made for other graphs
(a stage re-exported since) is refused instead of silently applied.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from vitdet_cli.artifacts.layout import STAGE_GRAPHS, STAGES, TUNE, TUNING, check_relative
from vitdet_cli.atomic import write_json_atomic
from vitdet_cli.metafile import read_meta

SCHEMA_VERSION = 1
PRECISIONS = ("fp32", "bf16", "int8")
"""Precision names a choice may carry; ``fp32`` is the exact path."""
_HINT = "re-run `vitdet tune ARTIFACTS`, or pass --backend to ignore the tuning"


@dataclass(frozen=True)
class StageChoice:
    """One stage's choice: ``backend`` (a registered backend name), ``precision`` (one of
    :data:`PRECISIONS`), ``graphs`` (graph → sha256 of the ONNX it was measured on) and
    ``median_ms`` (the stage's measured time, informative); ``files``: graph → the
    folder-relative graph file run instead of the exported one (``tune/...``, e.g. int8)."""

    backend: str
    precision: str
    graphs: dict[str, str]
    median_ms: float = 0.0
    files: dict[str, str] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return self.precision == "fp32"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "StageChoice":
        precision = str(data["precision"])
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
        backend = str(data["backend"])
        if not backend:
            raise ValueError("backend is empty")
        graphs = {str(k): str(v) for k, v in dict(data["graphs"]).items()}
        files = {str(k): str(v) for k, v in dict(data.get("files", {})).items()}
        for graph, rel in files.items():
            if graph not in graphs or not check_relative(rel, TUNING).startswith(TUNE + "/"):
                raise ValueError(f"files: {graph} → {rel!r} is not a tune/ file of a listed graph")
        return cls(backend, precision, graphs, float(data.get("median_ms", 0.0)), files)


@dataclass(frozen=True)
class Tuning:
    """The content of ``tuning.json``.

    Args:
        stages: stage → :class:`StageChoice` (every stage of :data:`STAGES`).
        mode: ``fp32`` (exact candidates only) or ``auto`` (lower precision through the gate).
        gate: the gate that admitted lower-precision stages (its thresholds and verdicts);
            empty for ``fp32``.
        machine: what it was measured on (CPU, runtime versions).
        created: UTC time, ISO 8601.
    """

    stages: dict[str, StageChoice]
    mode: str = "fp32"
    gate: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    schema_version: int = SCHEMA_VERSION

    @property
    def exact(self) -> bool:
        return all(c.exact for c in self.stages.values())

    def describe(self) -> str:
        """``backbone: openvino fp32, rpn: onnxruntime fp32, ...``"""
        return ", ".join(f"{s}: {c.backend} {c.precision}" for s, c in self.stages.items())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {"schema_version": data.pop("schema_version"), **data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Tuning":
        stages = {str(s): StageChoice.from_dict(c) for s, c in dict(data["stages"]).items()}
        if set(stages) != set(STAGES):
            raise ValueError(f"stages must be exactly {', '.join(STAGES)}, got {sorted(stages)}")
        for stage, choice in stages.items():
            if set(choice.graphs) != set(STAGE_GRAPHS[stage]):
                raise ValueError(f"stage {stage} must list graphs {STAGE_GRAPHS[stage]}")
        mode = str(data.get("mode", "fp32"))
        if mode not in ("fp32", "auto"):
            raise ValueError(f"mode {mode!r} is not fp32 or auto")
        return cls(
            {s: stages[s] for s in STAGES},
            mode,
            dict(data.get("gate", {})),
            dict(data.get("machine", {})),
            str(data.get("created", "")),
            int(data["schema_version"]),
        )


def write_tuning(path: str | Path, tuning: Tuning) -> Path:
    """Write ``tuning.json`` atomically (the caller reseals the folder)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_json_atomic(Path(path), tuning.to_dict(), indent=2)


def read_tuning(path: Path) -> Tuning:
    """Read and check ``path`` (a ``tuning.json``)."""
    return read_meta(
        path,
        SCHEMA_VERSION,
        Tuning.from_dict,
        hint=_HINT,
        code="tuning",
        newer_hint="upgrade vitdet-cli, or re-run `vitdet tune` with this version",
    )
