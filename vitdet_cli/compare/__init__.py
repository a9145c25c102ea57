"""Parity of the deployed model with PyTorch: per-tensor (:mod:`.tensors`), per-detection
(:mod:`.detections`) and COCO mAP (scored by :mod:`vitdet_cli.evaluation`, which imports
pycocotools on use).

Numpy only: importing this package pulls in neither torch nor mmcv/mmdet nor pycocotools.
"""

from vitdet_cli.compare.crops import pair_mask_iou
from vitdet_cli.compare.detections import (
    Matching,
    box_iou,
    compare_report,
    detection_parity,
    match_detections,
    policy_report,
)
from vitdet_cli.compare.tensors import TensorParity, compare_outputs, tensor_parity

__all__ = [
    "Matching",
    "TensorParity",
    "box_iou",
    "compare_outputs",
    "compare_report",
    "detection_parity",
    "match_detections",
    "pair_mask_iou",
    "policy_report",
    "tensor_parity",
]
