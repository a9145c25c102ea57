"""``vitdet tune``: the fastest faithful runtime per stage, recorded in the artifacts folder.

1. The reference (ONNX Runtime fp32) runs the whole pipeline once on a sample image and records
   every stage's real inputs and outputs, as export feeds its checks.
2. Each stage is timed on every candidate with those inputs, the candidates in interleaved
   rounds; their outputs are diffed with the reference's as ``compare`` diffs stage tensors.
   The fastest fp32 candidate within the tolerance is the stage's exact choice.
3. The mixed pipeline is timed whole against each runtime alone on the same image, in
   interleaved rounds (runtimes in one process share the cores: a stage's time alone does not
   promise the mix's); a single runtime replaces the mix only when clearly faster.
4. With ``precision="auto"``, a lower-precision candidate faster than a stage's exact choice is
   admitted only when the whole pipeline with it still passes :class:`~vitdet_cli.tune.gate.Gate`
   on a dataset (stages tried one at a time, largest saving first, each on top of those
   admitted before).
5. ``tune/tuning.json`` is written atomically, then the manifest rewritten (as ``atc`` does).

``target="npu"`` tries the stages as Ascend OMs instead, one candidate per atc precision mode
(:mod:`vitdet_cli.tune.npu`); steps 1, 2, 4 and 5 are the same, the reference stays ONNX
Runtime fp32 on the host CPU.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.layout import STAGE_GRAPHS, STAGES, TUNE, TUNING
from vitdet_cli.artifacts.manifest import write_manifest
from vitdet_cli.artifacts.tuning import StageChoice, Tuning, write_tuning
from vitdet_cli.data.resolve import Dataset
from vitdet_cli.data.synth import sample_image
from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.backends import backend_class
from vitdet_cli.runtime.backends.tuned import stage_backend
from vitdet_cli.runtime.host_config import HostConfig
from vitdet_cli.runtime.images import read_image
from vitdet_cli.runtime.staged import Recorded, StagedModel
from vitdet_cli.tune.candidates import REFERENCE, Candidate, candidates
from vitdet_cli.tune.gate import Gate, judge, run_config
from vitdet_cli.tune.measure import Trial, measure_candidates
from vitdet_cli.tune.npu import (
    OM_MODES,
    NpuOptions,
    OmPlan,
    om_candidates,
    om_files,
    plan_om,
    seal_om,
)
from vitdet_cli.tune.pipelines import time_pipelines
from vitdet_cli.tune.quantize import quantize_stage, sealed_rel

PRECISION_MODES = ("fp32", "auto")
CONFIRM_MARGIN = 0.05
"""How much faster (by median) a single runtime's whole pipeline must be to replace the
per-stage mix: less is within this machine kind's noise between interleaved rounds."""
TARGETS = ("cpu", "npu")
Files = dict[tuple[str, Candidate], dict[str, Path]]
Step = Callable[[str], None]


@dataclass
class TuneReport:
    """Every trial, the choice per stage, the gate runs and where the result went."""

    artifacts: Path
    precision: str
    candidates: list[Candidate]
    notes: list[str]
    sample: str
    warmup: int
    repeat: int
    dry_run: bool = False
    target: str = "cpu"
    om: Optional[OmPlan] = None
    om_options: dict = field(default_factory=dict)
    trials: list[Trial] = field(default_factory=list)
    choices: dict[str, Trial] = field(default_factory=dict)
    gate: dict = field(default_factory=dict)
    pipelines: list[dict] = field(default_factory=list)
    tuning_file: Optional[Path] = None
    files: Files = field(default_factory=dict)
    """(stage, candidate) → graph → the file it runs instead of the exported graph: a quantized
    graph in the scratch folder, an OM (while tuning)."""
    int8_errors: dict[str, str] = field(default_factory=dict)

    def files_of(self, choices) -> dict[str, dict[str, Path]]:
        """stage → graph → file for a configuration (stage → (backend, precision))."""
        return {s: self.files.get((s, Candidate(*c)), {}) for s, c in choices.items()}

    def to_dict(self) -> dict:
        return {
            "artifacts": str(self.artifacts),
            "precision": self.precision,
            "target": self.target,
            "dry_run": self.dry_run,
            "candidates": [c.label for c in self.candidates],
            "notes": self.notes,
            "sample": self.sample,
            "warmup": self.warmup,
            "repeat": self.repeat,
            "reference": " ".join(REFERENCE),
            "choices": {
                s: {
                    "backend": t.candidate.backend,
                    "precision": t.candidate.precision,
                    "atc_mode": atc_mode(t.candidate),
                    "median_ms": t.median_ms,
                }
                for s, t in self.choices.items()
            },
            "om_sets": [o.to_dict() for o in self.om.sets.values()] if self.om else [],
            "trials": [t.to_dict() for t in self.trials],
            "pipelines": self.pipelines,
            "gate": self.gate,
            "tuning_file": str(self.tuning_file) if self.tuning_file else None,
        }


