"""The pipeline's one step list and its timer."""

from __future__ import annotations

import time

import pytest

from vitdet_cli.runtime.staged import GRAPH_STEP
from vitdet_cli.runtime.timing import GRAPH_STEPS, HOST_STEPS, STEPS, StepTimer, TimingStats


def test_steps_split_into_graphs_and_host_steps():
    assert set(GRAPH_STEP.values()) == set(GRAPH_STEPS)
    assert sorted(GRAPH_STEPS + HOST_STEPS, key=STEPS.index) == list(STEPS)
    assert STEPS.index("backbone") < STEPS.index("rpn") < STEPS.index("rpn_post")


def test_timer_holds_every_step_in_order_and_adds_repeats():
    timer = StepTimer()
    assert list(timer.ms) == list(STEPS) and set(timer.ms.values()) == {0.0}
    with timer.step("rpn"):
        time.sleep(0.01)
    first = timer.ms["rpn"]
    with timer.step("rpn"):
        time.sleep(0.01)
    assert first >= 10.0 and timer.ms["rpn"] >= first + 10.0
    assert timer.ms["backbone"] == 0.0
    with pytest.raises(KeyError, match="bbox"):
        with timer.step("bbox"):
            pass


def test_stats_keep_the_pipeline_order_and_round_trip():
    runs = [dict(reversed(StepTimer().ms.items())), {"roi_mask": 2.0, "preprocess": 1.0}]
    stats = TimingStats.from_runs(runs)
    assert list(stats.steps) == list(STEPS)
    assert TimingStats.from_dict(stats.to_dict()) == stats
