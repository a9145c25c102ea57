"""Write one stage graph to ONNX and check it: ``onnx.checker``, then ONNX Runtime vs PyTorch.

The graph is exported with the TorchScript exporter at fixed input shapes (no dynamic axes) and
constant folding, written atomically; the check runs the written file, so what is verified is
what ships.
"""

from __future__ import annotations

import io
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from vitdet_cli.artifacts.meta import GraphMeta, TensorSpec
from vitdet_cli.atomic import write_bytes_atomic
from vitdet_cli.errors import VitdetError
from vitdet_cli.metafile import sha256_file

DEFAULT_OPSET = 16
"""The first opset whose ``RoiAlign`` has half-pixel (aligned) coordinates, i.e. exactly mmcv's
RoIAlign; CANN 8.0 documents RoiAlign for opsets 10–18 and the attribute from 16 on. Below 16
the aligned mode is emulated and differs for RoIs thinner than one feature pixel."""
ATOL = 1e-3
"""Absolute tolerance of ORT vs PyTorch, relative to an output's largest magnitude."""


@dataclass
class OutputCheck:
    """One output of one graph: ORT against PyTorch."""

    name: str
    shape: tuple[int, ...]
    shape_ok: bool
    max_abs: float
    max_rel: float
    tol: float

    @property
    def ok(self) -> bool:
        return self.shape_ok and self.max_abs <= self.tol

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "shape_ok": self.shape_ok,
            "max_abs": self.max_abs,
            "max_rel": self.max_rel,
            "tol": self.tol,
            "ok": self.ok,
        }


@dataclass
class GraphCheck:
    """Everything export verified about one written graph."""

    stage: str
    graph: str
    checker_ok: bool
    checker_error: str = ""
    outputs: list[OutputCheck] = field(default_factory=list)
    lint: dict = field(default_factory=dict)

    @property
    def parity_ok(self) -> bool:
        return all(o.ok for o in self.outputs)

    def to_dict(self) -> dict:
        return {
            "stage": self.stage,
            "graph": self.graph,
            "checker_ok": self.checker_ok,
            "checker_error": self.checker_error,
            "parity_ok": self.parity_ok,
            "outputs": [o.to_dict() for o in self.outputs],
            "lint": self.lint,
        }


def _spec(name: str, arr: np.ndarray) -> TensorSpec:
    return TensorSpec(name, tuple(int(d) for d in arr.shape), str(arr.dtype))


def fold_constants(model_bytes: bytes, output_shapes: Sequence[tuple[int, ...]]) -> bytes:
    """Fold the shape arithmetic the tracer leaves (Shape/Gather/Concat chains) into constants.

    Uses ONNX Runtime's *basic* level only — constant folding, redundant-node removal and
    standard-op fusions (e.g. MatMul+Add → Gemm), all in the default ONNX domain — then drops
    opset imports no node uses and states every output's static shape.
    """
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.onnx", Path(tmp) / "out.onnx"
        src.write_bytes(model_bytes)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.optimized_model_filepath = str(dst)
        opts.log_severity_level = 3
        ort.InferenceSession(str(src), opts, providers=["CPUExecutionProvider"])
        model = onnx.load(str(dst))
    used = {n.domain for n in model.graph.node} | {""}
    keep = [o for o in model.opset_import if o.domain in used or o.domain == "ai.onnx"]
    del model.opset_import[:]
    model.opset_import.extend(keep)
    for value, shape in zip(model.graph.output, output_shapes):
        dims = value.type.tensor_type.shape.dim
        del dims[:]
        for d in shape:
            dims.add().dim_value = int(d)
    return model.SerializeToString()


def _tensors(arrays: Sequence[np.ndarray]) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)


def run_module(module: nn.Module, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """A stage module run eagerly on numpy inputs; its outputs as a list of numpy arrays."""
    with torch.no_grad():
        out = module(*_tensors(inputs))
    out = [out] if isinstance(out, torch.Tensor) else list(out)
    return [o.detach().cpu().numpy() for o in out]


def export_graph(
    module: nn.Module,
    inputs: Sequence[np.ndarray],
    input_names: Sequence[str],
    output_names: Sequence[str],
    path: Path,
    opset: int = DEFAULT_OPSET,
) -> tuple[GraphMeta, list[np.ndarray]]:
    """Export ``module`` at the shapes of ``inputs`` to ``path``; return its meta and the
    PyTorch outputs for those inputs (the reference the ORT check compares against)."""
    args = _tensors(inputs)
    ref_np = run_module(module, inputs)
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        kwargs = {"dynamo": False} if "dynamo" in torch.onnx.export.__code__.co_varnames else {}
        try:
            torch.onnx.export(
                module,
                args,
                buf,
                input_names=list(input_names),
                output_names=list(output_names),
                opset_version=opset,
                do_constant_folding=True,
                **kwargs,
            )
        except Exception as exc:
            raise VitdetError(
                f"ONNX export of {path.parent.name}/{path.stem} failed: {exc}".splitlines()[0],
                hint="try another --opset (11–17); the full error is in --verbose output",
                code="export_failed",
            ) from exc
    write_bytes_atomic(path, fold_constants(buf.getvalue(), [r.shape for r in ref_np]))
    meta = GraphMeta(
        file=path.name,
        sha256=sha256_file(path),
        inputs=tuple(_spec(n, a) for n, a in zip(input_names, inputs)),
        outputs=tuple(_spec(n, a) for n, a in zip(output_names, ref_np)),
    )
    return meta, ref_np


def check_graph(
    stage: str,
    graph: str,
    path: Path,
    meta: GraphMeta,
    inputs: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    atol: float = ATOL,
) -> GraphCheck:
    """``onnx.checker`` on the file, then ORT (CPU) vs ``reference`` output by output."""
    import onnx
    import onnxruntime as ort

    result = GraphCheck(stage, graph, checker_ok=True)
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:
        result.checker_ok, result.checker_error = False, str(exc).splitlines()[0][:300]
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    got = sess.run(meta.output_names, dict(zip(meta.input_names, inputs)))
    for spec, g, r in zip(meta.outputs, got, reference):
        shape_ok = tuple(g.shape) == tuple(r.shape)
        scale = float(np.abs(r).max()) if r.size else 0.0
        tol = atol * max(1.0, scale)
        if shape_ok and r.size:
            diff = np.abs(g.astype(np.float64) - r.astype(np.float64))
            max_abs = float(diff.max())
            max_rel = float(max_abs / max(scale, 1e-12))
        else:
            max_abs = max_rel = 0.0 if shape_ok else float("inf")
        result.outputs.append(
            OutputCheck(spec.name, tuple(g.shape), shape_ok, max_abs, max_rel, tol)
        )
    return result
