"""Per-output tensor parity between two runs of the same stage (e.g. ONNX Runtime vs PyTorch).

As optimum's ONNX validation: check each output's shape, then the differences against a
stated tolerance. ``within_tol`` is ``numpy.allclose`` semantics with ``b`` the reference,
``|a - b| <= atol + rtol * |b|`` everywhere, and false when either side holds a NaN.
``max_rel`` is the element-wise ``max |a - b| / (|b| + REL_EPS)``: informative where ``b`` is
not tiny, large (by design) where ``b`` is near zero, so the verdict never rests on it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Mapping, Optional

import numpy as np

REL_EPS = 1e-6
"""Added to ``|b|`` in ``max_rel``: below float32 resolution of typical activations (~1)."""


@dataclass
class TensorParity:
    """How one output of run A compares with the reference run B.

    ``shape_a`` / ``shape_b`` are None for an output missing on that side. The numbers are
    None when the shapes differ; ``max_abs``/``max_rel`` ignore NaN positions (counted in
    ``n_nan``), ``cosine`` is over the flattened tensors (1.0 for two empty or two all-zero
    tensors, 0.0 when only one is all zero).
    """

    name: str
    shape_a: Optional[tuple[int, ...]]
    shape_b: Optional[tuple[int, ...]]
    shape_ok: bool
    max_abs: Optional[float]
    max_rel: Optional[float]
    cosine: Optional[float]
    within_tol: bool
    atol: float
    rtol: float
    n_nan: int = 0

    def to_dict(self) -> dict:
        """JSON-ready: shapes as lists, non-finite numbers as None."""
        d = asdict(self)
        for key in ("shape_a", "shape_b"):
            d[key] = None if d[key] is None else list(d[key])
        for key in ("max_abs", "max_rel", "cosine"):
            v = d[key]
            d[key] = None if v is None or not math.isfinite(v) else v
        return d


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 1.0 if na == nb else 0.0
    return float(np.dot(a, b) / (na * nb))


def tensor_parity(
    a: np.ndarray, b: np.ndarray, name: str, atol: float, rtol: float
) -> TensorParity:
    """Compare ``a`` with the reference ``b`` (any numeric or bool dtype; computed in float64)."""
    a, b = np.asarray(a), np.asarray(b)
    shapes = (tuple(a.shape), tuple(b.shape))
    if a.shape != b.shape:
        return TensorParity(name, *shapes, False, None, None, None, False, atol, rtol)
    fa = a.astype(np.float64).reshape(-1)
    fb = b.astype(np.float64).reshape(-1)
    nan = np.isnan(fa) | np.isnan(fb)
    n_nan = int(nan.sum())
    ok = ~nan
    with np.errstate(invalid="ignore"):
        diff = np.where(fa[ok] == fb[ok], 0.0, np.abs(fa[ok] - fb[ok]))  # inf == inf: 0
        rel = diff / (np.abs(fb[ok]) + REL_EPS)
        max_abs = float(diff.max()) if diff.size else (math.nan if n_nan else 0.0)
        max_rel = float(rel.max()) if rel.size else (math.nan if n_nan else 0.0)
        cosine = math.nan if n_nan else _cosine(fa, fb)
        within = n_nan == 0 and bool(np.allclose(fa, fb, atol=atol, rtol=rtol))
    return TensorParity(name, *shapes, True, max_abs, max_rel, cosine, within, atol, rtol, n_nan)


def scaled_parity(a: np.ndarray, b: np.ndarray, name: str, atol: float) -> TensorParity:
    """:func:`tensor_parity` within ``atol * max(1, max |b|)``: a stage output judged against
    the reference's range, as compare and tune judge stage tensors."""
    scale = float(np.abs(b).max()) if np.size(b) else 0.0
    return tensor_parity(a, b, name, atol * max(1.0, scale), 0.0)


def compare_outputs(
    dict_a: Mapping[str, np.ndarray], dict_b: Mapping[str, np.ndarray], atol: float, rtol: float
) -> list[TensorParity]:
    """:func:`tensor_parity` for every output name, in A's order then B's extra names.

    A name present on one side only is reported as a shape mismatch (the other shape None).
    """
    rows = []
    for name in [*dict_a, *(n for n in dict_b if n not in dict_a)]:
        if name in dict_a and name in dict_b:
            rows.append(tensor_parity(dict_a[name], dict_b[name], name, atol, rtol))
        else:
            shape_a = tuple(np.shape(dict_a[name])) if name in dict_a else None
            shape_b = tuple(np.shape(dict_b[name])) if name in dict_b else None
            rows.append(
                TensorParity(name, shape_a, shape_b, False, None, None, None, False, atol, rtol)
            )
    return rows
