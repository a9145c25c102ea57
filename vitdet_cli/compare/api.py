"""``vitdet compare`` / ``infer --compare`` as a library: a deployed backend against PyTorch.

The reference is by default the trained model as MMDetection runs it (``mmdet``:
:mod:`~vitdet_cli.compare.reference`), so a host step that loses detections on the deployed
side shows; ``--reference torch`` (or another backend) compares with staged graphs instead,
which share our host code. Three levels of evidence, coarse to fine:
- tensors: every stage graph of the staged torch backend (or the staged reference) is fed the
  *same* inputs the backend under test received, output by output (max abs, max rel, cosine);
- detections: per image, one-to-one matching per label (matched / only-in-A / only-in-B, IoU,
  score and mask-IoU differences), the policy counts for both sides and the source document's
  ``compare_with_pytorch`` block;
- accuracy: over a COCO-format dataset, bbox/segm mAP of both sides and the difference.
The tolerances follow the deployed precision (:mod:`~vitdet_cli.compare.gates`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.atomic import write_json_atomic
from vitdet_cli.compare.detections import compare_report
from vitdet_cli.compare.document_block import DISABLED, compare_with_pytorch
from vitdet_cli.compare.gates import FP32, GateSet, gates_for
from vitdet_cli.compare.reference import MmdetReference, reference_device, run_reference
from vitdet_cli.compare.tensors import TensorParity, scaled_parity
from vitdet_cli.evaluation.coco import class_warnings, coco_metrics
from vitdet_cli.io_checks import prepare_out_dir
from vitdet_cli.report.pictures import side_by_side
from vitdet_cli.report.tables import (
    detection_parity_table,
    policy_table,
    tensor_parity_table,
)
from vitdet_cli.runtime.backends import get_backend
from vitdet_cli.runtime.backends.tuned import AUTO, open_backend
from vitdet_cli.runtime.detections import Detections
from vitdet_cli.runtime.infer import (
    InferRun,
    PictureWriter,
    discard_on_error,
    draw_result,
    run_images,
)
from vitdet_cli.runtime.staged import Recorded, StagedModel

PICTURES = 8
"""Side-by-side pictures drawn (the first images)."""
TENSOR_ATOL = FP32.tensor_atol
"""Absolute tolerance per output, scaled by max(1, max |reference|) (fp32 graphs)."""
REFERENCE = "mmdet"
"""The default reference: the trained model as MMDetection runs it."""
PYTORCH_REFERENCES = (REFERENCE, "torch")
"""References that are PyTorch (they take ``device``; the document's block is filled)."""
SUM_KEYS = ("n_a", "n_b", "matched", "only_a", "only_b", "ref_considered", "ref_matched_strict")


@dataclass
class CompareReport:
    """Everything ``compare`` found; ``to_dict`` is the JSON report.

    ``names`` are (backend under test, reference); ``tensor_reference`` the staged backend the
    stage tensors were compared with; ``gates`` the tolerances applied (see
    :mod:`~vitdet_cli.compare.gates`).
    """

    names: tuple[str, str]
    tensors: list[tuple[str, TensorParity]] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    coco: Optional[dict] = None
    pictures: list[Path] = field(default_factory=list)
    report_file: Optional[Path] = None
    gates: GateSet = FP32
    tensor_reference: Optional[str] = None
    reference: dict = field(default_factory=dict)

    def checks(self) -> dict[str, bool]:
        """Each kind of evidence present and whether it is within the gates."""
        out = {}
        if self.tensors:
            out["tensors"] = all(t.within_tol for _, t in self.tensors)
        out["detections"] = bool(self.summary.get("passed", True))
        if self.coco is not None:
            out["map"] = bool(self.coco.get("passed", True))
        return out

    @property
    def decided_by(self) -> list[str]:
        """The checks that give the verdict: the mAP alone when the gate set says so."""
        checks = self.checks()
        return ["map"] if "map" in checks and self.gates.map_decides else list(checks)

    @property
    def passed(self) -> bool:
        checks = self.checks()
        return all(checks[k] for k in self.decided_by)

    @property
    def advisories(self) -> list[str]:
        """Checks outside their gates that do not decide (reported, not failed)."""
        return [k for k, ok in self.checks().items() if not ok and k not in self.decided_by]

    def to_dict(self) -> dict:
        checks = self.checks()
        first = self.images[0].get("compare_with_pytorch") if self.images else None
        return {
            "names": {"a": self.names[0], "b": self.names[1]},
            "passed": self.passed,
            "reference": self.reference,
            "gates": {
                **self.gates.to_dict(),
                "checks": checks,
                "decided_by": self.decided_by,
                "advisories": self.advisories,
            },
            "compare_with_pytorch": first if first is not None else dict(DISABLED),
            "tensor_reference": self.tensor_reference,
            "tensors": [{"graph": g, **t.to_dict()} for g, t in self.tensors],
            "detections": self.summary,
            "images": self.images,
            "coco": self.coco,
            "pictures": [str(p) for p in self.pictures],
        }

    def render(self, console) -> None:
        ref = self.reference
        where = f" on {ref['device']}" if ref.get("device") else ""
        console.print(f"reference: {ref.get('name', self.names[1])}{where}")
        if self.tensors:
            rows = [t for _, t in self.tensors]
            for (graph, _), row in zip(self.tensors, rows):
                row.name = f"{graph}:{row.name}" if ":" not in row.name else row.name
            title = f"Stage tensors: {self.names[0]} vs {self.tensor_reference}"
            console.print(tensor_parity_table(rows, title))
        if self.images:
            first = self.images[0]
            console.print(policy_table(first["a"], first["b"]))
        console.print(detection_parity_table(self.summary, "Detection parity (all images)"))
        if self.coco:
            console.print(coco_delta_text(self.coco))
        advisory = self.advisories
        console.print(
            f"gates: {self.gates.name} ({self.gates.reason}); decided by "
            + ", ".join(self.decided_by)
            + (f"; outside the gates but not deciding: {', '.join(advisory)}" if advisory else "")
        )
        verdict = "[green]PASSED[/green]" if self.passed else "[red]FAILED[/red]"
        console.print(
            f"parity {verdict}" + (f" — report: {self.report_file}" if self.report_file else "")
        )


def coco_delta_text(coco: dict) -> str:
    """One line per task: mAP of A, of B, and A − B in points."""
    lines = []
    for task in ("bbox", "segm"):
        a, b = coco["a"].get(task, {}).get("mAP"), coco["b"].get(task, {}).get("mAP")
        if a is not None and b is not None:
            lines.append(f"{task} mAP: {a:.4f} vs {b:.4f} (Δ {100 * (a - b):+.3f} points)")
    return "\n".join(lines)


def stage_tensor_parity(
    recorded: Recorded, reference: StagedModel, atol: float = TENSOR_ATOL
) -> list[tuple[str, TensorParity]]:
    """Run the reference's graphs on exactly the inputs the other backend recorded; each
    output within ``atol * max(1, max |reference|)``."""
    rows = []
    for (stage, graph), (feeds, outputs) in recorded.items():
        session = reference.sessions[stage, graph]
        ref = session.run(feeds)
        for spec, a, b in zip(session.meta.outputs, outputs, ref):
            rows.append((f"{stage}/{graph}", scaled_parity(a, b, spec.name, atol)))
    return rows


def aggregate_parity(per_image: Sequence[dict]) -> dict:
    """Pool per-image ``detection_parity`` dicts into one verdict over all images."""
    if not per_image:
        return {"images": 0, "passed": True}
    first = per_image[0]
    total = {k: int(sum(p.get(k) or 0 for p in per_image)) for k in SUM_KEYS}
    considered = total["ref_considered"]
    frac = total["ref_matched_strict"] / considered if considered else 1.0
    diffs = [
        p["max_score_diff_strict"] for p in per_image if p.get("max_score_diff_strict") is not None
    ]
    ious = [
        (p.get("mean_iou"), p.get("matched") or 0)
        for p in per_image
        if p.get("mean_iou") is not None
    ]
    mask = [p.get("mask_iou_mean") for p in per_image if p.get("mask_iou_mean") is not None]
    crit = first["criteria"]
    max_diff = max(diffs) if diffs else None
    failures = []
    if frac < crit["min_frac_matched"]:
        failures.append(
            f"{frac:.2%} of reference detections (score >= {first['min_score']}) matched at "
            f"IoU >= {first['strict_iou']} (need {crit['min_frac_matched']:.0%})"
        )
    if max_diff is not None and max_diff > crit["max_score_diff"]:
        failures.append(f"max score difference {max_diff:.3g} > {crit['max_score_diff']:.3g}")
    weight = sum(n for _, n in ious)
    return {
        "images": len(per_image),
        **total,
        "mean_iou": sum(v * n for v, n in ious) / weight if weight else None,
        "min_iou": min(
            (p["min_iou"] for p in per_image if p.get("min_iou") is not None), default=None
        ),
        "mask_iou_mean": float(np.mean(mask)) if mask else None,
        "mask_iou_min": min(
            (p["mask_iou_min"] for p in per_image if p.get("mask_iou_min") is not None),
            default=None,
        ),
        "iou_thr": first["iou_thr"],
        "frac_ref_matched_strict": frac,
        "max_score_diff_strict": max_diff,
        "strict_iou": first["strict_iou"],
        "min_score": first["min_score"],
        "criteria": crit,
        "passed": not failures,
        "failures": failures,
    }


def coco_delta(
    ann_file: Path,
    images: Sequence[Path],
    res_a: Sequence[Detections],
    res_b: Sequence[Detections],
    max_points: float = 0.1,
) -> dict:
    """mAP of both sides over the same images and whether they agree within ``max_points``."""
    a, b = coco_metrics(ann_file, images, res_a), coco_metrics(ann_file, images, res_b)
    delta = {}
    for task in ("bbox", "segm"):
        va, vb = a[task]["mAP"], b[task]["mAP"]
        delta[task] = None if va is None or vb is None else 100 * (va - vb)
    passed = all(d is None or abs(d) <= max_points for d in delta.values())
    return {"a": a, "b": b, "delta_points": delta, "max_points": max_points, "passed": passed}


def compare_runs(
    artifacts: str | Path | Artifacts,
    run_a: InferRun,
    out: Optional[str | Path] = None,
    score_thr: Optional[float] = 0.05,
    dedup: str = "none",
    reference: str = REFERENCE,
    reference_options: Optional[dict] = None,
    ann_file: Optional[Path] = None,
    on_image: Optional[Callable[[int, Path], None]] = None,
) -> CompareReport:
    """Run ``run_a``'s images through the reference and compare (see module doc).

    ``reference`` is ``mmdet`` (the trained model as MMDetection runs it; the staged torch
    graphs give the per-tensor diffs) or a stage backend name (its stages with the same host
    code). ``reference_options``: ``device`` (cpu | npu | cuda, for mmdet and torch),
    ``checkpoint`` (the exported one at another path), else the backend's options.
    ``run_a`` must have been recorded (``record=True``) for the tensor comparison.
    """
    artifacts = Artifacts.of(artifacts)
    gates = gates_for(artifacts, run_a.backend)
    options = dict(reference_options or {})
    device = None
    if reference in PYTORCH_REFERENCES:
        device = options["device"] = reference_device(options.get("device", "cpu"))
    report = CompareReport((run_a.backend, reference), gates=gates)
    report.tensor_reference = "torch" if reference == REFERENCE else reference
    report.reference = {
        "name": reference,
        "device": device,
        "checkpoint": {**artifacts.checkpoint, **_path(options.get("checkpoint"))},
    }
    pictures = None
    if out is not None:
        pictures = PictureWriter(Path(out) / "compare", run_a.images[:PICTURES])
        pictures.draw = _side_by_side(run_a, report.names)
    ref_model = StagedModel(artifacts, get_backend(report.tensor_reference, **options))
    with ref_model, discard_on_error(pictures):
        if reference == REFERENCE:
            mmdet = MmdetReference(artifacts, ref_model.backend, device)
            res_b = run_reference(mmdet, run_a.images, score_thr, dedup, on_image, pictures)
        else:
            res_b = run_images(
                ref_model, run_a.images, score_thr, dedup, 0, 1, on_image=on_image,
                on_result=pictures,
            ).results  # fmt: skip
        if run_a.tensors:
            report.tensors = stage_tensor_parity(run_a.tensors, ref_model, gates.tensor_atol)
    _judge_images(report, run_a, res_b, score_thr, dedup, device)
    if ann_file is not None:
        report.coco = coco_delta(ann_file, run_a.images, run_a.results, res_b, gates.map_max_points)
    if pictures is not None:
        report.pictures = list(pictures.saved)
        report.report_file = write_json_atomic(
            Path(out) / "compare.json", report.to_dict(), indent=2
        )
        pictures.raise_failure(report.report_file)
    return report


def _path(checkpoint) -> dict:
    return {"path": str(checkpoint)} if checkpoint else {}


def _judge_images(
    report: CompareReport,
    run_a: InferRun,
    res_b: Sequence[Detections],
    score_thr: Optional[float],
    dedup: str,
    device: Optional[str],
) -> None:
    """Per image: our block and the document's (with a PyTorch ``device``); then the summary."""
    per_image = []
    for path, det_a, det_b in zip(run_a.images, run_a.results, res_b):
        block = compare_report(
            det_a,
            det_b,
            names=report.names,
            class_names=run_a.class_names,
            dedup_policy=dedup,
            score_thr=score_thr,
            **report.gates.parity_kw(score_thr),
        )
        document = dict(DISABLED)
        if device is not None:
            document = compare_with_pytorch(det_a, det_b, run_a.backend, device, dedup, score_thr)
        report.images.append({"file": path.name, "compare_with_pytorch": document, **block})
        per_image.append(block["parity"])
    report.summary = aggregate_parity(per_image)


def _side_by_side(run_a: InferRun, names: tuple[str, str]):
    """Draws image ``i`` with ``run_a``'s detections beside the reference's."""

    def draw(i: int, image, res_b: Detections):
        a, b = (draw_result(image, r, run_a.class_names) for r in (run_a.results[i], res_b))
        return side_by_side(a, b, titles=names)

    return draw


def compare(
    artifacts: str | Path | Artifacts,
    images: Sequence[Path],
    backend_a: str = AUTO,
    backend_b: str = REFERENCE,
    out: Optional[str | Path] = None,
    score_thr: Optional[float] = 0.05,
    dedup: str = "none",
    ann_file: Optional[Path] = None,
    options_a: Optional[dict] = None,
    options_b: Optional[dict] = None,
    on_image: Optional[Callable[[int, Path], None]] = None,
) -> CompareReport:
    """Run ``images`` on ``backend_a`` (``auto``: what infer runs by default, the tuned pipeline
    when the folder has one) and on the reference, and compare them; with ``ann_file``, the
    model's classes must be the file's categories (as for ``eval``). The output folder is
    checked before the artifacts are opened (and verified, once for both sides)."""
    if out is not None:
        prepare_out_dir(out)
    artifacts = Artifacts.of(artifacts)
    model = StagedModel(artifacts, open_backend(artifacts, backend_a, options_a))
    with model:
        if ann_file is not None:
            class_warnings(ann_file, model.class_names)
        run_a = run_images(model, images, score_thr, dedup, 0, 1, record=True, on_image=on_image)
    return compare_runs(
        artifacts, run_a, out, score_thr, dedup, backend_b, options_b, ann_file, on_image
    )