def atc_mode(cand: Candidate) -> str:
    """The atc precision mode of an ``om`` candidate, else ""."""
    return OM_MODES[cand.precision][0] if cand.backend == "om" else ""


def record_reference(artifacts: Artifacts, image: np.ndarray, threads: int = 0) -> Recorded:
    """Every stage's real feeds and reference outputs on ``image``."""
    recorded: Recorded = {}
    with StagedModel(artifacts, stage_backend(*REFERENCE, threads=threads)) as model:
        model(image, record=recorded)
    return recorded


def sample_for(artifacts: Artifacts, img: Optional[Path]) -> tuple[np.ndarray, str]:
    """(BGR image, description): ``img``, else export's synthetic sample at the model's size."""
    if img is not None:
        return read_image(img), str(img)
    return sample_image(HostConfig.from_dict(artifacts.host).img_size), "export's synthetic sample"


def choose_exact(trials: list[Trial]) -> Trial:
    """The fastest fp32 trial within the tolerance; marks every fp32 trial's status."""
    fine = [t for t in trials if t.candidate.exact and t.tensors_ok]
    for t in trials:
        if t.candidate.exact and not t.error and not t.tensors_ok:
            t.status, t.why = "rejected", "outputs beyond the fp32 tolerance"
    if not fine:
        raise VitdetError(
            f"no exact candidate reproduced the reference on stage {trials[0].stage}",
            hint="see the table; the reference itself must load (onnxruntime)",
            code="tune_failed",
        )
    best = min(fine, key=lambda t: t.median_ms)
    for t in fine:
        t.status = "chosen" if t is best else "accepted"
        t.why = ""
    return best


def tune_artifacts(
    artifacts: str | Path | Artifacts,
    precision: str = "fp32",
    img: Optional[Path] = None,
    data: Optional[Dataset] = None,
    warmup: int = 1,
    repeat: int = 5,
    threads: int = 0,
    dry_run: bool = False,
    gate: Gate = Gate(),
    on_step: Optional[Step] = None,
    target: str = "cpu",
    npu: NpuOptions = NpuOptions(),
) -> TuneReport:
    """Tune the folder's stages (see the module doc). ``data``, a resolved dataset with an
    annotation file (``data.resolve``), is required for ``precision="auto"`` to admit any
    lower-precision stage. ``target`` ``npu`` tunes OMs (``npu``: device, runner, atc, SoC)."""
    _one_of("target", target, TARGETS, "cpu: the host's runtimes; npu: Ascend OMs per atc "
            "precision mode")  # fmt: skip
    _one_of("precision", precision, PRECISION_MODES,
            "fp32: exact candidates only; auto: lower precision where the gate passes")  # fmt: skip
    step = on_step or (lambda _m: None)
    art = Artifacts.of(artifacts)
    art.require(STAGES)
    found, notes = candidates(precision) if target == "cpu" else (om_candidates(precision), [])
    if not backend_class(REFERENCE[0]).available()[0]:  # the reference only, whatever target
        raise VitdetError(
            "the tuning reference (onnxruntime fp32) is not usable here",
            hint="install onnxruntime",
            code="backend_unavailable",
        )
    image, source = sample_for(art, img)
    report = TuneReport(art.root, precision, found, notes, source, warmup, repeat, dry_run, target)
    with tempfile.TemporaryDirectory(prefix="vitdet-tune-") as scratch:
        if target == "npu":
            report.om = plan_om(art, found, Path(scratch) / "om", npu, dry_run)
            report.om_options = npu.backend()
        if dry_run:
            return report
        step("recording the reference's stage tensors")
        recorded = record_reference(art, image, threads)
        for stage in STAGES:
            failed, ready = [], []
            for cand in found:
                error = _prepare_files(art, stage, cand, Path(scratch), report)
                if error:
                    failed.append(Trial(stage, cand, error=error, status="failed", why=error))
                else:
                    ready.append(cand)
            rounds = max(1, repeat)
            step(f"{stage}: {', '.join(c.label for c in ready)} in {rounds} interleaved rounds")
            files = {c: report.files.get((stage, c), {}) for c in ready}
            om = report.om_options
            trials = measure_candidates(
                art, stage, ready, recorded, warmup, repeat, threads, files, om
            )
            trials = sorted(trials + failed, key=lambda t: found.index(t.candidate))
            report.trials += trials
            report.choices[stage] = choose_exact(trials)
        confirm_pipeline(art, report, image, warmup, repeat, threads, step)
        lowered = [t for t in report.trials if not t.candidate.exact and not t.error]
        if precision == "auto":
            _admit_lowered(art, report, lowered, data, gate, threads, step)
        else:
            for t in lowered:
                t.status, t.why = "rejected", "not exact (--precision fp32)"
        report.tuning_file = write_result(art, report)
    return report


