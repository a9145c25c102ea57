"""Fixtures of the tune tests: the artifacts tests' tiny constant-graph folder (fast, no torch)
and the evaluation tests' tiny real export with its synthetic val split (one per session)."""

import shutil
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "evaluation"))
sys.path.insert(0, str(TESTS / "artifacts"))

from artifacts_test_helpers import build_folder  # noqa: E402
from eval_test_helpers import exported, synth_val, tiny_checkpoint  # noqa: E402, F401


@pytest.fixture
def constant_folder(tmp_path) -> Path:
    """A sealed folder of constant graphs (no pipeline: host steps need real shapes)."""
    return build_folder(tmp_path / "const")


@pytest.fixture
def folder(exported, tmp_path) -> Path:  # noqa: F811
    """A copy of the session's tiny real export (the pipeline runs; weights are random)."""
    return Path(shutil.copytree(exported[0], tmp_path / "art"))
