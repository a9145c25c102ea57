"""COCO accuracy: the staged artifacts on a backend, or the checkpoint through MMDetection.

Both paths end in the same pycocotools ``COCOeval`` call (:func:`coco_metrics`), so their numbers
are directly comparable; ``evaluate_checkpoint`` is the "PyTorch as trained" reference.
"""

from vitdet_cli.evaluation.checkpoint import evaluate_checkpoint
from vitdet_cli.evaluation.coco import coco_metrics, flat_metrics
from vitdet_cli.evaluation.cocoeval import coco_evaluate
from vitdet_cli.evaluation.staged import evaluate_artifacts, evaluate_backends, evaluate_model

__all__ = [
    "coco_evaluate",
    "coco_metrics",
    "evaluate_artifacts",
    "evaluate_backends",
    "evaluate_checkpoint",
    "evaluate_model",
    "flat_metrics",
]
