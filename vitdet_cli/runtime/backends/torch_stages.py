"""PyTorch backend: the trained mmdet model's own modules, run eagerly — the reference.

Stage ``backbone`` is ``extract_feat``, ``rpn`` is the ``rpn_head``, ``roi/bbox`` and
``roi/mask`` are ``StandardRoIHead._bbox_forward`` / ``_mask_forward`` (mmcv RoIAlign). The model
is rebuilt from the checkpoint recorded in the manifest and the artifacts' ``model_config.json``
(data: nothing from the artifacts folder is executed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Optional

import numpy as np

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.meta import GraphMeta
from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.backends.base import Backend, StageSession, as_outputs


class TorchSession(StageSession):
    """A graph as a Python callable over torch tensors."""

    def __init__(self, stage: str, graph: str, meta: GraphMeta, fn: Callable, device: str) -> None:
        super().__init__(stage, graph, meta)
        self._fn, self._device = fn, device

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        import torch

        self.check_feeds(feeds)
        args = [
            torch.from_numpy(np.ascontiguousarray(feeds[n])).to(self._device)
            for n in self.meta.input_names
        ]
        with torch.no_grad():
            out = self._fn(*args)
        return as_outputs([o.detach().float().cpu().numpy() for o in out], self.meta)


class TorchBackend(Backend):
    """Runs the checkpoint's mmdet model stage by stage.

    Args:
        checkpoint: overrides the checkpoint path recorded in the manifest (its sha256 must
            still be the exported one).
        config: overrides ``export/model_config.json`` (a ``.py`` named here is executed).
        device: torch device string (``cpu``, ``cuda``, ``npu:0``).
    """

    name = "torch"

    def __init__(
        self,
        checkpoint: Optional[str | Path] = None,
        config: Optional[str | Path] = None,
        device: str = "cpu",
    ) -> None:
        self.checkpoint, self.config, self.device = checkpoint, config, device
        self._model = None

    @classmethod
    def available(cls) -> tuple[bool, str]:
        try:
            import mmcv.ops  # noqa: F401
            import mmdet  # noqa: F401
        except ImportError as exc:
            return False, f"{exc} (the torch backend needs mmdet and mmcv with ops)"
        return True, ""

    def model(self, artifacts: Artifacts):
        """The eval-mode model, loaded once; its checkpoint must be the exported one."""
        if self._model is None:
            # deferred: loads torch
            from vitdet_cli.model.loading import load_trained_model

            ckpt = Path(self.checkpoint or artifacts.checkpoint.get("path", ""))
            trained = load_trained_model(ckpt, self.config or artifacts.model_config())
            want = artifacts.checkpoint["sha256"]
            if trained.checkpoint_sha256 != want:
                raise VitdetError(
                    f"{ckpt} is not the checkpoint these artifacts were exported from "
                    "(sha256 differs from the manifest)",
                    hint="put the exported checkpoint back at that path, or re-export",
                    code="checkpoint_mismatch",
                )
            self._model = trained.model.to(self.device)
        return self._model

    def open(self, artifacts: Artifacts, stage: str, graph: str) -> TorchSession:
        meta = artifacts.graph(stage, graph)
        model = self.model(artifacts)
        roi = model.roi_head
        levels = len(roi.bbox_roi_extractor.featmap_strides)

        def backbone(image):
            return tuple(model.extract_feat(image))

        def rpn(*feats):
            cls, reg = model.rpn_head(list(feats))
            return (*cls, *reg)

        def bbox(*args):
            out = roi._bbox_forward(list(args[:levels]), args[-1])
            return out["cls_score"], out["bbox_pred"]

        def mask(*args):
            return (roi._mask_forward(list(args[:levels]), args[-1])["mask_preds"],)

        fns = {"backbone": backbone, "rpn": rpn, "bbox": bbox, "mask": mask}
        return TorchSession(
            stage, graph, meta, fns[stage if stage != "roi" else graph], self.device
        )
