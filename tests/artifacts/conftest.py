"""Fixtures of the artifacts tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from artifacts_test_helpers import build_folder


@pytest.fixture
def folder(tmp_path) -> Path:
    return build_folder(tmp_path / "art")
