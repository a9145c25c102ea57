"""`vitdet bench`: one process per backend; a backend that cannot run is a row, not a crash."""

from __future__ import annotations

import json
import sys

import pytest

from vitdet_cli.bench import bench, bench_images, parse_backends, run_worker
from vitdet_cli.bench.api import timing_from_dict
from vitdet_cli.bench.worker import main as worker_main
from vitdet_cli.errors import VitdetError
from vitdet_cli.report.timing import bench_table
from vitdet_cli.runtime.timing import TimingStats


def first_image(synth_val):
    _, img_dir = synth_val
    return sorted(img_dir.iterdir())[0]


def test_onnxruntime_ok_and_om_failed(exported, synth_val) -> None:
    from rich.console import Console

    out, _ = exported
    report = bench(out, ["onnxruntime", "om"], [first_image(synth_val)], "test", 0, 2)
    ort, om = report.rows
    assert ort["ok"] and ort["backend"] == "onnxruntime"
    assert ort["median_ms"] > 0 and ort["p90_ms"] >= ort["median_ms"] and ort["img_per_s"] > 0
    assert ort["size_mb"] > 0 and ort["peak_mb"] > 0
    assert ort["timing"]["runs"] == 2 and ort["timing"]["steps"]["backbone"]["median_ms"] > 0
    assert ort.get("bbox_map") is None  # no --data
    assert not om["ok"] and om["backend"] == "om" and "not usable here" in om["error"]["message"]
    assert om["error"]["code"] == "backend_unavailable" and om["size_mb"] is None
    console = Console(record=True, width=160)
    console.print(bench_table(report.rows))
    text = console.export_text()
    assert "✅" in text and "❌ backend 'om' is not usable" in text


def test_bench_cli_json(cli_json, exported, synth_val) -> None:
    out, _ = exported
    ann, img_dir = synth_val
    res, data = cli_json(
        "bench",
        "--artifacts",
        str(out),
        "--backends",
        "onnxruntime,om",
        "--data",
        str(ann),
        "--images",
        str(img_dir),
        "--limit",
        "2",
        "--warmup",
        "0",
        "--repeat",
        "1",
    )
    assert res.exit_code == 0, res.output
    assert set(data) == {"artifacts", "images", "image_source", "warmup", "repeat", "data", "rows"}
    assert len(data["images"]) == 2 and "--data" in data["image_source"]
    ort, om = data["rows"]
    assert ort["ok"] and ort["bbox_map"] is not None and ort["segm_map"] is not None
    assert ort["coco"]["num_images"] == 2 and ort["coco"]["evaluator"].startswith("pycocotools")
    assert not om["ok"] and om["error"]


def test_bench_cli_table(cli, exported, synth_val) -> None:
    out, _ = exported
    res = cli(
        "bench",
        "--artifacts",
        str(out),
        "--backends",
        "onnxruntime",
        "--img",
        str(first_image(synth_val)),
        "--warmup",
        "0",
        "--repeat",
        "1",
    )
    assert res.exit_code == 0, res.output
    assert "Benchmark" in res.stdout and "onnxruntime timing per image" in res.stdout


def test_worker_reports_errors_as_json(capsys, tmp_path) -> None:
    argv = ["--artifacts", str(tmp_path / "nope"), "--backend", "onnxruntime", "--img", "x.jpg"]
    assert worker_main(argv) == 1
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row == {"backend": "onnxruntime", "ok": False, "error": row["error"]}
    assert set(row["error"]) == {"code", "message", "hint"}  # a top-level error's shape
    assert row["error"]["code"] == "artifacts_missing"


def test_dead_worker_becomes_a_failed_row() -> None:
    row = run_worker([sys.executable, "-c", "import os; print('noise'); os.abort()"], "x")
    assert not row["ok"] and "worker died (signal" in row["error"]["message"]
    assert row["error"]["code"] == "crash"
    row = run_worker([sys.executable, "-c", "import time; time.sleep(5)"], "x", timeout=0.5)
    assert not row["ok"] and row["error"]["code"] == "timeout"


def test_timing_round_trip_and_backend_names() -> None:
    stats = TimingStats.from_runs([{"backbone": 2.0, "rpn": 1.0}, {"backbone": 4.0, "rpn": 1.5}])
    assert timing_from_dict(json.loads(json.dumps(stats.to_dict()))) == stats
    assert parse_backends(["onnxruntime,om", "torch", "om"]) == ["onnxruntime", "om", "torch"]
    with pytest.raises(VitdetError, match="tpu"):
        parse_backends(["onnxruntime,tpu"])


def test_default_images(tmp_path, monkeypatch, synth_val) -> None:
    monkeypatch.chdir(tmp_path)  # no data/synthetic_shapes here
    paths, source = bench_images(None, None, 64, tmp_path)
    assert paths == [tmp_path / "sample.jpg"] and paths[0].stat().st_size > 0
    assert "rendered" in source
    _, img_dir = synth_val
    paths, source = bench_images(img_dir, None, 64, tmp_path)
    assert len(paths) == 6 and source == str(img_dir)
    paths, source = bench_images(None, paths, 64, tmp_path)
    assert len(paths) == 4 and "first 4 images of --data" in source
    paths, source = bench_images(None, None, 64, tmp_path, root=img_dir.parent)
    assert [p.parent for p in paths] == [img_dir] * 4
    assert source == f"the first 4 images of {img_dir}"
