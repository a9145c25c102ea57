"""Fixtures for the host-pipeline tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def mmdet_heads():
    """MMDetection's RPN and RoI heads for our model (parity tests only; needs mmcv ops)."""
    pytest.importorskip("mmcv.ops", reason="mmdet needs mmcv with ops (vitdet build-mmcv)")
    from runtime_test_helpers import build_mmdet_heads

    return build_mmdet_heads(80)
