"""The deploy path must run on a bare inference box: numpy and cv2 only (pycocotools on use).

And ``vitdet --help`` stays fast: what it imports loads none of them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

RUNTIME = [
    "vitdet_cli.runtime",
    "vitdet_cli.runtime.detections",
    "vitdet_cli.runtime.host",
    "vitdet_cli.runtime.host_config",
    "vitdet_cli.runtime.preprocess",
    "vitdet_cli.runtime.boxes",
    "vitdet_cli.runtime.postprocess",
    "vitdet_cli.runtime.masks",
    "vitdet_cli.runtime.policies",
    "vitdet_cli.runtime.results_json",
    "vitdet_cli.runtime.timing",
    "vitdet_cli.runtime.staged",
    "vitdet_cli.runtime.infer",
    "vitdet_cli.runtime.backends",
    "vitdet_cli.runtime.backends.ort",
    "vitdet_cli.runtime.backends.ov",
    "vitdet_cli.runtime.backends.om",
]
ARTIFACTS = [
    "vitdet_cli.artifacts",
    "vitdet_cli.artifacts.layout",
    "vitdet_cli.artifacts.meta",
    "vitdet_cli.artifacts.atc_meta",
    "vitdet_cli.artifacts.manifest",
    "vitdet_cli.artifacts.model_config",
    "vitdet_cli.artifacts.validate",
    "vitdet_cli.artifacts.folder",
    "vitdet_cli.commands.verify",
]
COMPARE = [
    "vitdet_cli.compare",
    "vitdet_cli.compare.tensors",
    "vitdet_cli.compare.crops",
    "vitdet_cli.compare.detections",
]
HEAVY = ["torch", "mmcv", "mmdet", "mmengine", "torchvision", "pycocotools"]
NO_ONNX = ["onnx", "onnxruntime", *HEAVY]
"""The artifacts package is the bottom layer: it reads graphs' metas, never the graphs."""


def imported(modules: list[str], watch: list[str]) -> list[str]:
    """Which of ``watch`` a fresh interpreter has loaded after importing ``modules``."""
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(json.dumps(sorted(m for m in {watch!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("modules", [RUNTIME, COMPARE], ids=["runtime", "compare"])
def test_deploy_modules_import_no_heavy_packages(modules):
    assert imported(modules, HEAVY) == []


def test_artifacts_package_imports_neither_torch_nor_onnx():
    assert imported(ARTIFACTS, NO_ONNX) == []


def test_cli_help_path_imports_no_heavy_packages():
    """What ``vitdet --help`` imports (the app, every command module) stays light: no torch,
    onnx, numpy or cv2 (commands import their libraries when they run)."""
    assert imported(["vitdet_cli.app", "vitdet_cli.commands"], [*NO_ONNX, "numpy", "cv2"]) == []
