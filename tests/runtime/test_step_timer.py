"""The pipeline's one step list and its timer."""

from __future__ import annotations

import time

import pytest

from vitdet_cli.runtime.staged import GRAPH_STEP
from vitdet_cli.runtime.timing import (
    GRAPH_STEPS,
    HOST_STEPS,
    STEPS,
    StepTimer,
    TimingStats,
    interleaved,
)


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


def test_interleaved_warms_up_then_rotates_the_order_every_round():
    calls = []
    runners = {n: (lambda n=n: calls.append(n)) for n in "abc"}
    times = interleaved(runners, rounds=4, warmup=2)
    assert calls[:6] == list("aabbcc")  # warm-ups, untimed
    assert calls[6:] == list("abc" + "bca" + "cab" + "abc")
    assert {n: len(t) for n, t in times.items()} == {"a": 4, "b": 4, "c": 4}
    assert interleaved({}, rounds=3) == {}


def test_interleaved_times_each_runner_on_its_own():
    slow = {"slow": lambda: time.sleep(0.02), "fast": lambda: None}
    times = interleaved(slow, rounds=2, warmup=0)
    assert min(times["slow"]) >= 20.0 > max(times["fast"])
