"""The atc lint: does an ONNX graph only use ops (and an opset) that CANN's atc can parse?

The list of ops comes from ``data_files/cann_onnx_ops.json`` (CANN's published "supported ONNX
operators" page; the file says which version and where from). Passing the lint does not promise
that atc succeeds — per-op attribute and dtype limits are not encoded — but an op missing from
the list is the commonest reason atc stops with ``E19010: No parser is registered for Op``.
``onnx`` is imported lazily: the rest of the export package does not need it to import.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Optional, Union

from vitdet_cli.errors import VitdetError

if TYPE_CHECKING:  # pragma: no cover
    import onnx

DATA_FILE = "cann_onnx_ops.json"
_DEFAULT_DOMAINS = ("", "ai.onnx")


@dataclass(frozen=True)
class SupportedOps:
    """What the data file says atc accepts."""

    ops: frozenset[str]
    opset_min: int
    opset_max: int
    cann_version: str
    source: str


@lru_cache(maxsize=1)
def supported_ops() -> SupportedOps:
    """The packaged CANN op list (read once)."""
    text = (resources.files("vitdet_cli") / "data_files" / DATA_FILE).read_text("utf-8")
    data = json.loads(text)
    return SupportedOps(
        ops=frozenset(data["ops"]) | frozenset(data.get("ascend_custom_ops", [])),
        opset_min=int(data["opset"]["min"]),
        opset_max=int(data["opset"]["max"]),
        cann_version=str(data["cann_version"]),
        source=str(data["source"]),
    )


@dataclass
class LintReport:
    """Result of :func:`lint_model`.

    Args:
        opset: the model's ai.onnx opset (None when it declares none).
        opset_range: (min, max) opset the op list is documented for.
        offenders: (node name, op type) of every node whose op atc has no parser for; nodes in a
            non-standard domain show as ``domain::op``.
        cann_version: CANN version the op list comes from.
    """

    opset: Optional[int]
    opset_range: tuple[int, int]
    offenders: list[tuple[str, str]] = field(default_factory=list)
    cann_version: str = ""
    nodes: int = 0

    @property
    def opset_ok(self) -> bool:
        return self.opset is not None and self.opset_range[0] <= self.opset <= self.opset_range[1]

    @property
    def ok(self) -> bool:
        return self.opset_ok and not self.offenders

    def summary(self) -> str:
        """One line for humans: ok, or what atc will refuse."""
        lo, hi = self.opset_range
        head = f"atc lint (CANN {self.cann_version} op list, {self.nodes} nodes)"
        problems = []
        if not self.opset_ok:
            problems.append(f"opset {self.opset} is outside {lo}–{hi}")
        if self.offenders:
            by_op: dict[str, list[str]] = defaultdict(list)
            for name, op in self.offenders:
                by_op[op].append(name)
            listed = "; ".join(
                f"{op} ×{len(names)} ({', '.join(names[:3])}{', …' if len(names) > 3 else ''})"
                for op, names in sorted(by_op.items())
            )
            problems.append(f"{len(self.offenders)} node(s) use ops atc cannot parse: {listed}")
        if not problems:
            return f"{head}: ok (opset {self.opset})"
        return f"{head}: " + "; ".join(problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "opset": self.opset,
            "opset_ok": self.opset_ok,
            "opset_range": list(self.opset_range),
            "offenders": [{"node": n, "op": o} for n, o in self.offenders],
            "cann_version": self.cann_version,
            "nodes": self.nodes,
            "summary": self.summary(),
        }


def _load(model: Union["onnx.ModelProto", str, Path]) -> "onnx.ModelProto":
    import onnx

    if isinstance(model, onnx.ModelProto):
        return model
    path = Path(model)
    if not path.is_file():
        raise VitdetError(
            f"{path} not found", hint="run `vitdet export` first", code="onnx_missing"
        )
    try:
        # Weights are irrelevant to the lint: leave external data where it is.
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises its own DecodeError
        raise VitdetError(
            f"{path} is not a readable ONNX model: {exc}",
            hint="re-run `vitdet export`",
            code="onnx_invalid",
        ) from None


def _walk(graph: "onnx.GraphProto", prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every node with a display name, including those inside If/Loop/Scan bodies."""
    for i, node in enumerate(graph.node):
        name = prefix + (node.name or f"<{node.op_type}#{i}>")
        yield name, node
        for attr in node.attribute:
            subgraphs = ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
            for sub in subgraphs:
                yield from _walk(sub, f"{name}/{attr.name}/")


def model_opset(model: "onnx.ModelProto") -> Optional[int]:
    """The model's ai.onnx opset version, or None."""
    versions = [o.version for o in model.opset_import if o.domain in _DEFAULT_DOMAINS]
    return int(versions[0]) if versions else None


def lint_model(
    model: Union["onnx.ModelProto", str, Path],
    ops: Optional[Iterable[str]] = None,
    opset_range: Optional[tuple[int, int]] = None,
) -> LintReport:
    """Check a model (or an ``.onnx`` path) against the ops and opsets atc documents.

    Args:
        model: a loaded ``onnx.ModelProto`` or a path.
        ops: op types to accept instead of the packaged CANN list.
        opset_range: (min, max) opset to accept instead of the packaged range.
    """
    proto = _load(model)
    known = supported_ops()
    accepted = known.ops if ops is None else frozenset(ops)
    report = LintReport(
        opset=model_opset(proto),
        opset_range=opset_range or (known.opset_min, known.opset_max),
        cann_version=known.cann_version if ops is None else "custom",
    )
    for name, node in _walk(proto.graph):
        report.nodes += 1
        if node.op_type in accepted:
            continue
        label = (
            node.op_type if node.domain in _DEFAULT_DOMAINS else f"{node.domain}::{node.op_type}"
        )
        report.offenders.append((name, label))
    return report
