"""Real training runs on CPU: a few iterations, 2-process gloo, and resume after kill -9."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.training.conftest import TINY
from vitdet_cli.training.checkpoints import is_complete, latest_complete

pytestmark = pytest.mark.slow


def vitdet(*args, env=None, **kw):
    return subprocess.run(
        [sys.executable, "-m", "vitdet_cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        **kw,
    )


def sets(overrides):
    out = []
    for o in overrides:
        out += ["--set", o]
    return out


def test_tiny_training_end_to_end(cli_json, tiny_overrides, tmp_path):
    wd = tmp_path / "run"
    result, data = cli_json(
        "train", TINY, "--work-dir", str(wd), *sets(tiny_overrides(iters=4, ckpt=2))
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (wd / "metrics.jsonl").read_text().splitlines()]
    train_iters = [r["iter"] for r in rows if r["mode"] == "train"]
    assert train_iters == [1, 2, 3, 4] and all(r["loss"] > 0 for r in rows if r["mode"] == "train")
    val = [r for r in rows if r["mode"] == "val"]
    assert len(val) == 1 and "coco/bbox_mAP" in val[0] and "coco/segm_mAP" in val[0]
    assert data["final_metrics"]["coco/bbox_mAP"] == val[0]["coco/bbox_mAP"]
    assert (wd / "curves.png").stat().st_size > 1000 and (wd / "final_metrics.json").is_file()
    assert is_complete(wd / "iter_4.pth") and latest_complete(wd).name == "iter_4.pth"
    assert not list(wd.glob("*.tmp")) and not list(wd.glob(".*.tmp"))


def test_dry_run_prints_config_and_launch(cli_json, tiny_overrides, tmp_path):
    result, data = cli_json(
        "train",
        TINY,
        "--device",
        "npu",
        "--devices",
        "6,7",
        "--dry-run",
        "--work-dir",
        str(tmp_path / "dry"),
        *sets(tiny_overrides()),
    )
    assert result.exit_code == 0, result.output
    assert data["env"] == {"ASCEND_RT_VISIBLE_DEVICES": "6,7"} and data["backend"] == "hccl"
    assert "torch.distributed.run" in data["command"] and "--nproc-per-node=2" in data["command"]
    assert data["mmengine_config"]["train_cfg"]["max_iters"] == 4
    assert not list((tmp_path / "dry").glob("*.pth"))


def test_two_process_gloo_ranks_agree(tiny_overrides, tmp_path):
    wd = tmp_path / "ddp"
    proc = vitdet(
        "--json",
        "train",
        TINY,
        "--device",
        "cpu",
        "--devices",
        "0,1",
        "--work-dir",
        str(wd),
        "--master-port",
        "29631",
        *sets(tiny_overrides(iters=3, ckpt=3)),
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout)
    assert data["ranks_in_sync"] is True
    digests = [json.loads((wd / "ranks" / f"rank_{r}.json").read_text()) for r in (0, 1)]
    assert digests[0]["sha256"] == digests[1]["sha256"] and digests[0]["world_size"] == 2
    assert is_complete(wd / "iter_3.pth")


def test_resume_after_kill_9(tiny_overrides, tmp_path):
    wd = tmp_path / "crash"
    args = ["train", TINY, "--work-dir", str(wd), *sets(tiny_overrides(iters=10, ckpt=2))]
    proc = subprocess.Popen(
        [sys.executable, "-m", "vitdet_cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if any(is_complete(p) for p in wd.glob("iter_4.pth")):
            break
        time.sleep(0.2)
    assert proc.poll() is None, "training ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = latest_complete(wd)
    assert before is not None and int(before.stem.split("_")[1]) < 10
    resumed = vitdet("--json", *args, "--resume", timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads(resumed.stdout)["resumed_from"] == str(before)
    from vitdet_cli.model.shims import allow_mmengine_checkpoints

    allow_mmengine_checkpoints()  # our checkpoints load safely (weights_only) with the shim
    ckpt = torch.load(wd / "iter_10.pth", weights_only=True, map_location="cpu")
    assert ckpt["meta"]["iter"] == 10
    rows = [json.loads(x) for x in (wd / "metrics.jsonl").read_text().splitlines() if x.strip()]
    train_iters = [r["iter"] for r in rows if r["mode"] == "train"]
    assert max(train_iters) == 10 and len(train_iters) == len(set(train_iters))  # no repeats
