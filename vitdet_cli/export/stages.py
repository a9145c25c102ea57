"""The three stage graphs cut out of an mmdet Mask R-CNN, as exportable modules.

- ``backbone``: image (1, 3, S, S) → ``p2..p6`` (ViT + SimpleFPN);
- ``rpn``: ``p2..p6`` → ``rpn_cls_0..4`` (1, A, H, W), ``rpn_reg_0..4`` (1, 4A, H, W);
- ``roi``: ``bbox`` graph ``p2..p5`` + ``rois`` (R, 5) → ``cls_score``, ``bbox_pred``; ``mask``
  graph ``p2..p5`` + ``rois`` (K, 5) → ``mask_pred`` (K, C, 28, 28).

Anchors, decoding, NMS and mask pasting stay on the host (numpy). The RoI graphs map each RoI
to its pyramid level inside the graph (every level pools every RoI, those of other levels as a
one-pixel box that costs almost nothing, then a mask selects — static shapes, as mmdet's own
ONNX path does) and pool with ONNX ``RoiAlign``. In eager mode the same modules pool with
mmcv's ``roi_align``, i.e. exactly what the trained model does.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

LEVELS = ("p2", "p3", "p4", "p5", "p6")
ROI_LEVELS = LEVELS[:4]


class _RoiAlign(torch.autograd.Function):
    """mmcv ``roi_align`` (avg, aligned=True) that exports as ONNX ``RoiAlign``.

    Before opset 16 ONNX ``RoiAlign`` has only the legacy (not half-pixel) coordinates; the
    symbolic shifts the boxes by half a feature pixel, which equals aligned=True except for
    RoIs narrower than one feature pixel (ONNX then clamps their size to 1).
    """

    @staticmethod
    def forward(ctx, feat: Tensor, rois: Tensor, out: int, scale: float, ratio: int) -> Tensor:
        from mmcv.ops import roi_align

        return roi_align(feat, rois, (out, out), scale, ratio, "avg", True)

    @staticmethod
    def symbolic(g, feat, rois, out: int, scale: float, ratio: int):
        from torch.onnx import symbolic_helper

        opset = symbolic_helper.GLOBALS.export_onnx_opset_version

        def const(values, dtype=torch.int64):
            return g.op("Constant", value_t=torch.tensor(values, dtype=dtype))

        idx = g.op("Gather", rois, const(0), axis_i=1)
        idx = g.op("Cast", idx, to_i=7)  # INT64
        boxes = g.op("Slice", rois, const([1]), const([5]), const([1]))
        extra = {}
        if opset >= 16:
            extra["coordinate_transformation_mode_s"] = "half_pixel"
        else:
            boxes = g.op("Sub", boxes, const([0.5 / scale], torch.float32))
        return g.op(
            "RoiAlign",
            feat,
            boxes,
            idx,
            mode_s="avg",
            output_height_i=out,
            output_width_i=out,
            sampling_ratio_i=ratio,
            spatial_scale_f=scale,
            **extra,
        )


class RoiFeatures(nn.Module):
    """Static-shape equivalent of mmdet's ``SingleRoIExtractor`` with ``RoIAlign`` layers."""

    def __init__(self, extractor: nn.Module) -> None:
        super().__init__()
        layer = extractor.roi_layers[0]
        self.out = int(layer.output_size[0])
        self.ratio = int(layer.sampling_ratio)
        self.strides = [int(s) for s in extractor.featmap_strides]
        self.finest_scale = float(extractor.finest_scale)

    def levels(self, rois: Tensor) -> Tensor:
        """mmdet's ``map_roi_levels``: floor(log2(sqrt(area) / finest_scale)), clamped."""
        w = rois[:, 3] - rois[:, 1]
        h = rois[:, 4] - rois[:, 2]
        scale = torch.sqrt(w * h)
        lvl = torch.floor(torch.log2(scale / self.finest_scale + 1e-6))
        return lvl.clamp(min=0, max=len(self.strides) - 1)

    def forward(self, feats: Sequence[Tensor], rois: Tensor) -> Tensor:
        """Pool every RoI on every level, keep each RoI's own level. On a level not its own a
        RoI's box is shrunk to one feature pixel at (0, 0) first: its pooled values are zeroed
        either way, but adaptive sampling (ratio 0) takes about (box side / stride / out)²
        samples per bin, so a large RoI pooled on p2 cost far more than on its own level. ViT-B
        at 1024, bbox graph on ONNX Runtime, 2 busy cores: 1000 RoIs of 8–300 px sides 3.8 →
        2.5 s (RoiAlign had been 1.7 s of it); the random-weight benchmark's proposals (96% on
        p2 already) 1.59 → 1.44 s. One pixel, not a point: a zero-size box makes adaptive
        sampling 0/0, which OpenVINO's RoiAlign returns as NaN (and NaN × 0 stays NaN). The
        kept RoIs' boxes are unchanged (× 1 + 0), so the result is bit for bit the same."""
        lvl = self.levels(rois)
        out = None
        for i, (feat, stride) in enumerate(zip(feats, self.strides)):
            keep = (lvl == i).to(rois.dtype).view(-1, 1)
            pixel = rois.new_tensor([[0.0, 0.0, stride, stride]])
            own = torch.cat([rois[:, :1], rois[:, 1:] * keep + pixel * (1 - keep)], dim=1)
            pooled = _RoiAlign.apply(feat, own, self.out, 1.0 / stride, self.ratio)
            pooled = pooled * keep.view(-1, 1, 1, 1)
            out = pooled if out is None else out + pooled
        return out


