"""The interface every stage backend implements (torch, onnxruntime, om).

A backend opens one *graph* of one *stage* (see :mod:`vitdet_cli.artifacts.meta`) as a
:class:`StageSession`: numpy arrays in, numpy arrays out, in the order of the graph meta's
inputs and outputs. Sessions hold device resources and are closed explicitly (or with ``with``).
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.meta import GraphMeta, TensorSpec
from vitdet_cli.errors import VitdetError


class StageSession(abc.ABC):
    """One loaded graph.

    Args:
        stage: stage name (``backbone``, ``rpn``, ``roi``).
        graph: graph name inside the stage (``model``, ``bbox``, ``mask``).
        meta: the graph's :class:`GraphMeta` (input/output names, static shapes, dtypes).
    """

    def __init__(self, stage: str, graph: str, meta: GraphMeta) -> None:
        self.stage = stage
        self.graph = graph
        self.meta = meta

    @abc.abstractmethod
    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Run the graph; outputs in ``meta.outputs`` order, as float32/int numpy arrays."""

    def close(self) -> None:
        """Release what the session holds (device memory, model handles). Idempotent."""
        return None

    def info(self) -> dict:
        """What the graph runs on, JSON-ready (device, precision, ...); may be empty."""
        return {}

    def check_feeds(self, feeds: Mapping[str, np.ndarray]) -> None:
        """Raise a clear error when feeds do not match the graph's static inputs."""
        for spec in self.meta.inputs:
            if spec.name not in feeds:
                raise VitdetError(
                    f"{self.stage}/{self.graph}: input '{spec.name}' not given",
                    code="bad_feed",
                )
            got = tuple(feeds[spec.name].shape)
            if got != spec.shape:
                raise VitdetError(
                    f"{self.stage}/{self.graph}: input '{spec.name}' has shape {got}, "
                    f"the graph takes {spec.shape}",
                    hint="static shapes come from the export; re-export for another size",
                    code="bad_feed",
                )

    def __enter__(self) -> "StageSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Backend(abc.ABC):
    """A way to run stage graphs. Subclasses set ``name`` and implement ``open``."""

    name: str = ""

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """(usable here, why not) — checked before anything is loaded."""
        return True, ""

    @abc.abstractmethod
    def open(self, artifacts: Artifacts, stage: str, graph: str) -> StageSession:
        """Load ``graph`` of ``stage`` from the opened (verified) artifacts folder."""

    def close(self) -> None:
        """Release backend-wide resources (e.g. an ACL context)."""
        return None


def as_outputs(values: Sequence, meta: GraphMeta) -> list[np.ndarray]:
    """Outputs as numpy in meta order: fp16 becomes float32, other dtypes are kept."""
    out = []
    for value in values:
        arr = np.asarray(value)
        if arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        out.append(arr)
    if len(out) != len(meta.outputs):
        raise VitdetError(
            f"the graph returned {len(out)} outputs, its meta lists {len(meta.outputs)}",
            hint="the model file and export_meta.json disagree; re-export",
            code="bad_outputs",
        )
    return out


def check_signature(
    path: Path | str,
    meta: GraphMeta,
    inputs: Sequence[TensorSpec],
    outputs: Sequence[TensorSpec],
) -> None:
    """Raise ``graph_mismatch`` when a loaded graph's inputs/outputs (name, shape, dtype, in
    order) differ from its meta's — e.g. a graph swapped for another valid one."""
    for kind, want, got in (("inputs", meta.inputs, inputs), ("outputs", meta.outputs, outputs)):
        if list(want) != list(got):
            diff = next(
                (f"#{i}: {g} != meta {w}" for i, (w, g) in enumerate(zip(want, got)) if w != g),
                f"{len(got)} {kind}, meta lists {len(want)}",
            )
            raise VitdetError(
                f"{path}: the graph's {kind} differ from its export_meta.json ({diff})",
                hint="the graph was replaced by another one; re-export the artifacts",
                code="graph_mismatch",
            )
