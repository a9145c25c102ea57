"""``tune/tuning.json``: the runtime and precision ``vitdet tune`` chose for each stage.

Sealed like every other file of the folder (listed in the manifest, rewritten after it). Each
choice names the sha256 of the graphs it was measured on, so a choice made for other graphs
(a stage re-exported since) is refused instead of silently applied.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from vitdet_cli.artifacts.atc_meta import FULL_PRECISION
from vitdet_cli.artifacts.layout import ATC, STAGE_GRAPHS, STAGES, TUNE, TUNING, check_relative
from vitdet_cli.atomic import write_json_atomic
from vitdet_cli.metafile import read_meta

SCHEMA_VERSION = 2
"""2 added ``om`` choices (``atc_mode``, ``files`` under ``atc/``); version 1 files still read."""
PRECISIONS = ("fp32", "bf16", "int8", "mixed", "fp16")
"""Precision names a choice may carry; ``fp32`` is the exact path. ``mixed`` and ``fp16`` are
OM stages compiled with a lowering atc mode (``atc_mode`` says which)."""
FILE_ROOTS = (TUNE, ATC)
"""Where a choice's ``files`` may lie: graphs/OMs sealed by tune, or OMs ``vitdet atc`` wrote."""
_HINT = "re-run `vitdet tune ARTIFACTS`, or pass --backend to ignore the tuning"


@dataclass(frozen=True)
class StageChoice:
    """One stage's choice: ``backend`` (a registered backend name), ``precision`` (one of
    :data:`PRECISIONS`), ``graphs`` (graph → sha256 of the ONNX it was measured on) and
    ``median_ms`` (the stage's measured time, informative); ``files``: graph → the
    folder-relative file run instead of the exported graph (``tune/...`` e.g. int8 or a tuned
    OM, or ``atc/...`` an OM of ``vitdet atc`` reused); ``atc_mode``: the atc precision mode the
    stage's OMs were compiled with (``om`` choices only)."""

    backend: str
    precision: str
    graphs: dict[str, str]
    median_ms: float = 0.0
    files: dict[str, str] = field(default_factory=dict)
    atc_mode: str = ""

    @property
    def exact(self) -> bool:
        return self.precision == "fp32"

    @property
    def label(self) -> str:
        """``onnxruntime fp32``, ``om mixed (allow_mix_precision)``."""
        mode = f" ({self.atc_mode})" if self.atc_mode else ""
        return f"{self.backend} {self.precision}{mode}"

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
            top = check_relative(rel, TUNING).split("/")[0]
            if graph not in graphs or top not in FILE_ROOTS or "/" not in rel:
                raise ValueError(
                    f"files: {graph} → {rel!r} is not a tune/ or atc/ file of a listed graph"
                )
        atc_mode = str(data.get("atc_mode", ""))
        if backend == "om" and (not atc_mode or set(files) != set(graphs)):
            raise ValueError("an om choice needs its atc_mode and a file for every graph")
        if atc_mode and (precision == "fp32") != (atc_mode in FULL_PRECISION):
            raise ValueError(f"precision {precision} does not fit atc mode {atc_mode!r}")
        median = float(data.get("median_ms", 0.0))
        return cls(backend, precision, graphs, median, files, atc_mode)


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
        return ", ".join(f"{s}: {c.label}" for s, c in self.stages.items())

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
