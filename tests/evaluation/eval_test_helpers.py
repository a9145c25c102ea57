"""Session fixtures for the evaluation and bench tests: the export tests' tiny checkpoint and
artifacts, and a small synthetic val split. Loaded under one module name by both test folders,
so the export runs once per session."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

EXPORT_CONFTEST = Path(__file__).resolve().parents[1] / "export" / "conftest.py"
_CACHE: dict[str, object] = {}


def export_helpers():
    """tests/export/conftest.py as a plain module (for ``make_checkpoint``, ``TINY_CONFIG``)."""
    name = "vitdet_tests_export_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXPORT_CONFTEST)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def _once(key: str, make):
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    pytest.importorskip("mmcv.ops", reason="needs mmcv with ops (vitdet build-mmcv)")
    make = export_helpers().make_checkpoint
    return _once("ckpt", lambda: make(tmp_path_factory.mktemp("ckpt") / "iter_1.pth"))


@pytest.fixture(scope="session")
def exported(tiny_checkpoint, tmp_path_factory):
    """(artifacts dir, ExportResult) of the tiny checkpoint."""
    from vitdet_cli.export.api import export_artifacts

    config = export_helpers().TINY_CONFIG

    def make():
        out = tmp_path_factory.mktemp("artifacts") / "tiny"
        return out, export_artifacts(tiny_checkpoint, config, out)

    return _once("exported", make)


@pytest.fixture(scope="session")
def synth_val(tmp_path_factory) -> tuple[Path, Path]:
    """(annotation file, image folder) of a 6-image synthetic val split."""
    from vitdet_cli.data.synth import make_synthetic_dataset

    def make():
        ds = make_synthetic_dataset(
            tmp_path_factory.mktemp("synth"),
            images=12,
            seed=3,
            image_size=(96, 128),
            val_fraction=0.5,
            preview=False,
        )
        return ds.val_ann, ds.val_img

    return _once("synth", make)
