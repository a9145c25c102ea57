"""`vitdet train` with a config laid out as MMDetection's projects/ViTDet: adapted, checked."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from official_config import write_official_config

from vitdet_cli.data.synth import CLASS_NAMES
from vitdet_cli.errors import VitdetError

LOCAL_ONLY = "visualizer.vis_backends=[{type: LocalVisBackend}]"


def _sets(*pairs: str) -> list[str]:
    return [arg for pair in pairs for arg in ("--set", pair)]


def test_dry_run_adapts_the_official_config_to_cpu_ddp(cli_json, shapes_root, tmp_path):
    cfg = write_official_config(tmp_path / "cfg", str(shapes_root), CLASS_NAMES)
    result, data = cli_json(
        "train",
        str(cfg),
        "--dry-run",
        "--device",
        "cpu",
        "--devices",
        "0,1",
        "--work-dir",
        str(tmp_path / "wd"),
        *_sets(LOCAL_ONLY, "model.backbone.init_cfg=null"),
    )
    assert result.exit_code == 0, result.output
    mm = data["mmengine_config"]
    assert "custom_imports" not in mm and mm["model"]["backbone"]["type"] == "ViT"
    assert mm["optim_wrapper"]["type"] == "OptimWrapper"  # AmpOptimWrapper needs a GPU/NPU
    assert mm["optim_wrapper"]["constructor"] == "LayerDecayOptimizerConstructor"
    assert mm["model_wrapper_cfg"]["device_ids"] is None and mm["launcher"] == "pytorch"
    assert mm["env_cfg"]["dist_cfg"]["backend"] == "gloo"  # the base said nccl
    notices = " ".join(data["preflight"]["notices"])
    assert "AmpOptimWrapper" in notices and "nccl → gloo" in notices
    assert data["preflight"]["problems"] == []


def test_dry_and_real_runs_report_the_same_problems(cli_json, tmp_path, monkeypatch):
    """Absent data, absent MAE weights and (where it is not installed) TensorBoard."""
    from vitdet_cli.training.api import plan_training

    monkeypatch.chdir(tmp_path)
    cfg = write_official_config(tmp_path / "cfg", "data/coco", CLASS_NAMES)
    result, data = cli_json("train", str(cfg), "--dry-run", "--device", "cpu")
    assert result.exit_code == 2, result.output
    err = data["error"]
    assert err["code"] == "preflight_failed"
    for text in (
        "data/coco/annotations/instances_train.json",
        "train_dataloader.dataset.data_prefix.img data/coco/train ",
        "val_dataloader.dataset.ann_file data/coco/annotations/instances_val.json",
        "model.backbone.init_cfg.checkpoint mae_pretrain_vit_base.pth",
    ):
        assert text in err["message"], text
    assert "--set model.backbone.init_cfg=null" in err["hint"]
    tensorboard = importlib.util.find_spec("tensorboard") is not None
    assert ("TensorboardVisBackend" in err["message"]) is not tensorboard
    with pytest.raises(VitdetError) as real:
        plan_training(cfg, device="cpu", dry_run=False)
    assert real.value.code == "preflight_failed" and real.value.message == err["message"]


def test_foreign_custom_imports_are_refused(cli_json, shapes_root, tmp_path):
    cfg = write_official_config(tmp_path / "cfg", str(shapes_root), CLASS_NAMES)
    cfg.write_text(cfg.read_text() + "custom_imports = dict(imports=['my_pkg.hooks'])\n")
    result, data = cli_json("train", str(cfg), "--dry-run", "--device", "cpu")
    assert result.exit_code == 2 and data["error"]["code"] == "custom_imports"
    assert "my_pkg.hooks" in data["error"]["message"]


@pytest.mark.slow
@pytest.mark.mmcv
def test_official_config_trains_on_two_cpu_processes(shapes_root, tmp_path):
    """mmengine's default DDP wrapper passes CUDA device_ids; the CPU one must be used."""
    from vitdet_cli.training.checkpoints import is_complete

    cfg = write_official_config(tmp_path / "cfg", str(shapes_root), CLASS_NAMES, iters=2)
    wd = tmp_path / "ddp"
    argv = [sys.executable, "-m", "vitdet_cli", "--json", "train", str(cfg), "--device", "cpu"]
    argv += ["--devices", "0,1", "--work-dir", str(wd), "--master-port", "29641"]
    argv += _sets(LOCAL_ONLY, "model.backbone.init_cfg=null")
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert is_complete(wd / "iter_2.pth")
