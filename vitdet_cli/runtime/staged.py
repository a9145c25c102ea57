"""The staged model: three stage graphs on a backend with the numpy host steps in between."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.layout import STAGES
from vitdet_cli.artifacts.meta import StageMeta
from vitdet_cli.runtime.backends.base import Backend, StageSession
from vitdet_cli.runtime.detections import Detections
from vitdet_cli.runtime.host import run_pipeline
from vitdet_cli.runtime.host_config import HostConfig
from vitdet_cli.runtime.timing import StepTimer

GRAPH_STEP = {
    ("backbone", "model"): "backbone",
    ("rpn", "model"): "rpn",
    ("roi", "bbox"): "roi_bbox",
    ("roi", "mask"): "roi_mask",
}
"""The pipeline step (:data:`~vitdet_cli.runtime.timing.STEPS`) of each (stage, graph)."""
Recorded = dict[tuple[str, str], tuple[dict, list]]
"""Per (stage, graph): the feeds it was given and the outputs it returned."""


class StagedModel:
    """Load the artifacts' stages on ``backend``; call with a BGR image.

    Args:
        artifacts: an opened :class:`Artifacts`, or a folder to open (and verify) now.
        backend: a :class:`Backend` instance (``runtime.backends.get_backend``).
    """

    def __init__(self, artifacts: str | Path | Artifacts, backend: Backend) -> None:
        self.artifacts = Artifacts.of(artifacts)
        self.artifacts.require(STAGES)
        self.backend = backend
        self.metas: dict[str, StageMeta] = self.artifacts.metas
        self.host = HostConfig.from_dict(self.artifacts.host)
        self.class_names = self.artifacts.class_names
        self.sessions: dict[tuple[str, str], StageSession] = {}
        try:
            for stage, meta in self.metas.items():
                for graph in meta.graphs:
                    self.sessions[stage, graph] = backend.open(self.artifacts, stage, graph)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for sess in self.sessions.values():
            sess.close()
        self.sessions.clear()
        self.backend.close()

    def __enter__(self) -> "StagedModel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def backend_info(self) -> dict[str, dict]:
        """``{"<stage>/<graph>": session info}`` of the open sessions (device, precision, ...)."""
        return {f"{stage}/{graph}": s.info() for (stage, graph), s in self.sessions.items()}

    def roi_batch(self, graph: str) -> int:
        return self.metas["roi"].graphs[graph].inputs[-1].shape[0]

    def run_graph(
        self,
        stage: str,
        graph: str,
        feeds: dict,
        timer: StepTimer,
        record: Optional[Recorded] = None,
    ) -> list[np.ndarray]:
        with timer.step(GRAPH_STEP[stage, graph]):
            out = self.sessions[stage, graph].run(feeds)
        if record is not None:
            record[stage, graph] = (dict(feeds), out)
        return out

    def __call__(
        self,
        image: np.ndarray,
        score_thr: Optional[float] = None,
        dedup: str = "none",
        *,
        timer: Optional[StepTimer] = None,
        record: Optional[Recorded] = None,
    ) -> Detections:
        """Detect in one BGR uint8 image; ``timer`` gets every step's time, ``record`` (a dict)
        every stage graph's feeds and outputs."""
        timer = timer or StepTimer()
        feats: dict[str, np.ndarray] = {}
        roi_in = self.metas["roi"].graphs["bbox"].input_names[:-1]

        def rpn_stage(x):
            out = self.run_graph("backbone", "model", {"image": x}, timer, record)
            feats.update(zip(self.metas["backbone"].graphs["model"].output_names, out))
            rpn_in = self.metas["rpn"].graphs["model"].input_names
            out = self.run_graph("rpn", "model", {n: feats[n] for n in rpn_in}, timer, record)
            half = len(out) // 2
            return out[:half], out[half:]

        def box_stage(rois):
            feeds = {**{n: feats[n] for n in roi_in}, "rois": rois}
            return tuple(self.run_graph("roi", "bbox", feeds, timer, record))

        def mask_stage(rois):
            feeds = {**{n: feats[n] for n in roi_in}, "rois": rois}
            return self.run_graph("roi", "mask", feeds, timer, record)[0]

        return run_pipeline(
            image,
            self.host,
            rpn_stage,
            box_stage,
            mask_stage,
            roi_batch=self.roi_batch("bbox"),
            mask_batch=self.roi_batch("mask"),
            score_thr=score_thr,
            dedup=dedup,
            timer=timer,
        )
