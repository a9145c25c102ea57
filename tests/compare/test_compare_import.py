"""The comparison code runs on a bare inference box: numpy only, pycocotools on use."""

from __future__ import annotations

import json
import subprocess
import sys

MODULES = [
    "vitdet_cli.compare",
    "vitdet_cli.compare.tensors",
    "vitdet_cli.compare.crops",
    "vitdet_cli.compare.detections",
    "vitdet_cli.compare.coco_eval",
]
HEAVY = ["torch", "mmcv", "mmdet", "mmengine", "torchvision", "pycocotools"]


def test_compare_imports_no_heavy_modules():
    code = (
        "import importlib, json, sys\n"
        f"for m in {MODULES!r}: importlib.import_module(m)\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
