"""Fixtures for the atc lint, atc compile and om backend tests (no Ascend software needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from atc_test_helpers import NPU_SMI, make_artifacts, write_fake_atc

from vitdet_cli.platform import cann


@pytest.fixture(autouse=True)
def no_ascend_env(monkeypatch):
    """No SoC or toolkit variables, and npu-smi reports nothing unless a test says otherwise."""
    for var in (*cann.SOC_ENV_VARS, *cann.HOME_ENV_VARS, "FAKE_ATC_MODE", "FAKE_ATC_RECORD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(cann, "run_npu_smi", lambda *a, **k: None)
    monkeypatch.setattr(cann, "toolkit_home", lambda environ=None: None)


@pytest.fixture
def artifacts(tmp_path) -> Path:
    return make_artifacts(tmp_path / "art")


@pytest.fixture
def fake_atc(tmp_path, monkeypatch) -> Path:
    """A fake ``atc`` first on PATH; its calls are recorded in the returned file."""
    exe = write_fake_atc(tmp_path / "bin")
    record = tmp_path / "atc_calls.jsonl"
    monkeypatch.setenv("PATH", f"{exe.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ATC_RECORD", str(record))
    return record


@pytest.fixture
def smi_910b3() -> str:
    return (NPU_SMI / "910b3_x2.txt").read_text()
