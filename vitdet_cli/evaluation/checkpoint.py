"""COCO mAP of a checkpoint through MMDetection itself: the "PyTorch as trained" reference.

The image goes through the config's test pipeline (resize keeping the ratio, pad), the model's
``data_preprocessor`` and ``predict`` — nothing of ours between the image and the detections —
and the detections are scored by the same :func:`~vitdet_cli.evaluation.coco.coco_metrics` as
the staged model's.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

from vitdet_cli.data.resolve import dataset_images
from vitdet_cli.evaluation.coco import class_warnings, coco_metrics
from vitdet_cli.runtime.detections import Detections

BACKEND = "mmdet"
"""The ``backend`` these results report: the model as MMDetection runs it."""


def eval_pipeline(img_size: int) -> Callable[[dict], dict]:
    """The training config's test pipeline, without ground-truth loading."""
    from mmcv.transforms import Compose
    from mmdet.registry import TRANSFORMS

    from vitdet_cli.model.config_builder import pipelines  # deferred: loads pydantic

    _, test = pipelines(img_size, (1.0, 1.0))
    return Compose([TRANSFORMS.build(t) for t in test if t["type"] != "LoadAnnotations"])


@contextmanager
def empty_masks_outside_image() -> Iterator[None]:
    """Let mmdet's CPU mask pasting survive a box that lies wholly outside the original image.

    Boxes are clipped to the *padded* input, so after rescaling a box can start below or right
    of the image; mmdet 3.3's ``_do_paste_mask(skip_empty=True)`` then calls ``torch.arange``
    with an inverted range and raises. Such a mask is empty (as the host pipeline makes it);
    every other call is passed through unchanged. Undone on exit.
    """
    import torch
    from mmdet.models.roi_heads.mask_heads import fcn_mask_head as fcn

    original = fcn._do_paste_mask

    def paste(masks, boxes, img_h, img_w, skip_empty=True):
        if skip_empty and len(boxes):
            lo = (boxes.min(dim=0).values.floor()[:2] - 1).clamp(min=0)
            hi = torch.stack([boxes[:, 2].max().ceil() + 1, boxes[:, 3].max().ceil() + 1])
            hi = torch.minimum(hi, hi.new_tensor([img_w, img_h]))
            if bool((hi <= lo).any()):
                return masks.new_zeros((len(masks), 0, 0)), (slice(0, 0), slice(0, 0))
        return original(masks, boxes, img_h, img_w, skip_empty)

    fcn._do_paste_mask = paste
    try:
        yield
    finally:
        fcn._do_paste_mask = original


def predictions_to_detections(pred) -> Detections:
    """mmdet ``pred_instances`` (bboxes, scores, labels, (K, H, W) masks) → :class:`Detections`."""
    masks = pred.masks.detach().cpu().numpy().astype(bool) if "masks" in pred else None
    return Detections(
        pred.bboxes.detach().cpu().numpy(),
        pred.scores.detach().cpu().numpy(),
        pred.labels.detach().cpu().numpy(),
        masks=masks,
    )


def evaluate_checkpoint(
    checkpoint: str | Path,
    config: str | Path | None,
    ann_file: str | Path,
    image_dir: str | Path,
    limit: Optional[int] = None,
    device: str = "cpu",
    on_image: Optional[Callable[[int, Path], None]] = None,
) -> dict:
    """COCO bbox/segm mAP of ``checkpoint`` run by MMDetection on ``device``.

    ``config`` defaults to the ``vitdet_config.json`` (data) beside the checkpoint; a ``.py``
    runs only when named here. Returns the same keys
    as :func:`~vitdet_cli.evaluation.staged.evaluate_artifacts` (``backend`` is ``"mmdet"``)
    plus ``device``.
    """
    import torch

    # deferred: loads torch
    from vitdet_cli.model.loading import load_trained_model

    start = time.perf_counter()
    ann_file = Path(ann_file)
    paths = dataset_images(ann_file, Path(image_dir), limit)
    trained = load_trained_model(checkpoint, config)
    warnings = class_warnings(ann_file, trained.class_names)
    model = trained.model.to(device).eval()
    pipeline = eval_pipeline(trained.img_size)
    dets = []
    for i, path in enumerate(paths):
        if on_image:
            on_image(i, path)
        packed = pipeline(dict(img_path=str(path), img_id=i))
        batch = dict(inputs=[packed["inputs"]], data_samples=[packed["data_samples"]])
        with torch.no_grad(), empty_masks_outside_image():
            (sample,) = model.test_step(batch)
        dets.append(predictions_to_detections(sample.pred_instances))
    return {
        **coco_metrics(ann_file, paths, dets),
        "warnings": warnings,
        "backend": BACKEND,
        "device": device,
        "images": len(paths),
        "seconds": time.perf_counter() - start,
    }
