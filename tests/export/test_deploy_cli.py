"""`vitdet export / infer / compare` through the CLI, and their bad-input errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import pytest

pytestmark = [pytest.mark.mmcv, pytest.mark.slow]
TINY_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "vitdet_tiny_shapes.yaml"


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    from vitdet_cli.export.api import sample_image

    folder = tmp_path_factory.mktemp("imgs")
    for i, size in enumerate((200, 300)):
        cv2.imwrite(str(folder / f"im{i}.jpg"), sample_image(None, size))
    return folder


def test_export_cli_json(cli_json, tiny_checkpoint, tmp_path):
    result, data = cli_json(
        "export", "--checkpoint", str(tiny_checkpoint), "--config", str(TINY_CONFIG),
        "--out", str(tmp_path / "a"), "--stages", "backbone,rpn",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert data["ok"] and set(data["stages"]) == {"backbone", "rpn"}
    assert (tmp_path / "a/export/rpn/model.onnx").is_file()
    assert not (tmp_path / "a/export/roi").exists()


def test_infer_writes_results_pictures_and_timing(cli_json, exported, images, tmp_path):
    out = tmp_path / "inf"
    result, data = cli_json(
        "infer", "--artifacts", str(exported[0]), "--img", str(images), "--out", str(out),
        "--repeat", "2", "--score-thr", "0.3", "--dedup", "keep_top1_per_label",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert data["images"] == 2 and len(data["pictures"]) == 2
    assert all(Path(p).is_file() for p in data["pictures"])
    steps = data["timing"]["steps"]
    assert {"preprocess", "backbone", "rpn", "rpn_post", "roi_bbox", "bbox_post"} <= set(steps)
    entries = json.loads((out / "results.json").read_text())
    assert entries and all(e["score"] >= 0.3 for e in entries)
    labels = [(e["file_name"], e["category_id"]) for e in entries]
    assert len(labels) == len(set(labels))  # keep_top1_per_label
    assert {"bbox", "segmentation", "category_name"} <= set(entries[0])


def test_infer_compare_and_compare_command(cli, cli_json, exported, images, tmp_path):
    result, data = cli_json(
        "infer", "--artifacts", str(exported[0]), "--img", str(images / "im0.jpg"),
        "--out", str(tmp_path / "i"), "--compare",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    cmp = data["compare"]
    assert cmp["passed"] and cmp["detections"]["frac_ref_matched_strict"] >= 0.99
    block = cmp["images"][0]
    for side in ("a", "b"):
        for key in ("raw_count", "after_dedup", "after_score_thr", "dropped_by_dedup",
                    "dropped_by_score_thr", "score_stats", "top"):  # fmt: skip
            assert key in block[side]
    assert {t["graph"] for t in cmp["tensors"]} == {"backbone/model", "rpn/model", "roi/bbox",
                                                    "roi/mask"}  # fmt: skip
    result = cli("compare", "--artifacts", str(exported[0]), "--img", str(images),
                 "--out", str(tmp_path / "c"))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Detection parity" in result.output and "PASSED" in result.output
    assert (tmp_path / "c/compare.json").is_file()
    assert len(list((tmp_path / "c/compare").glob("*.jpg"))) == 2


@pytest.mark.parametrize("case", ["unreadable", "missing_artifacts", "truncated", "bad_dedup"])
def test_bad_input_is_a_clear_error(cli, exported, images, tmp_path, case):
    art, img = exported[0], images
    if case == "unreadable":
        img = tmp_path / "broken.jpg"
        img.write_bytes(b"not an image")
    elif case == "missing_artifacts":
        art = tmp_path / "nowhere"
    elif case == "truncated":
        art = tmp_path / "art"
        shutil.copytree(exported[0], art)
        onnx_file = art / "export/backbone/model.onnx"
        onnx_file.write_bytes(onnx_file.read_bytes()[:1000])
    extra = ["--dedup", "top3"] if case == "bad_dedup" else []
    result = cli("infer", "--artifacts", str(art), "--img", str(img), "--out",
                 str(tmp_path / "o"), *extra)  # fmt: skip
    assert result.exit_code in (1, 2)
    assert "Traceback" not in result.output and "error:" in result.output
    expected = {
        "unreadable": "cannot read image",
        "missing_artifacts": "not found",
        "truncated": "differs from the manifest",
        "bad_dedup": "unknown dedup policy",
    }[case]
    assert expected in result.output
    assert not (tmp_path / "o" / "results.json").exists()