def _one_of(option: str, value: str, allowed, hint: str) -> None:
    """A usage error (``bad_<option>``, exit 2) unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise VitdetError(
            f"--{option} {value!r} is not one of {', '.join(allowed)}",
            hint=hint,
            code=f"bad_{option}",
            exit_code=2,
        )


def _is_int8(cand: Candidate) -> bool:
    return cand.precision == "int8"


def _prepare_files(art, stage, cand: Candidate, scratch: Path, report: TuneReport) -> str:
    """Make the files ``cand`` runs on ``stage`` (int8 graphs, OMs) into ``report.files``;
    "" when ready (or none needed), else why the candidate cannot run (a failed row)."""
    if cand.backend == "om":
        files = om_files(art, report.om, stage, cand)
        if files:
            report.files[stage, cand] = files
        return "" if files else f"atc: {report.om.sets[stage, cand].error}"
    if not _is_int8(cand):
        return ""
    if stage not in report.int8_errors and (stage, cand) not in report.files:
        try:
            report.files[stage, cand] = quantize_stage(art, stage, scratch)
        except Exception as exc:  # noqa: BLE001 - a graph it cannot quantize: a failed row
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            report.int8_errors[stage] = f"quantization failed: {type(exc).__name__}: {first}"
    return report.int8_errors.get(stage, "")


def _ok(report: TuneReport, stage: str, cand: Candidate) -> Optional[Trial]:
    """The trial of ``cand`` on ``stage`` when its outputs were within the tolerance."""
    return next(
        (t for t in report.trials if t.stage == stage and t.candidate == cand and t.tensors_ok),
        None,
    )


def confirm_pipeline(art, report, image, warmup, repeat, threads, step) -> None:
    """Step 3 of the module doc: when the per-stage choices mix runtimes, time the mix against
    each runtime alone in interleaved rounds; a single runtime replaces the mix only when its
    median is at least :data:`CONFIRM_MARGIN` faster (the per-stage timings favour the mix)."""
    mix = {s: (t.candidate.backend, t.candidate.precision) for s, t in report.choices.items()}
    runtimes = [
        c.backend
        for c in report.candidates
        if c.exact and all(_ok(report, s, c) for s in STAGES)  # exact on every stage
    ]
    if len({b for b, _ in mix.values()}) < 2:
        return
    configs = {"tuned": mix, **{r: {s: (r, "fp32") for s in STAGES} for r in runtimes}}
    step(f"whole pipeline: {', '.join(configs)} in {max(1, repeat)} interleaved rounds")
    files = {name: report.files_of(choices) for name, choices in configs.items()}
    runs = time_pipelines(art, configs, image, warmup, repeat, threads, files, report.om_options)
    for name, ms in runs.items():
        runs_ms = [round(v, 1) for v in ms]
        report.pipelines.append(
            {"pipeline": name, "median_ms": float(np.median(ms)), "runs_ms": runs_ms}
        )
    tuned = report.pipelines[0]["median_ms"]
    best = min(report.pipelines[1:], key=lambda p: p["median_ms"], default=None)
    if best is None or best["median_ms"] > (1 - CONFIRM_MARGIN) * tuned:
        return
    for stage, old in report.choices.items():
        new = _ok(report, stage, Candidate(best["pipeline"]))
        if new is not old:
            old.status, old.why = "accepted", f"whole pipeline faster on {best['pipeline']} alone"
            new.status, new.why = "chosen", ""
            report.choices[stage] = new


def _admit_lowered(art, report, lowered, data, gate, threads, step) -> None:
    """Step 3 of the module doc; marks each lowered trial and fills ``report.gate``."""
    exact_ms = {s: t.median_ms for s, t in report.choices.items()}
    faster = [t for t in lowered if t.median_ms < exact_ms[t.stage]]
    for t in lowered:
        if t not in faster:
            t.status, t.why = "rejected", "not faster than the exact choice"
    if not faster:
        return
    if data is None:
        for t in faster:
            t.status, t.why = "rejected", "not judged: no dataset for the gate (--data)"
        report.gate = {"gate": gate.to_dict(), "judged": False, "why": "no dataset"}
        return

    ann, images = data.ann_file, list(data.images)
    choices = {s: (t.candidate.backend, t.candidate.precision) for s, t in report.choices.items()}
    step(f"gate: the exact pipeline on {len(images)} images")
    om = report.om_options
    exact = run_config(art, choices, ann, images, threads, files=report.files_of(choices), om=om)
    runs = []
    faster.sort(key=lambda t: t.median_ms - exact_ms[t.stage])  # largest saving first
    for t in faster:
        admitted = report.choices[t.stage]
        if not admitted.candidate.exact:  # a faster one of this stage passed already
            t.status, t.why = "rejected", f"slower than the admitted {admitted.candidate.label}"
            continue
        trial = {**choices, t.stage: (t.candidate.backend, t.candidate.precision)}
        step(f"gate: {t.stage} on {t.candidate.label}")
        files = report.files_of(trial)
        run = run_config(art, trial, ann, images, threads, files=files, om=om)
        verdict = judge(run, exact, gate)
        runs.append({"stage": t.stage, "candidate": t.candidate.label, **verdict})
        if verdict["passed"]:
            choices = trial
            report.choices[t.stage].status = "accepted"
            t.status, t.why = "chosen", "passed the gate"
            report.choices[t.stage] = t
        else:
            t.status, t.why = "rejected", "gate: " + "; ".join(verdict["failures"])
    report.gate = {
        "gate": gate.to_dict(),
        "judged": True,
        "data": str(ann),
        "images": len(images),
        "exact_map": {k: exact.map_of(k) for k in ("bbox", "segm")},
        "runs": runs,
        "note": "judged against the exact tuned pipeline; meaningful on trained weights only",
    }


def machine() -> dict:
    """What the timings were measured on."""
    info = {"cpu_count": os.cpu_count(), "machine": platform.machine()}
    for name in ("onnxruntime", "openvino"):
        try:
            info[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001 - absent runtime: nothing to record
            pass
    return info


def write_result(art: Artifacts, report: TuneReport) -> Path:
    """``tune/tuning.json`` and the chosen int8 graphs and OM sets (the old ``tune/`` removed
    first; the JSON written atomically), then the manifest."""
    shutil.rmtree(art.root / TUNE, ignore_errors=True)  # nothing unsealed stays to be blessed
    stages = {}
    for s, t in report.choices.items():
        files = {}
        if t.candidate.backend == "om":
            files = seal_om(art, report.om.sets[s, t.candidate])
        elif _is_int8(t.candidate):
            for graph, scratch in report.files[s, t.candidate].items():
                files[graph] = sealed_rel(s, graph)
                (art.root / files[graph]).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(scratch, art.root / files[graph])
        stages[s] = StageChoice(
            t.candidate.backend,
            t.candidate.precision,
            {g: art.graph(s, g).sha256 for g in STAGE_GRAPHS[s]},
            round(t.median_ms, 3),
            files,
            atc_mode(t.candidate),
        )
    info = machine()
    if report.om is not None:
        info.update(soc_version=report.om.soc.value, atc_version=report.om.atc_version)
    tuning = Tuning(
        stages,
        report.precision,
        report.gate,
        info,
        datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    path = write_tuning(art.root / TUNING, tuning)
    write_manifest(art.root, art.checkpoint, art.manifest.versions, art.manifest, [TUNE])
    return path
