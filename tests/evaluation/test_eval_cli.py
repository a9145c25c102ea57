"""`vitdet eval`: tables, JSON, a failing backend among several, usage errors."""

from __future__ import annotations


def test_eval_table(cli, exported, synth_val) -> None:
    out, _ = exported
    ann, img_dir = synth_val
    res = cli(
        "eval",
        "--artifacts",
        str(out),
        "--data",
        str(ann),
        "--images",
        str(img_dir),
        "--limit",
        "2",
    )
    assert res.exit_code == 0, res.output
    assert "COCO mAP: onnxruntime (2 images" in res.stdout
    assert "segm" in res.stdout and "evaluator: pycocotools COCOeval" in res.stdout
    assert "AP per class: onnxruntime" in res.stdout and "ring" in res.stdout


def test_eval_json_with_unavailable_backend(cli_json, exported, synth_val) -> None:
    out, _ = exported
    ann, img_dir = synth_val
    res, data = cli_json(
        "eval",
        "--artifacts",
        str(out),
        "--data",
        str(ann),
        "--images",
        str(img_dir),
        "--limit",
        "1",
        "--backend",
        "onnxruntime,om",
    )
    assert res.exit_code == 1
    ort, om = data["results"]
    assert ort["ok"] and ort["backend"] == "onnxruntime" and ort["images"] == 1
    assert set(ort["bbox"]) == {"mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l"}
    assert set(ort["per_class"]) == {"bbox", "segm"}
    assert list(ort["per_class"]["bbox"])[0] == "circle"
    assert not om["ok"] and om["backend"] == "om" and "not usable here" in om["error"]["message"]
    assert set(om["error"]) == {"code", "message", "hint"}  # a top-level error's shape
    assert data["data"] == str(ann) and data["default_data"] is False


def test_eval_usage_errors(cli_json, exported, tmp_path, monkeypatch) -> None:
    res, data = cli_json("eval")
    assert res.exit_code == 2 and data["error"]["code"] == "bad_usage"
    out, _ = exported
    monkeypatch.chdir(tmp_path)  # no data/synthetic_shapes here
    res, data = cli_json("eval", "--artifacts", str(out))
    assert res.exit_code == 2 and data["error"]["code"] == "no_dataset"
    res, data = cli_json("eval", "--artifacts", str(out), "--backend", "tpu", "--data", "x.json")
    assert res.exit_code == 2 and data["error"]["code"] == "bad_backend"
