"""Parity of the deployed model with PyTorch: per-tensor (:mod:`.tensors`), per-detection
(:mod:`.detections`) and COCO mAP (:mod:`.coco_eval`, which imports pycocotools on use).

Numpy only: importing this package pulls in neither torch nor mmcv/mmdet nor pycocotools.
"""

from vitdet_cli.compare.coco_eval import coco_evaluate, results_to_coco
from vitdet_cli.compare.crops import crops_from_full, pair_mask_iou
from vitdet_cli.compare.detections import (
    DetSet,
    Matching,
    box_iou,
    compare_report,
    detection_parity,
    match_detections,
    policy_report,
)
from vitdet_cli.compare.tensors import TensorParity, compare_outputs, tensor_parity

__all__ = [
    "DetSet",
    "Matching",
    "TensorParity",
    "box_iou",
    "coco_evaluate",
    "compare_outputs",
    "compare_report",
    "crops_from_full",
    "detection_parity",
    "match_detections",
    "pair_mask_iou",
    "policy_report",
    "results_to_coco",
    "tensor_parity",
]
