"""Value checks of a stage meta on open: a NaN threshold or a zero size is refused by name.

Schema problems (a missing field, a wrong type) are caught by the parser; these are the values
that parse fine and then silently break the host steps (a NaN ``mask_thr_binary`` empties every
mask) or disagree with the graphs (class names vs the RoI head's class dimension).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Iterator

from vitdet_cli.artifacts.layout import STAGE_GRAPHS, check_relative
from vitdet_cli.artifacts.meta import StageMeta
from vitdet_cli.errors import VitdetError

DTYPES = frozenset({"float32", "float16", "int64", "int32", "uint8", "int8", "bool"})
"""Tensor dtypes a stage graph may take or give."""
UNIT_RANGE = ("rpn_iou_thr", "rcnn_score_thr", "rcnn_iou_thr", "mask_thr_binary")
"""Host settings that are probabilities or IoUs: in [0, 1]."""
POSITIVE = ("img_size", "rpn_nms_pre", "rpn_max_per_img", "rcnn_max_per_img", "finest_scale")
"""Host settings that are sizes or counts: > 0."""
_SHA = re.compile(r"[0-9a-f]{64}")


def _numbers(value: Any, where: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _numbers(v, f"{where}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _numbers(v, f"{where}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield where, value


def host_problems(host: dict) -> list[str]:
    """What is wrong with the ``host`` section's values (empty when nothing)."""
    problems = [f"{w} is {v}" for w, v in _numbers(host, "host") if not math.isfinite(v)]
    for name in UNIT_RANGE:
        v = host.get(name)
        if isinstance(v, (int, float)) and math.isfinite(v) and not 0 <= v <= 1:
            problems.append(f"host.{name} is {v}, outside [0, 1]")
    for name in POSITIVE:
        v = host.get(name)
        if isinstance(v, (int, float)) and math.isfinite(v) and v <= 0:
            problems.append(f"host.{name} is {v}, must be positive")
    return problems


def _graph_problems(meta: StageMeta, path: Path) -> list[str]:
    problems = []
    if set(meta.graphs) != set(STAGE_GRAPHS.get(meta.stage, ())):
        problems.append(f"stage '{meta.stage}' has graphs {sorted(meta.graphs)}")
    for name, graph in meta.graphs.items():
        check_relative(graph.file, path)
        if not _SHA.fullmatch(graph.sha256):
            problems.append(f"graphs.{name}.sha256 is not a sha256")
        for kind, specs in (("inputs", graph.inputs), ("outputs", graph.outputs)):
            if not specs:
                problems.append(f"graphs.{name}.{kind} is empty")
            for spec in specs:
                where = f"graphs.{name}.{kind}.{spec.name or '?'}"
                if not spec.name:
                    problems.append(f"{where}: empty name")
                if not spec.shape or any(d <= 0 for d in spec.shape):
                    problems.append(f"{where}: shape {list(spec.shape)} is not static and positive")
                if spec.dtype not in DTYPES:
                    problems.append(f"{where}: unknown dtype '{spec.dtype}'")
    return problems


def class_problems(meta: StageMeta) -> list[str]:
    """Class names empty, blank, repeated, or not what the RoI graphs' outputs have room for."""
    names = meta.class_names
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        return ["class_names must be a non-empty list of non-empty names"]
    problems = [] if len(set(names)) == len(names) else ["class_names has repeated names"]
    n = len(names)
    want = {"cls_score": (-1, n + 1), "bbox_pred": (-1, 4 * n), "mask_pred": (1, n)}
    for graph in meta.graphs.values():
        for spec in graph.outputs:
            if spec.name in want and len(spec.shape) > abs(want[spec.name][0]):
                axis, size = want[spec.name]
                if spec.shape[axis] != size:
                    problems.append(
                        f"{n} class_names but output {spec.name} has shape {list(spec.shape)} "
                        f"(expected {size} on axis {axis})"
                    )
    return problems


def check_stage_meta(meta: StageMeta, path: Path) -> None:
    """Raise ``meta_invalid`` naming ``path`` and every bad field of ``meta``."""
    problems = _graph_problems(meta, path) + host_problems(meta.host) + class_problems(meta)
    if not 1 <= meta.opset <= 30:
        problems.append(f"opset {meta.opset} is not an ONNX opset")
    if not _SHA.fullmatch(str(meta.checkpoint.get("sha256", ""))):
        problems.append("checkpoint.sha256 is missing or not a sha256")
    if problems:
        raise VitdetError(
            f"{path} has invalid values: " + "; ".join(problems),
            hint="the meta was edited or damaged; re-export the artifacts",
            code="meta_invalid",
        )
