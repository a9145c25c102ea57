"""Smoke tests of mmcv's compiled ops (``nms``, ``RoIAlign``) on a device.

Each test has an answer known in advance, so the CPU result is checked against it and every
accelerator result against the CPU one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class OpResult:
    op: str
    device: str
    ok: bool
    detail: str


def import_ext() -> Optional[str]:
    """Import ``mmcv._ext``; return an error text or None."""
    try:
        import mmcv._ext  # noqa: F401
    except Exception as err:
        return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    return None


def _nms_case():
    import torch

    boxes = torch.tensor(
        [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9.5], [21, 21, 29, 29]],
        dtype=torch.float32,
    )
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95, 0.6], dtype=torch.float32)
    # IoU(3,0)=0.95 and IoU(1,3)~0.66 > 0.5, IoU(4,2)=0.64 > 0.5 → keep 3 and 2.
    return boxes, scores, [3, 2]


def _roi_align_case():
    import torch

    # feature(y, x) = x: with aligned=True a bin centre at x has the value x - 0.5.
    feat = torch.arange(16, dtype=torch.float32).repeat(16, 1)[None, None]
    rois = torch.tensor([[0, 2.0, 2.0, 10.0, 6.0]], dtype=torch.float32)
    out_w = 4
    bin_w = (10.0 - 2.0) / out_w
    expected_row = torch.tensor([2.0 + bin_w * (i + 0.5) - 0.5 for i in range(out_w)])
    return feat, rois, expected_row


def run_nms(device: str):
    from mmcv.ops import nms

    boxes, scores, _ = _nms_case()
    _, keep = nms(boxes.to(device), scores.to(device), iou_threshold=0.5)
    return keep.cpu().tolist()


def run_roi_align(device: str):
    from mmcv.ops import RoIAlign

    feat, rois, _ = _roi_align_case()
    op = RoIAlign((2, 4), spatial_scale=1.0, sampling_ratio=2, aligned=True)
    return op(feat.to(device), rois.to(device)).cpu()


def smoke_test(device: str = "cpu") -> list[OpResult]:
    """Run both ops on ``device`` and check them (CPU: against the known answer)."""
    results = []
    _, _, expected_keep = _nms_case()
    try:
        keep = run_nms(device)
        ref = expected_keep if device == "cpu" else run_nms("cpu")
        ok = keep == ref
        results.append(
            OpResult("nms", device, ok, f"keep={keep}" + ("" if ok else f", expected {ref}"))
        )
    except Exception as err:
        results.append(OpResult("nms", device, False, _short(err)))
    _, _, expected_row = _roi_align_case()
    try:
        out = run_roi_align(device)
        ref = expected_row.expand(2, -1) if device == "cpu" else run_roi_align("cpu")[0, 0]
        diff = float((out[0, 0] - ref).abs().max())
        ok = out.shape == (1, 1, 2, 4) and diff < 1e-4
        results.append(OpResult("roi_align", device, ok, f"max abs diff {diff:.2e}"))
    except Exception as err:
        results.append(OpResult("roi_align", device, False, _short(err)))
    return results


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:200]
