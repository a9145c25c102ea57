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
    monkeypatch.chdir(tmp_path)  # no data/synthetic_shapes here, and none is made
    res, data = cli_json("eval", "--checkpoint", str(tmp_path / "c.pth"))  # classes unknown
    assert res.exit_code == 2 and data["error"]["code"] == "no_dataset"
    assert not (tmp_path / "data").exists()
    res, data = cli_json("eval", "--artifacts", str(out), "--images", str(tmp_path))
    assert res.exit_code == 2 and data["error"]["code"] == "bad_usage"
    assert "--images" in data["error"]["message"]
    res, data = cli_json("eval", "--artifacts", str(out), "--backend", "tpu", "--data", "x.json")
    assert res.exit_code == 2 and data["error"]["code"] == "bad_backend"


def test_eval_defaults_to_the_builtin_set(cli, exported, synth_val, monkeypatch) -> None:
    """A model of the synthetic shapes, no --data: the built-in set's val split, said so."""
    from vitdet_cli.data import resolve

    out, _ = exported
    ann, img_dir = synth_val
    monkeypatch.setattr(resolve, "BUILTIN_ROOT", ann.parent.parent)
    res = cli("eval", "--artifacts", str(out), "--limit", "1")
    assert res.exit_code == 0, res.output
    assert "no --data given: evaluating on the built-in synthetic shapes val split" in res.output
    assert f"data: {ann} ({img_dir})" in res.stdout and "(1 images" in res.stdout


def test_eval_checkpoint_defaults_to_the_builtin_set(cli_json, synth_val, tmp_path, monkeypatch):
    """A checkpoint whose vitdet_config.json names the synthetic shapes, no --data: the
    built-in val split (read from the data config; nothing is executed, no model built)."""
    from vitdet_cli import evaluation
    from vitdet_cli.artifacts.model_config import ModelConfig, write_model_config
    from vitdet_cli.data import resolve
    from vitdet_cli.data.synth import CLASS_NAMES

    ann, img_dir = synth_val
    monkeypatch.setattr(resolve, "BUILTIN_ROOT", ann.parent.parent)
    seen = {}

    def fake_evaluate(checkpoint, config, ann_file, image_dir, limit, device, on_image=None):
        seen.update(ann=ann_file, images=image_dir)
        return {"backend": "checkpoint", "images": 1}

    monkeypatch.setattr(evaluation, "evaluate_checkpoint", fake_evaluate)
    work = tmp_path / "work"
    work.mkdir()
    model = ModelConfig({"type": "MaskRCNN"}, 64, list(CLASS_NAMES))
    write_model_config(work / "vitdet_config.json", model)
    res, data = cli_json("eval", "--checkpoint", str(work / "iter_1.pth"), "--limit", "1")
    assert res.exit_code == 0, res.output
    assert seen == {"ann": ann, "images": img_dir} and data["default_data"] is True
    # other classes: still no dataset to guess
    write_model_config(work / "vitdet_config.json", ModelConfig({"type": "MaskRCNN"}, 64, ["cat"]))
    res, data = cli_json("eval", "--checkpoint", str(work / "iter_1.pth"))
    assert res.exit_code == 2 and data["error"]["code"] == "no_dataset"
