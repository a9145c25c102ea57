"""The reference of ``compare``: the trained model as MMDetection runs it.

The checkpoint recorded in the artifacts' manifest (or ``checkpoint``, with the same sha256) is
loaded into the model of the artifacts' ``model_config.json`` (data; nothing from the folder
is executed) by :func:`~vitdet_cli.model.loading.load_trained_model`. Each image — the array
the deployed side decoded — goes through the config's test pipeline (resize, pad),
``data_preprocessor`` and ``model.test_step``; none of our numpy host steps runs. Only the
business policies (``--dedup``, ``--score-thr``) are applied to MMDetection's detections, as
to the deployed ones, so both report raw → after_dedup → after_score_thr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.evaluation.checkpoint import empty_masks_outside_image, eval_pipeline
from vitdet_cli.platform.device import resolve_kind, torch_device
from vitdet_cli.runtime.detections import Detections
from vitdet_cli.runtime.images import read_image
from vitdet_cli.runtime.policies import apply_policies

NAME = "mmdet"
"""``--reference`` value of this reference."""


def reference_device(kind: str) -> str:
    """The torch device string of ``--reference-device`` (cpu | npu | cuda), checked present."""
    return torch_device(resolve_kind(kind))


class MmdetReference:
    """``model.test_step`` of the exported checkpoint on ``device``; call with a BGR image.

    ``backend`` (a :class:`~vitdet_cli.runtime.backends.torch_stages.TorchBackend`) loads the
    model once and checks its sha256 against the manifest; the same instance can serve the
    staged torch graphs for the per-tensor comparison.
    """

    def __init__(self, artifacts: Artifacts, backend, device: str) -> None:
        from mmdet.registry import TRANSFORMS

        self.device = device
        self.model = backend.model(artifacts).eval()
        self.pipeline = eval_pipeline(artifacts.model_config().img_size)
        # the array the deployed side decoded, not a second decode of the file
        self.pipeline.transforms[0] = TRANSFORMS.build(dict(type="LoadImageFromNDArray"))

    def __call__(
        self, image: np.ndarray, score_thr: Optional[float] = None, dedup: str = "none"
    ) -> Detections:
        import torch

        packed = self.pipeline(dict(img=image, img_id=0))
        batch = dict(inputs=[packed["inputs"]], data_samples=[packed["data_samples"]])
        with torch.no_grad(), empty_masks_outside_image():
            (sample,) = self.model.test_step(batch)
        pred = sample.pred_instances
        boxes, scores, labels = (
            pred[k].detach().float().cpu().numpy() for k in ("bboxes", "scores", "labels")
        )
        labels = labels.astype(np.int64)
        masks = pred.masks.detach().cpu().numpy().astype(bool) if "masks" in pred else None
        keep, counts = apply_policies(scores, labels, score_thr=score_thr, dedup=dedup)
        return Detections(
            boxes[keep],
            scores[keep],
            labels[keep],
            None if masks is None else masks[keep],
            counts,
            raw=Detections(boxes, scores, labels),
        )


def run_reference(
    reference: MmdetReference,
    images: Sequence[Path],
    score_thr: Optional[float],
    dedup: str,
    on_image: Optional[Callable[[int, Path], None]] = None,
    on_result: Optional[Callable] = None,
) -> list[Detections]:
    """Every image through ``reference``; ``on_result(i, path, image, result)`` as
    :func:`~vitdet_cli.runtime.infer.run_images` calls it (pictures)."""
    results = []
    for i, path in enumerate(images):
        if on_image:
            on_image(i, path)
        image = read_image(path)
        res = reference(image, score_thr, dedup)
        results.append(res)
        if on_result:
            on_result(i, path, image, res)
    return results
