"""ONNX Runtime session options of the staged backend."""

from __future__ import annotations

import pytest

from vitdet_cli.runtime.backends.ort import session_options

ort = pytest.importorskip("onnxruntime")


def test_idle_stage_pools_do_not_spin():
    opts = session_options(ort)
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert opts.intra_op_num_threads == 0  # onnxruntime's default: all cores
    assert session_options(ort, threads=3).intra_op_num_threads == 3


def test_no_arena_keeps_stage_peaks_from_adding_up():
    opts = session_options(ort)
    assert opts.enable_cpu_mem_arena is False  # ViT-B-1024 pipeline: 8.0 GB with, 4.0 without
    assert opts.enable_mem_pattern is True
