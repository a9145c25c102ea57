"""A random-init vit-tiny checkpoint and its exported artifacts, shared by the export tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY_CONFIG = ROOT / "configs" / "vitdet_tiny_shapes.yaml"


def make_checkpoint(path: Path, seed: int = 0) -> Path:
    """A random-init vit-tiny checkpoint with the synthetic set's class names."""
    from vitdet_cli.data.synth import CLASS_NAMES
    from vitdet_cli.model.random_init import save_random_checkpoint

    return save_random_checkpoint(TINY_CONFIG, path, CLASS_NAMES, seed=seed)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    pytest.importorskip("mmcv.ops", reason="needs mmcv with ops (vitdet build-mmcv)")
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "iter_1.pth")


@pytest.fixture(scope="session")
def exported(tiny_checkpoint, tmp_path_factory):
    """(artifacts dir, ExportResult) of the tiny checkpoint."""
    from vitdet_cli.export.api import export_artifacts

    out = tmp_path_factory.mktemp("artifacts") / "tiny"
    return out, export_artifacts(tiny_checkpoint, TINY_CONFIG, out)
