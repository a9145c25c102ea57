"""`compare` / `infer --compare` against the trained model as MMDetection runs it (real model)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vitdet_cli.compare.api import compare

pytestmark = [pytest.mark.mmcv, pytest.mark.slow]
SIDE_KEYS = ["raw_count", "after_dedup", "after_score_thr", "dropped_by_dedup",
             "dropped_by_score_thr", "score_stats", "final_detections_topk"]  # fmt: skip


@pytest.fixture(scope="module")
def images(synth_val):
    return sorted(synth_val[1].iterdir())[:2]


def test_onnxruntime_agrees_with_mmdet(exported, images, tmp_path) -> None:
    report = compare(exported[0], images, "onnxruntime", out=tmp_path)
    data = report.to_dict()
    assert report.passed, (data["detections"]["failures"], data["tensors"])
    assert data["reference"]["name"] == "mmdet" and data["reference"]["device"] == "cpu"
    assert data["gates"]["name"] == "fp32" and data["gates"]["decided_by"] == [
        "tensors",
        "detections",
    ]
    assert data["tensor_reference"] == "torch"
    assert {t["graph"] for t in data["tensors"]} == {"backbone/model", "rpn/model", "roi/bbox",
                                                    "roi/mask"}  # fmt: skip
    assert sum(im["b"]["after_score_thr"] for im in data["images"]) > 0  # mmdet found objects
    block = data["compare_with_pytorch"]
    assert block == data["images"][0]["compare_with_pytorch"]
    assert list(block) == ["enabled", "pytorch_device", "dedup_policy", "score_thr",
                           "onnxruntime", "pytorch", "delta"]  # fmt: skip
    assert list(block["pytorch"]) == SIDE_KEYS and list(block["onnxruntime"]) == SIDE_KEYS
    top = block["pytorch"]["final_detections_topk"][0]
    assert set(top) == {"bbox", "score", "label"}
    best = max(data["images"][0]["b"]["top"], key=lambda t: t["score"])
    assert top["bbox"] == pytest.approx(best["box"], abs=0.05)  # the rich report rounds to 0.1
    assert any(v != round(v, 1) for v in top["bbox"])  # the block does not
    saved = json.loads((tmp_path / "compare.json").read_text())
    assert saved["compare_with_pytorch"] == block


@pytest.fixture
def host_loses_everything(monkeypatch):
    """A host-side bug: the box post-processing drops every detection (both staged sides)."""
    from vitdet_cli.runtime import host
    from vitdet_cli.runtime.detections import Detections

    lost = (Detections.empty(), np.zeros((0, 4), np.float32))
    monkeypatch.setattr(host, "bbox_postprocess", lambda *a, **k: lost)


def test_a_host_bug_on_both_staged_sides_fails(
    cli, exported, images, tmp_path, host_loses_everything
) -> None:
    args = ("compare", "--artifacts", str(exported[0]), "--img", str(images[0]))
    result = cli("--json", *args, "--out", str(tmp_path / "mmdet"))
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)  # one document: the report with the error in it
    assert data["error"]["code"] == "parity_failed" and not data["passed"]
    block = data["compare_with_pytorch"]
    assert block["onnxruntime"]["raw_count"] == 0 and block["pytorch"]["raw_count"] > 0
    # the staged torch reference shares the host code: it cannot see the bug
    staged = cli("--json", *args, "--reference", "torch", "--out", str(tmp_path / "staged"))
    assert staged.exit_code == 0, staged.output
    assert json.loads(staged.stdout)["passed"]


def test_infer_compare_fails_on_the_host_bug(
    cli, exported, images, tmp_path, host_loses_everything
) -> None:
    result = cli("--json", "infer", "--artifacts", str(exported[0]), "--img", str(images[0]),
                 "--out", str(tmp_path), "--compare")  # fmt: skip
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["error"]["code"] == "parity_failed"
    assert data["compare"]["compare_with_pytorch"]["pytorch_device"] == "cpu"
    assert (tmp_path / "results.json").is_file()  # the deployed results are still written


def test_infer_compare_human_output(cli, exported, images, tmp_path) -> None:
    result = cli("infer", "--artifacts", str(exported[0]), "--img", str(images[0]),
                 "--out", str(tmp_path), "--compare", "--reference-device", "cpu")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "reference: mmdet on cpu" in result.output and "gates: fp32" in result.output


@pytest.mark.parametrize(
    "extra, culprit",
    [
        (("--reference-device", "tpu"), "--reference-device 'tpu'"),
        (("--reference", "tensorrt"), "unknown backend 'tensorrt'"),
    ],
)
def test_bad_reference_flags_are_usage_errors(cli, exported, images, tmp_path, extra, culprit):
    result = cli("compare", "--artifacts", str(exported[0]), "--img", str(images[0]),
                 "--out", str(tmp_path), *extra)  # fmt: skip
    assert result.exit_code == 2 and culprit in result.output
    assert not (tmp_path / "compare.json").exists()


def test_reference_checkpoint_must_be_the_exported_one(
    cli, exported, images, tmp_path, tiny_checkpoint
) -> None:
    from eval_test_helpers import export_helpers

    other = export_helpers().make_checkpoint(tmp_path / "other.pth", seed=1)
    result = cli("compare", "--artifacts", str(exported[0]), "--img", str(images[0]),
                 "--out", str(tmp_path / "o"), "--checkpoint", str(other))  # fmt: skip
    assert result.exit_code == 1 and "not the checkpoint these artifacts" in result.output