class BackboneGraph(nn.Module):
    """image → the five pyramid levels."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.detector.extract_feat(image))


class RpnGraph(nn.Module):
    """pyramid levels → per-level objectness logits, then per-level box deltas."""

    def __init__(self, rpn_head: nn.Module) -> None:
        super().__init__()
        self.rpn_head = rpn_head

    def forward(self, *feats: Tensor) -> tuple[Tensor, ...]:
        cls, reg = self.rpn_head(list(feats))
        return (*cls, *reg)


class RoiBboxGraph(nn.Module):
    """p2..p5 + RoIs (R, 5) → class logits (R, C+1), class-specific deltas (R, 4C)."""

    def __init__(self, roi_head: nn.Module) -> None:
        super().__init__()
        self.extract = RoiFeatures(roi_head.bbox_roi_extractor)
        self.head = roi_head.bbox_head

    def forward(self, p2: Tensor, p3: Tensor, p4: Tensor, p5: Tensor, rois: Tensor):
        cls_score, bbox_pred = self.head(self.extract((p2, p3, p4, p5), rois))
        return cls_score, bbox_pred


class RoiMaskGraph(nn.Module):
    """p2..p5 + RoIs (K, 5) → mask logits (K, C, M, M)."""

    def __init__(self, roi_head: nn.Module) -> None:
        super().__init__()
        self.extract = RoiFeatures(roi_head.mask_roi_extractor)
        self.head = roi_head.mask_head

    def forward(self, p2: Tensor, p3: Tensor, p4: Tensor, p5: Tensor, rois: Tensor) -> Tensor:
        return self.head(self.extract((p2, p3, p4, p5), rois))


def stage_modules(detector: nn.Module) -> dict[tuple[str, str], nn.Module]:
    """(stage, graph) → exportable module, for an eval-mode mmdet ``MaskRCNN``."""
    return {
        ("backbone", "model"): BackboneGraph(detector).eval(),
        ("rpn", "model"): RpnGraph(detector.rpn_head).eval(),
        ("roi", "bbox"): RoiBboxGraph(detector.roi_head).eval(),
        ("roi", "mask"): RoiMaskGraph(detector.roi_head).eval(),
    }


def output_names(stage: str, graph: str, levels: int = len(LEVELS)) -> list[str]:
    """Output tensor names of a graph."""
    if stage == "backbone":
        return list(LEVELS[:levels])
    if stage == "rpn":
        return [f"rpn_cls_{i}" for i in range(levels)] + [f"rpn_reg_{i}" for i in range(levels)]
    return ["cls_score", "bbox_pred"] if graph == "bbox" else ["mask_pred"]


def input_names(stage: str, graph: str, levels: int = len(LEVELS)) -> list[str]:
    """Input tensor names of a graph."""
    if stage == "backbone":
        return ["image"]
    if stage == "rpn":
        return list(LEVELS[:levels])
    return [*ROI_LEVELS, "rois"]
