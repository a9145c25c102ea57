"""`vitdet data ...` through the real CLI."""

import json

import pytest
from typer.testing import CliRunner

from vitdet_cli.app import app

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def run(*args):
    return CliRunner().invoke(app, list(args))


def test_synth_json_then_check_and_subset(tmp_path):
    out = tmp_path / "ds"
    r = run("data", "synth", "--out", str(out), "--images", "6", "--size", "128", "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["num_images"] == {"train": 5, "val": 1} and (out / "preview.jpg").is_file()

    r = run("--json", "data", "check", "--ann", info["train_ann"], "--images", info["train_img"])
    assert r.exit_code == 0 and json.loads(r.stdout)["images"] == 5

    sub = tmp_path / "sub.json"
    r = run("data", "subset", "--ann", info["train_ann"], "--n", "2", "--out", str(sub))
    assert r.exit_code == 0 and len(json.loads(sub.read_text())["images"]) == 2


def test_synth_table_output_and_refusal(tmp_path):
    r = run("data", "synth", "--out", str(tmp_path / "ds"), "--images", "3", "--size", "96")
    assert r.exit_code == 0 and "ring" in r.stdout and "preview" in r.stdout
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    r = run("data", "synth", "--out", str(tmp_path / "other"), "--images", "3", "--size", "96")
    assert r.exit_code == 2 and "--force" in r.output and "Traceback" not in r.output


def test_check_missing_file_fails_cleanly(tmp_path):
    missing = tmp_path / "nope.json"
    r = run("data", "check", "--ann", str(missing), "--images", str(tmp_path))
    assert r.exit_code == 1
    assert str(missing) in r.output and "Traceback" not in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    r = run("--json", "data", "check", "--ann", str(missing), "--images", str(tmp_path))
    assert json.loads(r.stdout)["error"]["code"] == "data_ann_missing"
