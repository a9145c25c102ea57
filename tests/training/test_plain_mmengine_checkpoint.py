"""A checkpoint written the way MMDetection's tools/train.py writes it, used by vitdet.

A clean interpreter trains the official-layout config with a bare mmengine ``Runner`` (its own
CheckpointHook, none of our hooks or shims); ``projects.ViTDet.vitdet`` is a stand-in package
that registers our classes, as the real project registers its own. vitdet then exports,
evaluates, compares and resumes from that file, given the official config.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from official_config import write_official_config

from vitdet_cli.data.synth import CLASS_NAMES

pytestmark = [pytest.mark.mmcv, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
LOCAL_ONLY = "visualizer.vis_backends=[{type: LocalVisBackend}]"

PLAIN_TRAIN = """
import sys
from mmengine.config import Config
from mmengine.runner import Runner
cfg = Config.fromfile(sys.argv[1])  # imports custom_imports, as tools/train.py does
cfg.work_dir = sys.argv[2]
cfg.optim_wrapper.type = 'OptimWrapper'  # CPU: what --cfg-options would say
cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
cfg.model.backbone.init_cfg = None
Runner.from_cfg(cfg).train()
import vitdet_cli.model.shims as shims
assert not shims._applied, shims._applied  # nothing of ours patched mmengine here
"""


def _stand_in_project(root: Path) -> Path:
    package = root / "projects" / "ViTDet" / "vitdet"
    package.mkdir(parents=True)
    for folder in (root / "projects", root / "projects" / "ViTDet"):
        (folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text(
        "from vitdet_cli.model import register_modules\nregister_modules()\n"
    )
    return root


@pytest.fixture(scope="module")
def plain_run(shapes_root, tmp_path_factory):
    """(config, checkpoint) of a 2-iteration plain mmengine run."""
    tmp = tmp_path_factory.mktemp("plain")
    cfg = write_official_config(tmp / "cfg", str(shapes_root), CLASS_NAMES, iters=2)
    project = _stand_in_project(tmp / "mmdet_root")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(project), str(ROOT)]))
    proc = subprocess.run(
        [sys.executable, "-c", PLAIN_TRAIN, str(cfg), str(tmp / "work")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return cfg, tmp / "work" / "iter_2.pth"


def test_plain_checkpoint_loads_weights_only(plain_run):
    from vitdet_cli.model.checkpoint import read_checkpoint
    from vitdet_cli.model.shims import allow_mmengine_checkpoints

    allow_mmengine_checkpoints()
    obj = read_checkpoint(plain_run[1])
    assert {"meta", "state_dict", "message_hub", "optimizer", "param_schedulers"} <= set(obj)
    assert tuple(obj["meta"]["dataset_meta"]["classes"]) == CLASS_NAMES
    buffers = obj["message_hub"]["log_scalars"]
    assert buffers["train/loss"].current() > 0


def test_export_eval_and_compare_with_the_official_config(
    plain_run, shapes_root, tmp_path, cli_json
):
    from vitdet_cli.evaluation.checkpoint import evaluate_checkpoint
    from vitdet_cli.export.api import export_artifacts
    from vitdet_cli.model.loading import load_trained_model
    from vitdet_cli.model.vit import ViT

    cfg, ckpt = plain_run
    trained = load_trained_model(ckpt, cfg)
    assert isinstance(trained.model.backbone, ViT) and tuple(trained.class_names) == CLASS_NAMES
    assert trained.model.backbone.blocks[0].norm1.eps == 1e-5  # no eps in the config: mmcv's
    out = tmp_path / "artifacts"
    result = export_artifacts(ckpt, cfg, out)
    assert result.ok
    copied = json.loads((out / "export" / "model_config.json").read_text())  # data, not code
    assert copied["model"]["backbone"]["type"] == "ViT" and "custom_imports" not in copied
    ann = shapes_root / "annotations" / "instances_val.json"
    metrics = evaluate_checkpoint(ckpt, cfg, ann, shapes_root / "val", limit=2)
    assert metrics["images"] == 2 and "bbox" in metrics
    image = sorted((shapes_root / "val").iterdir())[0]
    res, data = cli_json(
        "compare", "--artifacts", str(out), "--img", str(image), "--out", str(tmp_path / "cmp")
    )
    assert res.exit_code == 0, res.output  # the torch side reads export/model_config.json
    assert "error" not in data


def test_resume_from_the_plain_checkpoint(plain_run, tmp_path):
    cfg, ckpt = plain_run
    wd = tmp_path / "resumed"
    argv = [sys.executable, "-m", "vitdet_cli", "--json", "train", str(cfg), "--device", "cpu"]
    argv += ["--resume", str(ckpt), "--work-dir", str(wd)]
    for pair in (LOCAL_ONLY, "model.backbone.init_cfg=null", "train_cfg.max_iters=3"):
        argv += ["--set", pair]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["resumed_from"] == str(ckpt)
    assert (wd / "iter_3.pth").is_file()
