"""Fixtures for the comparison tests (the real model's: the evaluation tests', one export per
session)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from compare_test_helpers import make_dets

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))

from eval_test_helpers import exported, synth_val, tiny_checkpoint  # noqa: E402, F401

from vitdet_cli.runtime.detections import Detections


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def dets(rng: np.random.Generator) -> Detections:
    """Six detections of three labels with masks, as after the policies."""
    return make_dets(rng)
