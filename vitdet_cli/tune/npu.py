"""``vitdet tune --target npu``: the stages as Ascend OMs, one OM set per (stage, atc mode).

Each candidate precision is an atc precision mode (:data:`OM_MODES`): ``fp32`` is
``must_keep_origin_dtype`` (the exact path), ``mixed`` is ``allow_mix_precision`` with
LayerNorm/Softmax kept fp32 (``--keep_dtype``), ``fp16`` is ``force_fp16``. A stage whose
``atc/<stage>/atc_meta.json`` already records the mode (same keep list, SoC and ONNX hashes)
reuses those OMs; every other set is compiled by :func:`~vitdet_cli.atc.run.compile_stage`
into a scratch folder, and only the chosen ones are copied under ``tune/om/<stage>/`` (with
their ``atc_meta.json`` and logs) and sealed. The reference stays ONNX Runtime fp32 on the host.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.atc_meta import ATC_META_NAME
from vitdet_cli.artifacts.layout import STAGE_GRAPHS, TUNE, atc_rel
from vitdet_cli.atc.argv import DEFAULT_PRECISION
from vitdet_cli.atc.run import (
    GraphResult,
    atc_for,
    atc_version,
    compile_stage,
    keep_for,
    plan_stage,
)
from vitdet_cli.errors import VitdetError
from vitdet_cli.platform import cann
from vitdet_cli.runtime.backends.om import select_runner
from vitdet_cli.tune.candidates import Candidate

OM_MODES = {
    "fp32": (DEFAULT_PRECISION, False),
    "mixed": ("allow_mix_precision", True),
    "fp16": ("force_fp16", False),
}
"""Candidate precision → (atc precision mode, keep LayerNorm/Softmax fp32). On a 910B3 with
CANN 8.5 a ViT-L+FPN encoder lost almost all accuracy under ``allow_mix_precision`` and only
``must_keep_origin_dtype`` kept it, at ~12% lower speed (source document): the lowered modes
are tried, and only the gate admits them."""
OM_TUNE = f"{TUNE}/om"


def om_candidates(precision: str) -> list[Candidate]:
    """``om fp32``; with ``precision`` ``auto`` also ``om mixed`` and ``om fp16``."""
    names = list(OM_MODES) if precision == "auto" else ["fp32"]
    return [Candidate("om", p) for p in names]


def tune_om_rel(stage: str, name: str = "") -> str:
    """``tune/om/<stage>[/<name>]``: where a chosen OM set is sealed."""
    return f"{OM_TUNE}/{stage}/{name}" if name else f"{OM_TUNE}/{stage}"


@dataclass(frozen=True)
class NpuOptions:
    """How to reach the NPU and atc: ``device_id`` and ``runner`` as the ``om`` backend takes
    them, ``soc_version`` and ``atc`` as ``vitdet atc`` takes them."""

    device_id: int = 0
    runner: str = "auto"
    soc_version: Optional[str] = None
    atc: Optional[str] = None

    def backend(self) -> dict[str, Any]:
        return {"device_id": self.device_id, "runner": self.runner}


@dataclass
class OmSet:
    """One stage's OMs at one atc mode: reused from ``atc/<stage>/`` or compiled into
    ``folder`` (``results``: the planned atc runs)."""

    stage: str
    precision: str
    mode: str
    keep: str
    folder: Path
    reused: bool
    results: list[GraphResult] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "precision": self.precision,
            "atc_mode": self.mode,
            "keep_dtype": bool(self.keep),
            "reused": str(self.folder) if self.reused else None,
            "commands": [r.command for r in self.results],
            "error": self.error,
        }


@dataclass
class OmPlan:
    """Every (stage, candidate) OM set, and the atc/SoC they are compiled with."""

    sets: dict[tuple[str, Candidate], OmSet]
    atc: Optional[str]
    soc: cann.SocResolution
    atc_version: Optional[str] = None


def _reusable(art: Artifacts, stage: str, mode: str, keep: str, soc: str) -> dict[str, Path]:
    """graph → ``vitdet atc``'s OM when ``atc/<stage>/`` was compiled exactly so, else {}."""
    if atc_rel(stage, ATC_META_NAME) not in art.manifest.files:
        return {}
    meta = art.atc_meta(stage)
    same = (meta.precision_mode, meta.keep_dtype, meta.soc_version) == (mode, keep, soc)
    hashes = all(
        g in meta.graphs and meta.graphs[g].onnx_sha256 == art.graph(stage, g).sha256
        for g in STAGE_GRAPHS[stage]
    )
    return {g: art.om_path(stage, g) for g in STAGE_GRAPHS[stage]} if same and hashes else {}


def plan_om(
    art: Artifacts, cands: list[Candidate], scratch: Path, opts: NpuOptions, dry_run: bool
) -> OmPlan:
    """Decide reuse or compile for each (stage, om candidate); needs atc only where something
    is compiled and the runner unless ``dry_run`` (clear errors before anything is written)."""
    if not dry_run:
        select_runner(opts.runner)
    soc = cann.resolve_soc_version(opts.soc_version)
    sets: dict[tuple[str, Candidate], OmSet] = {}
    for stage in STAGE_GRAPHS:
        for cand in cands:
            mode, keep_fp32 = OM_MODES[cand.precision]
            keep = keep_for(mode, keep_fp32)
            files = _reusable(art, stage, mode, keep, soc.value)
            folder = art.root / atc_rel(stage) if files else scratch / cand.precision / stage
            sets[stage, cand] = OmSet(
                stage, cand.precision, mode, keep, folder, bool(files), files=files
            )
    exe = None
    if any(not s.reused for s in sets.values()):
        exe = atc_for(opts.atc, dry_run)
        for s in sets.values():
            if not s.reused:
                s.results = plan_stage(art, s.stage, s.folder, exe, soc.value, s.mode, s.keep)
    version = atc_version(exe) if exe and not dry_run else None
    return OmPlan(sets, exe, soc, version)


def om_files(art: Artifacts, plan: OmPlan, stage: str, cand: Candidate) -> dict[str, Path]:
    """graph → the OM of ``cand`` on ``stage``, compiled now if needed; a failed compile is
    kept on the set (:attr:`OmSet.error`) and gives {}."""
    oms = plan.sets[stage, cand]
    if not oms.files and not oms.error:
        try:
            compile_stage(art, oms.results, plan.soc, oms.mode, oms.keep, plan.atc_version)
            oms.files = {r.graph: r.om for r in oms.results}
        except VitdetError as err:
            oms.error = err.message.splitlines()[0]
    return oms.files


def seal_om(art: Artifacts, oms: OmSet) -> dict[str, str]:
    """graph → folder-relative OM of a chosen set: ``atc/<stage>/...`` when reused, else the
    set copied to ``tune/om/<stage>/`` (the caller reseals ``tune/``)."""
    if oms.reused:
        return {g: p.relative_to(art.root).as_posix() for g, p in oms.files.items()}
    dst = art.root / tune_om_rel(oms.stage)
    shutil.copytree(oms.folder, dst)
    return {g: tune_om_rel(oms.stage, p.name) for g, p in oms.files.items()}
