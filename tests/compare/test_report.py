"""The compare block (policy_report / compare_report) and its tables."""

from __future__ import annotations

import json

import numpy as np
import pytest
from compare_test_helpers import copy_dets
from rich.console import Console

from vitdet_cli.compare.detections import compare_report, detection_parity, policy_report
from vitdet_cli.compare.tensors import compare_outputs
from vitdet_cli.report.tables import detection_parity_table, policy_table, tensor_parity_table
from vitdet_cli.runtime.detections import Detections
from vitdet_cli.runtime.policies import apply_policies

NAMES = [f"class{i}" for i in range(5)]


@pytest.fixture
def policed(dets):
    """``dets`` as raw detections, run through keep_top1_per_label and score_thr 0.3."""
    keep, counts = apply_policies(dets.scores, dets.labels, 0.3, "keep_top1_per_label")
    return copy_dets(
        dets,
        boxes=dets.boxes[keep] + np.float32(0.04),
        scores=dets.scores[keep],
        labels=dets.labels[keep],
        masks=None,
        counts=counts,
        raw=Detections(dets.boxes, dets.scores, dets.labels),
    )


def render(table) -> str:
    console = Console(record=True, width=200)
    console.print(table)
    return console.export_text()


def test_policy_report_fields(policed):
    r = policy_report(policed, NAMES, top_k=2, dedup_policy="keep_top1_per_label", score_thr=0.3)
    assert (r["dedup_policy"], r["score_thr"]) == ("keep_top1_per_label", 0.3)
    counts = {k: r[k] for k in policed.counts}
    assert counts == {
        "raw_count": 6,
        "after_dedup": 3,
        "after_score_thr": 3,
        "dropped_by_dedup": 3,
        "dropped_by_score_thr": 0,
    }
    assert r["max_score"] == pytest.approx(0.95)
    final, raw = r["score_stats"]["final"], r["score_stats"]["raw"]
    assert final["count"] == 3 and raw["count"] == 6
    assert final["min"] == pytest.approx(0.3) and final["median"] == pytest.approx(0.8)
    assert raw["min"] == pytest.approx(0.04) and raw["mean"] == pytest.approx(3.49 / 6)
    assert [t["rank"] for t in r["top"]] == [1, 2]
    assert r["top"][0] == {
        "rank": 1,
        "box": [10.0, 10.0, 60.0, 50.0],  # 10.04 rounded to 0.1 px
        "label": 1,
        "class_name": "class1",
        "score": pytest.approx(0.95),
    }
    json.dumps(r, allow_nan=False)


def test_policy_report_without_counts():
    r = policy_report(Detections(np.zeros((0, 4)), [], []))
    assert r["raw_count"] is None and r["after_score_thr"] == 0 and r["after_dedup"] is None
    assert r["max_score"] is None and r["top"] == [] and r["score_stats"]["raw"] is None
    assert r["score_stats"]["final"] == {
        "count": 0, "min": None, "max": None, "mean": None, "median": None
    }  # fmt: skip


def test_compare_report_layout_and_deltas(policed):
    scores = policed.scores.copy()
    scores[0] -= 0.0076
    counts = dict(policed.counts, raw_count=5, dropped_by_dedup=2)
    boxes = policed.boxes.copy()
    boxes[0, 2] += 0.5
    a = copy_dets(policed, scores=scores, counts=counts, boxes=boxes)
    rep = compare_report(a, policed, ("om", "torch"), NAMES, dedup_policy="keep_top1_per_label",
                         score_thr=0.3)  # fmt: skip
    assert list(rep) == ["schema_version", "names", "policy", "a", "b", "delta", "parity"]
    assert rep["schema_version"] == 1 and rep["names"] == {"a": "om", "b": "torch"}
    assert rep["a"]["name"] == "om" and rep["b"]["raw_count"] == 6
    d = rep["delta"]
    assert d["raw_count"] == -1 and d["dropped_by_dedup"] == -1 and d["after_score_thr"] == 0
    assert d["max_score"] == pytest.approx(-0.0076, abs=1e-6)
    assert d["top1"]["box"] == [0.0, 0.0, 0.5, 0.0] and d["top1"]["same_label"]
    assert d["top1"]["iou"] == pytest.approx(50 / 50.5 * 40 / 40, rel=1e-4)
    assert rep["parity"] == detection_parity(a, policed)
    assert not rep["parity"]["passed"]  # a 0.0076 score difference
    json.loads(json.dumps(rep, allow_nan=False))


def test_tables_render(policed):
    rep = compare_report(policed, copy_dets(policed), class_names=NAMES,
                         dedup_policy="keep_top1_per_label", score_thr=0.3)  # fmt: skip
    text = render(policy_table(rep["a"], rep["b"]))
    assert "dedup_policy: keep_top1_per_label, score_thr: 0.3" in text
    assert "onnxruntime" in text and "torch" in text and "after dedup" in text
    assert "[10.0, 10.0, 60.0, 50.0] label 1 class1 (0.9500)" in text
    text = render(detection_parity_table(rep["parity"]))
    assert "3/3 (100.00%)" in text and "ok" in text and "fail" not in text
    rows = compare_outputs({"x": np.ones(3), "y": np.ones(2)}, {"x": np.ones(3)}, 1e-4, 1e-4)
    text = render(tensor_parity_table(rows))
    assert "2 vs missing" in text and text.count("fail") == 1 and text.count("ok") == 1
