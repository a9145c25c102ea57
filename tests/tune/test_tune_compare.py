"""`compare` checks what `infer` runs: the tuned pipeline by default, one runtime on request."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vitdet_cli.tune import tune_artifacts

pytest.importorskip("onnxruntime")


def test_compare_defaults_to_the_tuned_pipeline(cli_json, folder, tmp_path) -> None:
    tune_artifacts(folder, warmup=1, repeat=1)
    img = tmp_path / "img.png"
    cv2.imwrite(str(img), np.full((32, 32, 3), 128, np.uint8))
    base = ("compare", "--artifacts", str(folder), "--img", str(img), "--reference", "torch")
    _, tuned = cli_json(*base, "--out", str(tmp_path / "a"))
    assert tuned["names"]["a"].startswith("tuned (backbone: ")
    assert "tuning.json" in tuned["gates"]["reason"]
    _, forced = cli_json(*base, "--out", str(tmp_path / "b"), "--backend", "onnxruntime")
    assert forced["names"]["a"] == "onnxruntime"
