"""`vitdet demo` end to end on a handful of iterations, then again reusing the finished run."""

from __future__ import annotations

import importlib.util
import json

import pytest

pytestmark = [pytest.mark.mmcv, pytest.mark.slow]


def test_demo_runs_every_step_and_reuses_the_training(cli_json, tiny_overrides, tmp_path):
    sets = []
    for o in tiny_overrides(iters=3, ckpt=3):
        sets += ["--set", o]
    work = tmp_path / "demo"
    result, data = cli_json("demo", "--work-dir", str(work), *sets)
    assert result.exit_code == 0, result.output
    assert data["trained_now"] and set(data["seconds"]) == {"train", "export", "infer", "compare"}
    assert data["compare"]["passed"]
    assert data["compare"]["coco"]["delta_points"]["bbox"] == pytest.approx(0.0, abs=0.1)
    assert data["infer"]["pictures"] and all((work / "infer/vis").iterdir())
    assert (work / "artifacts/export/roi/mask.onnx").is_file()
    summary = json.loads((work / "demo_summary.json").read_text())
    assert summary["export"]["ok"]

    # the reused run deployed on OpenVINO when it is installed (CI installs it: the dev extra)
    deployed = "openvino" if importlib.util.find_spec("openvino") else "onnxruntime"
    result, again = cli_json("demo", "--work-dir", str(work), *sets, "--backend", deployed)
    assert result.exit_code == 0, result.output
    assert not again["trained_now"] and again["infer"]["backend"] == deployed
    assert again["compare"]["passed"]

    # another config: the old run is moved aside, never resumed with the new settings
    result, changed = cli_json("demo", "--work-dir", str(work), *sets, "--set", "train.lr=1e-4")
    assert result.exit_code == 0, result.output
    assert changed["trained_now"] and changed["train"]["resumed_from"] is None
    assert "training again (the config differs" in " ".join(result.output.split())
    assert (work / "train.previous" / "iter_3.pth").is_file()
    previous, now = (work / d / "vitdet_config.py" for d in ("train.previous", "train"))
    assert previous.read_text() != now.read_text()  # the moved run keeps its own config


def test_demo_refuses_an_unknown_backend_before_training(cli, tmp_path):
    result = cli("demo", "--work-dir", str(tmp_path / "demo"), "--backend", "tensorrt")
    assert result.exit_code == 2
    assert "unknown backend 'tensorrt'" in result.output
    assert not (tmp_path / "demo" / "train").exists()
