"""The staged model: three stage graphs on a backend with the numpy host steps in between."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.layout import STAGES
from vitdet_cli.artifacts.meta import StageMeta
from vitdet_cli.runtime.backends.base import Backend, StageSession
from vitdet_cli.runtime.host import HostResult, run_pipeline
from vitdet_cli.runtime.host_config import HostConfig

STEPS = (
    "preprocess",
    "backbone",
    "rpn",
    "rpn_post",
    "roi_bbox",
    "bbox_post",
    "roi_mask",
    "mask_post",
)
"""Timing steps in pipeline order (stage graphs and host steps)."""
_STAGE_STEP = {
    ("backbone", "model"): "backbone",
    ("rpn", "model"): "rpn",
    ("roi", "bbox"): "roi_bbox",
    ("roi", "mask"): "roi_mask",
}


@dataclass
class StagedResult:
    """A :class:`HostResult` plus per-step times (ms) and, when asked, every stage's tensors."""

    result: HostResult
    times: dict[str, float]
    tensors: dict[tuple[str, str], tuple[dict, list]] = field(default_factory=dict)


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

    def run_graph(self, stage: str, graph: str, feeds: dict, times: dict, record: Optional[dict]):
        t0 = time.perf_counter()
        out = self.sessions[stage, graph].run(feeds)
        times[_STAGE_STEP[stage, graph]] = (time.perf_counter() - t0) * 1e3
        if record is not None:
            record[stage, graph] = (dict(feeds), out)
        return out

    def __call__(
        self,
        image: np.ndarray,
        score_thr: Optional[float] = None,
        dedup: str = "none",
        record: bool = False,
    ) -> StagedResult:
        """Detect in one BGR uint8 image."""
        times: dict[str, float] = dict.fromkeys(_STAGE_STEP.values(), 0.0)
        tensors: Optional[dict] = {} if record else None
        feats: dict[str, np.ndarray] = {}
        roi_in = self.metas["roi"].graphs["bbox"].input_names[:-1]

        def rpn_stage(x):
            out = self.run_graph("backbone", "model", {"image": x}, times, tensors)
            feats.update(zip(self.metas["backbone"].graphs["model"].output_names, out))
            rpn_in = self.metas["rpn"].graphs["model"].input_names
            out = self.run_graph("rpn", "model", {n: feats[n] for n in rpn_in}, times, tensors)
            half = len(out) // 2
            return out[:half], out[half:]

        def box_stage(rois):
            feeds = {**{n: feats[n] for n in roi_in}, "rois": rois}
            return tuple(self.run_graph("roi", "bbox", feeds, times, tensors))

        def mask_stage(rois):
            feeds = {**{n: feats[n] for n in roi_in}, "rois": rois}
            return self.run_graph("roi", "mask", feeds, times, tensors)[0]

        res = run_pipeline(
            image,
            self.host,
            rpn_stage,
            box_stage,
            mask_stage,
            roi_batch=self.roi_batch("bbox"),
            mask_batch=self.roi_batch("mask"),
            score_thr=score_thr,
            dedup=dedup,
        )
        steps = {**res.timings, **times}
        return StagedResult(res, {k: steps.get(k, 0.0) for k in STEPS}, tensors or {})
