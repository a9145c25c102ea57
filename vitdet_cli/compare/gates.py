"""Which tolerances judge a comparison: they follow the precision the deployed graphs run at.

Two gate sets:

- ``fp32`` — ONNX Runtime, torch, and OMs that atc compiled with an fp32-preserving mode
  (``must_keep_origin_dtype``, ``force_fp32``, ``origin``). Deployment and reference compute
  the same fp32 arithmetic in another order, so they agree to ~1e-5: every gate is tight and
  every gate decides (stage tensors, per-detection matching, and with ``--data`` the mAP).
- ``fp16`` — OMs compiled with a mode that may lower fp32 ops (``force_fp16``,
  ``allow_fp32_to_fp16``, ``allow_mix_precision``, ``fp16``, ``mixed_float16``, …, also with
  ``--keep-fp32``). fp16 keeps 11 significant bits (one rounding step is 4.9e-4 of the value);
  through 12 transformer blocks of 768-wide dot products the errors reach a few percent of a
  tensor's range, scores move by about 1e-2, boxes by a pixel or two, and detections near a
  threshold (the 0.05 of the box head, ``--score-thr``, NMS) flip in or out. The gates below are
  sized for that, and keep failing what a real bug does (a wrong op, a host step losing boxes:
  whole-range errors, unmatched confident detections). With ``--data`` the mAP difference alone
  decides; the tensor and detection findings are reported as advisories.

The source document's OM run (top score 0.3390 against PyTorch's 0.3466, "basically as
expected"; its atc precision mode is not recorded, the difference is fp16-sized) passes
``fp16`` (0.0076 ≤ 0.02) and fails ``fp32``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.layout import STAGES, TUNING
from vitdet_cli.runtime.backends.tuned import TUNED


@dataclass(frozen=True)
class GateSet:
    """Tolerances of one precision class; ``reason`` says why it was chosen."""

    name: str
    tensor_atol: float
    """Per stage output: ``|a - b| <= tensor_atol * max(1, max |reference|)`` everywhere."""
    strict_iou: float
    """A reference detection counts as reproduced when matched at this box IoU or above."""
    min_score: float
    """Only reference detections scoring at least this are judged."""
    min_frac_matched: float
    """Share of the judged reference detections that must be reproduced."""
    max_score_diff: float
    """Largest score difference of a reproduced detection."""
    map_max_points: float
    """Largest |mAP difference| (bbox and segm) in points (0.1 point = 0.001 mAP)."""
    map_decides: bool
    """With ``--data``, the mAP gate alone gives the verdict."""
    reason: str = ""

    def parity_kw(self, score_thr: Optional[float]) -> dict:
        """:func:`~vitdet_cli.compare.detections.detection_parity` thresholds. A reference
        detection within ``max_score_diff`` above ``score_thr`` may fairly land below it on
        the other side, so judging starts above that margin."""
        floor = (score_thr or 0.0) + self.max_score_diff
        return {
            "strict_iou": self.strict_iou,
            "min_score": round(max(self.min_score, floor), 6),
            "min_frac_matched": self.min_frac_matched,
            "max_score_diff": self.max_score_diff,
        }

    def with_reason(self, reason: str) -> "GateSet":
        return GateSet(**{**asdict(self), "reason": reason})

    def to_dict(self) -> dict:
        return asdict(self)


FP32 = GateSet(
    "fp32",
    tensor_atol=1e-3,
    strict_iou=0.99,
    min_score=0.05,  # the box head's own score threshold: every detection it reports
    min_frac_matched=0.99,
    max_score_diff=1e-3,
    map_max_points=0.1,
    map_decides=False,
)
FP16 = GateSet(
    "fp16",
    tensor_atol=5e-2,  # a few percent of the range (see the module doc); a bug is off by ~all
    strict_iou=0.9,  # a 1-2 px move on a 50 px box keeps IoU above 0.9
    min_score=0.3,  # confident detections: below, fp16 noise flips them (49 vs 50 raw there)
    min_frac_matched=0.9,
    max_score_diff=0.02,  # scores move ~1e-2; the document measured 0.0076
    map_max_points=0.5,
    map_decides=True,
)
GATE_SETS = {g.name: g for g in (FP32, FP16)}


def gates_for(artifacts: Artifacts, backend: str) -> GateSet:
    """The gate set for ``backend`` on ``artifacts``: ``fp16`` when it runs OMs that atc may
    have lowered, or a tuned pipeline with a lowered stage (bf16, int8, an OM of a lowering atc
    mode: the loosest stage decides), else
    ``fp32``."""
    if backend.startswith(TUNED) and artifacts.tuning is not None:
        lowered = {s: c for s, c in artifacts.tuning.stages.items() if not c.exact}
        if lowered:
            which = ", ".join(f"{s}: {c.backend} {c.precision}" for s, c in lowered.items())
            return FP16.with_reason(f"the tuning lowered precision ({which}, {TUNING})")
        return FP32.with_reason(f"the tuned stages run the exported fp32 graphs ({TUNING})")
    if backend != "om":
        return FP32.with_reason(f"{backend} runs the exported fp32 graphs")
    metas = {stage: artifacts.atc_meta(stage) for stage in STAGES}
    modes = {stage: meta.precision_mode for stage, meta in metas.items()}
    lowered = {s: modes[s] for s, meta in metas.items() if not meta.keeps_fp32}
    if not lowered:
        mode = ", ".join(sorted(set(modes.values())))
        return FP32.with_reason(f"atc kept fp32 on every stage ({mode}, atc_meta.json)")
    which = ", ".join(f"{s}: {m}" for s, m in lowered.items())
    return FP16.with_reason(f"atc may have lowered fp32 ops ({which}, atc_meta.json)")
