"""Sealed artifacts with a real export: configs never executed, one checkpoint, no half-folder."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from tests.export.conftest import TINY_CONFIG, make_checkpoint
from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.manifest import read_manifest
from vitdet_cli.artifacts.model_config import TRAIN_NAME
from vitdet_cli.errors import VitdetError

pytestmark = [pytest.mark.mmcv, pytest.mark.slow]


def payload(path: Path, marker: Path) -> Path:
    """A Python config that leaves ``marker`` behind if anything ever executes it."""
    path.write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\nmodel = dict()\n"
    )
    return path


def test_payload_config_beside_the_checkpoint_never_runs(cli, exported, tiny_checkpoint, tmp_path):
    from vitdet_cli.model.loading import load_trained_model

    marker = tmp_path / "RAN"
    work = tmp_path / "work"
    work.mkdir()
    ckpt = Path(shutil.copy(tiny_checkpoint, work / "iter_1.pth"))
    py = payload(work / "vitdet_config.py", marker)
    result = cli("export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "a"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert str(py) in result.output and "--config" in result.output
    assert not marker.exists() and not (tmp_path / "a").exists()
    # the data config that `vitdet train` writes beside it is what export reads instead
    shutil.copy(exported[0] / "export" / "model_config.json", work / TRAIN_NAME)
    assert load_trained_model(ckpt).config_source == str(work / TRAIN_NAME)
    assert not marker.exists()


def test_payload_in_the_artifacts_never_runs(cli, exported, tmp_path, reseal):
    art = tmp_path / "art"
    shutil.copytree(exported[0], art)
    marker = tmp_path / "RAN"
    payload(art / "export" / "model_config.py", marker)
    image = tmp_path / "im.jpg"
    from vitdet_cli.export.api import sample_image

    cv2.imwrite(str(image), sample_image(None, 160))
    args = ["infer", "--artifacts", str(art), "--img", str(image), "--backend", "torch"]
    result = cli(*args, "--out", str(tmp_path / "o1"))
    assert result.exit_code == 1 and "model_config.py" in result.output
    assert "not listed" in result.output and not marker.exists()
    reseal(art)  # even when the manifest is rewritten to bless it, the .py is only data
    result = cli(*args, "--out", str(tmp_path / "o2"))
    assert result.exit_code == 0, result.output
    assert not marker.exists()


def test_stages_of_another_checkpoint_are_refused_same_one_updates(exported, tmp_path):
    from vitdet_cli.export.api import export_artifacts

    art = tmp_path / "art"
    shutil.copytree(exported[0], art)
    before = read_manifest(art)
    other = make_checkpoint(tmp_path / "other.pth", seed=1)
    with pytest.raises(VitdetError) as err:
        export_artifacts(other, TINY_CONFIG, art, stages="backbone")
    assert err.value.code == "checkpoint_differs" and str(art) in err.value.message
    assert read_manifest(art) == before and Artifacts.open(art).checks
    ckpt = Path(before.checkpoint["path"])
    export_artifacts(ckpt, TINY_CONFIG, art, stages="rpn")
    after = Artifacts.open(art)
    assert after.checkpoint["sha256"] == before.checkpoint["sha256"]
    assert set(after.manifest.files) == set(before.files)
    assert after.manifest.created >= before.created and all(r.ok for r in after.checks)


def test_killed_export_leaves_a_folder_that_does_not_verify(cli, exported, tmp_path):
    art = tmp_path / "art"
    shutil.copytree(exported[0], art)
    ckpt = read_manifest(art).checkpoint["path"]
    code = "import sys; from vitdet_cli.app import app; sys.argv[0] = 'vitdet'; app()"
    argv = [sys.executable, "-c", code, "export", "--checkpoint", ckpt, "--config"]
    argv += [str(TINY_CONFIG), "--out", str(art)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    graph, deadline = art / "export" / "backbone" / "model.onnx", time.monotonic() + 300
    try:  # kill once export has started rewriting the folder
        while proc.poll() is None and time.monotonic() < deadline:
            if not (art / "manifest.json").exists() and graph.exists():
                break
            time.sleep(0.05)
        assert proc.poll() is None, "export finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    with pytest.raises(VitdetError) as err:
        Artifacts.open(art)
    assert err.value.code == "manifest_missing"
    result = cli("verify", str(art))
    assert result.exit_code == 1 and "manifest.json" in result.output
