"""Hostile and damaged artifacts folders: every attack is refused on open, by name, no traceback."""

from __future__ import annotations

import json
import math
import os

import cv2
import numpy as np
import pytest
from artifacts_test_helpers import build_folder

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.manifest import read_manifest
from vitdet_cli.errors import VitdetError
from vitdet_cli.metafile import sha256_file


def _meta(folder, stage):
    path = folder / "export" / stage / "export_meta.json"
    return path, json.loads(path.read_text())


def _edit_meta(folder, stage, edit):
    path, data = _meta(folder, stage)
    edit(data)
    path.write_text(json.dumps(data))  # NaN is written as the literal NaN, as json allows
    return path


def _refused(folder, code=None, reseal=None) -> VitdetError:
    with pytest.raises(VitdetError) as err:
        (reseal or Artifacts.open)(folder)
    if code:
        assert err.value.code == code, err.value.message
    return err.value


def test_intact_folder_opens_and_hands_out_listed_files(folder):
    art = Artifacts.open(folder)
    assert set(art.metas) == {"backbone", "rpn", "roi"} and art.class_names == ["circle", "square"]
    assert art.graph_path("roi", "mask") == folder / "export" / "roi" / "mask.onnx"
    assert art.model_config().img_size == 8 and art.checkpoint["sha256"] == "1" * 64
    assert all(row.ok for row in art.checks) and len(art.checks) == 8
    with pytest.raises(VitdetError) as err:
        art.path("export/notes.txt")
    assert err.value.code == "artifacts_unlisted"


@pytest.mark.parametrize("file", ["../../../elsewhere/x.onnx", "/etc/passwd", "a/../../x.onnx"])
def test_graph_path_leading_out_is_refused(folder, reseal, file):
    path = _edit_meta(folder, "rpn", lambda d: d["graphs"]["model"].update(file=file))
    err = _refused(folder, "path_outside", reseal)  # even with the manifest updated to match
    assert str(path) in err.message and file in err.message


def test_manifest_entry_leading_out_is_refused(folder):
    manifest = folder / "manifest.json"
    data = json.loads(manifest.read_text())
    data["files"].append({"path": "../outside.bin", "size": 1, "sha256": "0" * 64})
    manifest.write_text(json.dumps(data))
    err = _refused(folder, "path_outside")
    assert "manifest.json" in err.message and "../outside.bin" in err.message


def test_symlink_leading_out_is_refused(folder, tmp_path):
    graph = folder / "export" / "rpn" / "model.onnx"
    outside = tmp_path / "elsewhere.onnx"
    graph.rename(outside)
    os.symlink(outside, graph)  # same bytes, so the hash alone would pass
    err = _refused(folder, "path_outside")
    assert str(graph) in err.message and "leads out" in err.message


def test_tampered_external_data_is_refused(tmp_path):
    folder = build_folder(tmp_path / "ext", external=True)
    weights = folder / "export" / "roi" / "bbox.weights"
    assert "export/roi/bbox.weights" in read_manifest(folder).files
    Artifacts.open(folder)
    weights.write_bytes(bytes(weights.stat().st_size))  # zeroed, same size
    err = _refused(folder, "artifacts_tampered")
    assert str(weights) in err.message and "sha256" in err.message


def test_unlisted_file_beside_the_graphs_is_refused(folder):
    payload = folder / "export" / "model_config.py"
    payload.write_text("raise SystemExit('must never run')\n")
    err = _refused(folder, "artifacts_tampered")
    assert str(payload) in err.message and "not listed" in err.message


def test_swapped_graph_is_refused_when_loaded(folder, reseal):
    from vitdet_cli.runtime.backends.ort import OrtBackend

    rpn = folder / "export" / "rpn" / "model.onnx"
    rpn.write_bytes((folder / "export" / "backbone" / "model.onnx").read_bytes())
    sha = sha256_file(rpn)
    _edit_meta(folder, "rpn", lambda d: d["graphs"]["model"].update(sha256=sha))
    art = reseal(folder)  # every hash agrees: only the graph's own signature can tell
    with pytest.raises(VitdetError) as err:
        OrtBackend(device="cpu").open(art, "rpn", "model")
    assert err.value.code == "graph_mismatch" and str(rpn) in err.value.message
    assert "inputs" in err.value.message and "'image'" in err.value.message
    session = OrtBackend(device="cpu").open(art, "roi", "bbox")
    assert [s.name for s in session.meta.outputs] == ["cls_score", "bbox_pred"]


