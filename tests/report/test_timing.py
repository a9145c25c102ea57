"""Timing statistics (total = median of per-run sums) and the timing and benchmark tables."""

import numpy as np
import pytest
from rich.console import Console

from vitdet_cli.report.timing import bench_table, timing_table
from vitdet_cli.runtime.timing import TimingStats

RUNS = [
    {"rpn_post": 1.0, "preprocess": 10.0, "backbone": 100.0},
    {"preprocess": 20.0, "backbone": 50.0, "rpn_post": 3.0, "extra": 4.0},
    {"preprocess": 30.0, "backbone": 70.0, "rpn_post": 2.0},
]


def _text(table) -> str:
    console = Console(record=True, width=120)
    console.print(table)
    return console.export_text()


def test_stats_order_median_p90_and_total_of_sums():
    stats = TimingStats.from_runs(RUNS)
    assert list(stats.steps) == ["preprocess", "backbone", "rpn_post", "extra"]
    pre = stats.steps["preprocess"]
    assert (pre.median, pre.mean, pre.min) == (20.0, 20.0, 10.0)
    assert pre.p90 == pytest.approx(28.0)  # linear interpolation between 20 and 30
    assert stats.steps["extra"].runs == 1 and stats.runs == 3
    # sums are 111, 77, 102: median 102, not 20 + 70 + 2 + 4 = 96
    assert stats.total.median == 102.0 and stats.total.min == 77.0
    assert stats.img_per_s == pytest.approx(1000 / 102)
    assert sum(stats.share.values()) == pytest.approx(100.0)
    assert stats.share["extra"] == pytest.approx(100 * 4 / 290)


def test_to_dict_and_custom_order():
    d = TimingStats.from_runs(RUNS, order=("backbone",)).to_dict()
    assert list(d["steps"]) == ["backbone", "rpn_post", "preprocess", "extra"]
    assert d["total"]["median_ms"] == 102.0 and d["runs"] == 3
    assert set(d["steps"]["backbone"]) == {"median_ms", "p90_ms", "mean_ms", "min_ms", "runs",
                                           "share_pct"}  # fmt: skip
    with pytest.raises(ValueError):
        TimingStats.from_runs([])


def test_timing_table_renders():
    text = _text(timing_table(TimingStats.from_runs(RUNS), title="onnxruntime"))
    for word in ("onnxruntime", "preprocess", "backbone", "rpn_post", "extra", "total", "img/s"):
        assert word in text
    assert "102.00" in text and "9.80" in text  # total median, img/s


def test_bench_table_with_a_failed_row():
    rows = [
        {"backend": "onnxruntime", "size_mb": 412.3, "bbox_map": 0.5012, "segm_map": 0.4456,
         "median_ms": 80.0, "p90_ms": 95.5, "img_per_s": 12.5, "peak_mb": 2048},
        {"backend": "torch", "size_mb": 410.0, "bbox_map": 0.5013, "median_ms": 120.0,
         "p90_ms": 130.0, "img_per_s": 8.33, "peak_mb": float("nan")},
        {"backend": "om", "ok": False, "error": "ais_bench is not installed; pip install it "
         "from the CANN toolkit\nTraceback ..."},
    ]  # fmt: skip
    text = _text(bench_table(rows, title="Benchmark"))
    for word in ("backend", "status", "size MB", "bbox mAP", "segm mAP", "img/s", "peak MB"):
        assert word in text
    assert "✅" in text and "❌" in text and "ais_bench is not" in text
    assert "Traceback" not in text and "…" in text
    assert "0.4456" in text and "412.3" in text and "—" in text
    om_line = next(line for line in text.splitlines() if " om " in line)
    assert om_line.count("—") == 7
    assert np.isnan(rows[1]["peak_mb"])  # rows are not modified
