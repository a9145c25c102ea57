"""The deploy path must run on a bare inference box: numpy and cv2 only."""

from __future__ import annotations

import json
import subprocess
import sys

MODULES = [
    "vitdet_cli.runtime",
    "vitdet_cli.runtime.host",
    "vitdet_cli.runtime.host_config",
    "vitdet_cli.runtime.preprocess",
    "vitdet_cli.runtime.boxes",
    "vitdet_cli.runtime.postprocess",
    "vitdet_cli.runtime.masks",
    "vitdet_cli.runtime.policies",
]
HEAVY = ["torch", "mmcv", "mmdet", "mmengine", "torchvision"]


def test_runtime_imports_neither_torch_nor_openmmlab():
    code = (
        "import importlib, json, sys\n"
        f"for m in {MODULES!r}: importlib.import_module(m)\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
