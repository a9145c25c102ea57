"""Settings of the numpy host steps, kept as plain data so ``export_meta.json`` can carry them.

Defaults are the values of the model we train (``vitdet_cli.model.config_builder``): the test
pipeline (resize longer side to ``img_size``, pad to a square with 114, ImageNet mean/std in
RGB), the RPN anchors and coders, and MMDetection's ``test_cfg``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from vitdet_cli.errors import VitdetError

_TUPLE_FIELDS = {
    "mean",
    "std",
    "strides",
    "anchor_scales",
    "anchor_ratios",
    "rpn_target_means",
    "rpn_target_stds",
    "rcnn_target_means",
    "rcnn_target_stds",
    "roi_strides",
}


@dataclass(frozen=True)
class HostConfig:
    """Everything the host needs besides the stage outputs.

    Args:
        img_size: square network input side ``S`` (resize longer side to S, pad to S×S).
        mean, std: per-channel normalisation in the network's channel order (RGB).
        bgr_to_rgb: flip the BGR image (cv2) to RGB before normalising.
        pad_value: pixel value of the bottom/right padding (before normalisation).
        strides: RPN feature strides, one per level; also the anchor base sizes.
        anchor_scales, anchor_ratios: ``AnchorGenerator`` scales and h/w ratios.
        rpn_target_means, rpn_target_stds: RPN ``DeltaXYWHBBoxCoder`` normalisation.
        rcnn_target_means, rcnn_target_stds: box-head coder normalisation.
        wh_ratio_clip: the coders' limit on exp(dw), |log(wh_ratio_clip)|.
        rpn_nms_pre: top-k anchors per level before NMS.
        rpn_max_per_img: proposals kept after NMS.
        rpn_iou_thr: RPN NMS IoU threshold (levels are suppressed independently).
        rpn_min_bbox_size: proposals need width and height strictly above this.
        rcnn_score_thr, rcnn_iou_thr, rcnn_max_per_img: box-head multiclass NMS.
        mask_thr_binary: a pasted mask pixel is on when its probability is >= this.
        finest_scale: ``SingleRoIExtractor`` RoI-to-level mapping scale.
        roi_strides: strides of the feature levels the RoI extractor pools from.
    """

    img_size: int = 1024
    mean: tuple[float, ...] = (123.675, 116.28, 103.53)
    std: tuple[float, ...] = (58.395, 57.12, 57.375)
    bgr_to_rgb: bool = True
    pad_value: int = 114
    strides: tuple[int, ...] = (4, 8, 16, 32, 64)
    anchor_scales: tuple[float, ...] = (8.0,)
    anchor_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)
    rpn_target_means: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
    rpn_target_stds: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
    rcnn_target_means: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
    rcnn_target_stds: tuple[float, ...] = (0.1, 0.1, 0.2, 0.2)
    wh_ratio_clip: float = 16 / 1000
    rpn_nms_pre: int = 1000
    rpn_max_per_img: int = 1000
    rpn_iou_thr: float = 0.7
    rpn_min_bbox_size: float = 0.0
    rcnn_score_thr: float = 0.05
    rcnn_iou_thr: float = 0.5
    rcnn_max_per_img: int = 100
    mask_thr_binary: float = 0.5
    finest_scale: int = 56
    roi_strides: tuple[int, ...] = (4, 8, 16, 32)

    def __post_init__(self) -> None:
        problems = []
        if self.img_size <= 0:
            problems.append(f"img_size must be positive, got {self.img_size}")
        if len(self.mean) != 3 or len(self.std) != 3:
            problems.append("mean and std need 3 values each")
        if any(s <= 0 for s in self.std):
            problems.append(f"std values must be positive, got {list(self.std)}")
        if not 0 <= self.pad_value <= 255:
            problems.append(f"pad_value must be in [0, 255], got {self.pad_value}")
        if not self.strides or any(s <= 0 for s in self.strides):
            problems.append(f"strides must be positive, got {list(self.strides)}")
        if not self.anchor_scales or not self.anchor_ratios:
            problems.append("anchor_scales and anchor_ratios must not be empty")
        for name in (
            "rpn_target_means",
            "rpn_target_stds",
            "rcnn_target_means",
            "rcnn_target_stds",
        ):
            if len(getattr(self, name)) != 4:
                problems.append(f"{name} needs 4 values")
        for name in ("rpn_iou_thr", "rcnn_iou_thr"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0 < self.wh_ratio_clip < 1:
            problems.append(f"wh_ratio_clip must be in (0, 1), got {self.wh_ratio_clip}")
        if self.rpn_nms_pre <= 0 or self.rpn_max_per_img <= 0 or self.rcnn_max_per_img <= 0:
            problems.append("rpn_nms_pre, rpn_max_per_img and rcnn_max_per_img must be positive")
        if not self.roi_strides:
            problems.append("roi_strides must not be empty")
        if problems:
            raise VitdetError(
                "invalid host settings: " + "; ".join(problems),
                hint="Check the 'host' section of export_meta.json (or the HostConfig arguments).",
                code="host_config_invalid",
            )

    @property
    def num_anchors(self) -> int:
        """Anchors per feature-map location (ratios × scales)."""
        return len(self.anchor_scales) * len(self.anchor_ratios)

    def featmap_sizes(self) -> tuple[tuple[int, int], ...]:
        """(H, W) of each RPN level for the square input, assuming ceil(S / stride)."""
        return tuple((math.ceil(self.img_size / s),) * 2 for s in self.strides)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "HostConfig":
        """Build from a plain dict (e.g. the ``host`` section of export_meta.json).

        Missing keys take the defaults; unknown keys are an error, so a typo cannot silently
        fall back to a default.
        """
        if not isinstance(data, Mapping):
            raise VitdetError(
                f"host settings must be a mapping, got {type(data).__name__}",
                hint="Re-export the model; its export_meta.json 'host' section is damaged.",
                code="host_config_invalid",
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise VitdetError(
                f"unknown host setting(s): {', '.join(unknown)}",
                hint=f"Known settings: {', '.join(sorted(known))}.",
                code="host_config_invalid",
            )
        kwargs = {k: tuple(v) if k in _TUPLE_FIELDS else v for k, v in data.items()}
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise VitdetError(
                f"invalid host settings: {exc}",
                hint="Re-export the model; its export_meta.json 'host' section is damaged.",
                code="host_config_invalid",
            ) from exc

    @classmethod
    def from_mmdet(cls, model: Mapping[str, Any], img_size: int) -> "HostConfig":
        """Read the host settings out of an mmdet ``MaskRCNN`` model dict (no mmdet import).

        ``model`` is the plain dict of ``config_builder.model_cfg``; ``img_size`` is the test
        pipeline's square size.
        """
        try:
            pre = model["data_preprocessor"]
            rpn = model["rpn_head"]
            gen = rpn["anchor_generator"]
            roi = model["roi_head"]
            test = model["test_cfg"]
            rpn_coder = rpn["bbox_coder"]
            rcnn_coder = roi["bbox_head"]["bbox_coder"]
            extractor = roi["bbox_roi_extractor"]
            return cls(
                img_size=int(img_size),
                mean=tuple(pre["mean"]),
                std=tuple(pre["std"]),
                bgr_to_rgb=bool(pre.get("bgr_to_rgb", False)),
                strides=tuple(gen["strides"]),
                anchor_scales=tuple(gen["scales"]),
                anchor_ratios=tuple(gen["ratios"]),
                rpn_target_means=tuple(rpn_coder.get("target_means", (0.0,) * 4)),
                rpn_target_stds=tuple(rpn_coder.get("target_stds", (1.0,) * 4)),
                rcnn_target_means=tuple(rcnn_coder.get("target_means", (0.0,) * 4)),
                rcnn_target_stds=tuple(rcnn_coder.get("target_stds", (1.0,) * 4)),
                rpn_nms_pre=int(test["rpn"]["nms_pre"]),
                rpn_max_per_img=int(test["rpn"]["max_per_img"]),
                rpn_iou_thr=float(test["rpn"]["nms"]["iou_threshold"]),
                rpn_min_bbox_size=float(test["rpn"].get("min_bbox_size", 0)),
                rcnn_score_thr=float(test["rcnn"]["score_thr"]),
                rcnn_iou_thr=float(test["rcnn"]["nms"]["iou_threshold"]),
                rcnn_max_per_img=int(test["rcnn"]["max_per_img"]),
                mask_thr_binary=float(test["rcnn"]["mask_thr_binary"]),
                finest_scale=int(extractor.get("finest_scale", 56)),
                roi_strides=tuple(extractor["featmap_strides"]),
            )
        except (KeyError, TypeError) as exc:
            raise VitdetError(
                f"the model config lacks a field the host needs: {exc}",
                hint="The host pipeline supports MaskRCNN with RPNHead and StandardRoIHead.",
                code="host_config_invalid",
            ) from exc