def test_stages_of_different_checkpoints_are_refused(folder, reseal):
    path = _edit_meta(folder, "rpn", lambda d: d["checkpoint"].update(sha256="2" * 64))
    err = _refused(folder, "mixed_checkpoints", reseal)
    assert str(path) in err.message and "2222" in err.message


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda d: d["host"].update(mask_thr_binary=math.nan), "host.mask_thr_binary is nan"),
        (lambda d: d["host"].update(rcnn_score_thr=1.5), "host.rcnn_score_thr is 1.5"),
        (lambda d: d["host"].update(img_size=0), "host.img_size is 0"),
        (lambda d: d["host"].update(mean=[1.0, math.inf, 0.0]), "host.mean[1] is inf"),
        (lambda d: d.update(class_names=[]), "class_names must be a non-empty list"),
        (lambda d: d.update(class_names=["circle", ""]), "non-empty names"),
        (lambda d: d.update(class_names=["a", "b", "c"]), "output cls_score has shape [4, 3]"),
        (lambda d: d["graphs"]["bbox"]["inputs"][1].update(dtype="float99"), "'float99'"),
        (lambda d: d["graphs"]["bbox"]["inputs"][1].update(shape=[0, 5]), "not static"),
    ],
)
def test_bad_meta_values_are_refused_by_name(folder, reseal, edit, field):
    path = _edit_meta(folder, "roi", edit)
    err = _refused(folder, "meta_invalid", reseal)
    assert str(path) in err.message and field in err.message


def test_no_manifest_means_not_sealed(folder, cli_json):
    (folder / "manifest.json").unlink()
    err = _refused(folder, "manifest_missing")
    assert "did not finish" in err.hint
    result, data = cli_json("verify", str(folder))  # still shows what the folder holds
    assert result.exit_code == 1 and data["problems"][0]["code"] == "manifest_missing"
    rows = {r["path"]: r for r in data["files"]}
    assert "export/roi/mask.onnx" in rows and "manifest.json" not in rows
    assert {r["status"] for r in rows.values()} == {"unlisted"}


def test_verify_cli_table_json_and_exit_status(cli, cli_json, folder):
    result = cli("verify", str(folder))
    assert result.exit_code == 0, result.output
    assert "export/roi/mask.onnx" in result.stdout and "OK" in result.stdout
    graph = folder / "export" / "backbone" / "model.onnx"
    graph.write_bytes(graph.read_bytes()[:-1] + b"x")
    (folder / "export" / "rpn" / "stray.bin").write_bytes(b"?")
    result, data = cli_json("verify", str(folder))
    assert result.exit_code == 1 and not data["ok"]
    rows = {r["path"]: r for r in data["files"]}
    assert rows["export/backbone/model.onnx"]["status"] == "sha256 differs"
    assert rows["export/backbone/model.onnx"]["expected"] != rows["export/backbone/model.onnx"][
        "actual"
    ]
    assert rows["export/rpn/stray.bin"]["status"] == "unlisted"
    assert rows["export/roi/mask.onnx"]["status"] == "ok" and len(rows) == 9
    table = cli("verify", str(folder))
    assert table.exit_code == 1 and "sha256 differs" in table.stdout and "FAILED" in table.stdout
    assert "Traceback" not in table.output


@pytest.mark.parametrize("command", ["infer", "atc", "compare", "eval", "bench"])
def test_commands_refuse_a_tampered_folder_on_open(cli, folder, tmp_path, command):
    (folder / "export" / "roi" / "bbox.onnx").write_bytes(b"not the graph")
    image = tmp_path / "one.png"  # a good input: the folder is what must be refused
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    args = {
        "infer": ["infer", "--artifacts", str(folder), "--img", str(image)],
        "atc": ["atc", "--artifacts", str(folder), "--dry-run"],
        "compare": ["compare", "--artifacts", str(folder), "--img", str(image)],
        "eval": ["eval", "--artifacts", str(folder), "--data", str(tmp_path / "a.json")],
        "bench": ["bench", "--artifacts", str(folder), "--img", str(image)],
    }[command]
    result = cli(*args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "bbox.onnx" in result.output
    assert "differs from the manifest" in result.output

