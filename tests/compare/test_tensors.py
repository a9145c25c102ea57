"""Tensor parity: known values, shapes, NaN, integers, empty tensors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vitdet_cli.compare.tensors import REL_EPS, compare_outputs, tensor_parity


def test_known_values():
    a = np.array([1.0, 2.0, 3.0], np.float32)
    b = np.array([1.0, 2.5, 2.0], np.float32)
    p = tensor_parity(a, b, "x", atol=1.0, rtol=0.0)
    assert p.shape_ok and p.shape_a == p.shape_b == (3,)
    assert p.max_abs == pytest.approx(1.0)
    assert p.max_rel == pytest.approx(1.0 / (2.0 + REL_EPS))  # 0, 0.5/2.5, 1/2
    assert p.cosine == pytest.approx(12 / math.sqrt(14 * 11.25))
    assert p.within_tol  # |diff| <= 1 everywhere
    assert not tensor_parity(a, b, "x", atol=0.5, rtol=0.0).within_tol
    assert tensor_parity(a, b, "x", atol=0.0, rtol=0.5).within_tol  # 1 <= 0.5 * 2


def test_identical_and_empty():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    p = tensor_parity(a, a.copy(), "same", 0.0, 0.0)
    assert (p.max_abs, p.max_rel, p.within_tol) == (0.0, 0.0, True)
    assert p.cosine == pytest.approx(1.0)
    e = tensor_parity(np.zeros((0, 4)), np.zeros((0, 4)), "empty", 1e-5, 1e-5)
    assert e.shape_ok and e.within_tol and (e.max_abs, e.cosine) == (0.0, 1.0)


def test_shape_mismatch():
    p = tensor_parity(np.zeros((2, 3)), np.zeros((3, 2)), "s", 1.0, 1.0)
    assert not p.shape_ok and not p.within_tol
    assert (p.shape_a, p.shape_b) == ((2, 3), (3, 2))
    assert p.max_abs is None and p.cosine is None


def test_nan_is_never_within_tolerance():
    a = np.array([1.0, np.nan, 3.0])
    b = np.array([1.0, np.nan, 3.5])
    p = tensor_parity(a, b, "n", atol=1.0, rtol=1.0)
    assert not p.within_tol and p.n_nan == 1
    assert p.max_abs == pytest.approx(0.5)  # over the non-NaN positions
    d = p.to_dict()
    assert d["cosine"] is None
    json.dumps(d, allow_nan=False)
    all_nan = tensor_parity(np.full(2, np.nan), np.zeros(2), "n", 1.0, 1.0).to_dict()
    assert all_nan["max_abs"] is None and all_nan["n_nan"] == 2


def test_integer_outputs_do_not_wrap():
    a = np.array([0, 5, 255], np.uint8)
    b = np.array([1, 5, 250], np.uint8)
    p = tensor_parity(a, b, "labels", atol=0, rtol=0)
    assert p.max_abs == 5.0 and not p.within_tol
    assert tensor_parity(a, a.copy(), "labels", 0, 0).within_tol


def test_compare_outputs_reports_missing_names():
    a = {"cls": np.ones(3), "box": np.zeros(4)}
    b = {"box": np.zeros(4), "mask": np.ones(2)}
    rows = compare_outputs(a, b, atol=1e-4, rtol=1e-4)
    assert [r.name for r in rows] == ["cls", "box", "mask"]
    cls, box, mask = rows
    assert box.within_tol and box.shape_ok
    assert not cls.shape_ok and cls.shape_a == (3,) and cls.shape_b is None
    assert not mask.shape_ok and mask.shape_a is None and mask.shape_b == (2,)
    assert json.loads(json.dumps([r.to_dict() for r in rows]))[2]["shape_b"] == [2]
