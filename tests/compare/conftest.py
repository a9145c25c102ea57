"""Fixtures for the comparison tests."""

from __future__ import annotations

import numpy as np
import pytest
from compare_test_helpers import make_dets

from vitdet_cli.compare.detections import DetSet


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def dets(rng: np.random.Generator) -> DetSet:
    """Six detections of three labels with masks, as after the policies."""
    return make_dets(rng)
