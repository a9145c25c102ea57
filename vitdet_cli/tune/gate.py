"""The accuracy gate a lower-precision stage must pass: the whole pipeline on a dataset.

A lowered configuration is judged against the exact (fp32) tuned pipeline on the same images:
at least :attr:`Gate.min_frac_matched` of the exact pipeline's detections (score ≥
:attr:`Gate.min_score`, one-to-one within each label) matched at box IoU ≥ :attr:`Gate.iou`,
and bbox and segm mAP within :attr:`Gate.map_max_points` of the exact pipeline's. Only
meaningful on trained weights: random weights give detections that say nothing of accuracy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.compare.detections import match_detections
from vitdet_cli.evaluation.coco import coco_metrics
from vitdet_cli.runtime.backends.tuned import TunedBackend
from vitdet_cli.runtime.detections import Detections
from vitdet_cli.runtime.infer import run_images
from vitdet_cli.runtime.staged import StagedModel


@dataclass(frozen=True)
class Gate:
    """The thresholds (see the module doc)."""

    iou: float = 0.9
    min_frac_matched: float = 0.99
    min_score: float = 0.05  # the box head's test threshold: every detection it reports
    map_max_points: float = 0.3

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PipelineRun:
    """One configuration over the gate's images: detections per image and COCO mAP."""

    choices: dict[str, tuple[str, str]]
    dets: list[Detections]
    coco: dict

    def map_of(self, task: str) -> Optional[float]:
        return self.coco.get(task, {}).get("mAP")


def run_config(
    artifacts: Artifacts,
    choices: Mapping[str, tuple[str, str]],
    ann_file: Path,
    images: Sequence[Path],
    threads: int = 0,
    on_image: Optional[Callable[[int, Path], None]] = None,
    files: Optional[Mapping[str, Mapping[str, Path]]] = None,
    om: Optional[Mapping[str, Any]] = None,
) -> PipelineRun:
    """The pipeline with each stage on its (backend, precision) over ``images`` (``files``:
    stage → graph → another file to run, ``om``: the om backend's options, as
    :class:`TunedBackend` takes them)."""
    with StagedModel(artifacts, TunedBackend(choices, threads, files, om)) as model:
        run = run_images(model, images, None, "none", 0, 1, on_image=on_image)
    return PipelineRun(dict(choices), run.results, coco_metrics(ann_file, images, run.results))


def judge(trial: PipelineRun, exact: PipelineRun, gate: Gate) -> dict:
    """The gate's verdict for ``trial`` against ``exact``: matched fraction, mAP deltas."""
    hits = judged = 0
    for a, b in zip(trial.dets, exact.dets):
        hit, considered = match_detections(a, b).counts_matched_at(gate.iou, gate.min_score)
        hits += hit
        judged += considered
    frac = hits / judged if judged else 1.0
    deltas = {}
    for task in ("bbox", "segm"):
        va, vb = trial.map_of(task), exact.map_of(task)
        deltas[task] = None if va is None or vb is None else 100 * (va - vb)
    failures = []
    if frac < gate.min_frac_matched:
        failures.append(
            f"{100 * frac:.1f}% of {judged} detections matched at IoU ≥ {gate.iou} "
            f"(need {100 * gate.min_frac_matched:.0f}%)"
        )
    for task, d in deltas.items():
        if d is not None and abs(d) > gate.map_max_points:
            failures.append(f"{task} mAP {d:+.2f} points (limit ±{gate.map_max_points})")
    return {
        "choices": {s: f"{b} {p}" for s, (b, p) in trial.choices.items()},
        "matched_frac": frac,
        "judged": judged,
        "map": {t: trial.map_of(t) for t in ("bbox", "segm")},
        "map_delta_points": deltas,
        "passed": not failures,
        "failures": failures,
    }
