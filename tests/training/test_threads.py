"""The training thread policy and governor, fed made-up iteration times (no clocks)."""

import pytest

from vitdet_cli.errors import VitdetError
from vitdet_cli.training.threads import ThreadGovernor, add_to_config, choose_policy

QUIET = {1: 0.36, 2: 0.25}  # seconds per iteration by thread count
BUSY = {1: 0.40, 2: 1.60}  # beside one busy process: two threads wait for each other


def drive(governor, timings_at, iterations):
    """Feed ``iterations`` iterations; ``timings_at(i)`` gives that iteration's table."""
    used = []
    for i in range(iterations):
        used.append(governor.current)
        governor.observe(timings_at(i)[governor.current])
    return used


def test_quiet_machine_keeps_all_threads_and_probes_rarely():
    gov = ThreadGovernor(2)
    used = drive(gov, lambda i: QUIET, 2400)
    assert used[-1] == 2
    slow = used.count(1)
    assert 0 < slow <= 40  # a few probe iterations, not a share of the run
    # cost of the probes against always-2: well under the 5 % allowed
    assert slow * (QUIET[1] - QUIET[2]) / (2400 * QUIET[2]) < 0.01


def test_busy_machine_drops_to_one_thread_soon_and_stays():
    gov = ThreadGovernor(2)
    used = drive(gov, lambda i: BUSY, 400)
    assert 1 in used[:15] and all(n == 1 for n in used[15:] if n != 2) and used[-1] == 1
    assert used[15:].count(2) <= 12  # later probes back up to 2 are few and short


def test_load_arriving_and_leaving_is_followed():
    gov = ThreadGovernor(2)
    used = drive(gov, lambda i: BUSY if 100 <= i < 300 else QUIET, 800)
    assert used[99] == 2
    assert used[115] == 1  # the jump in iteration time triggers a probe at once
    assert used[-1] == 2  # scheduled probes find two threads faster again
    assert any("moved" in why for _, _, why in gov.history)


def test_noise_below_the_margin_does_not_switch():
    gov = ThreadGovernor(2)
    times = {1: 0.26, 2: 0.27}  # one thread only 4 % faster: not worth it
    used = drive(gov, lambda i: times, 200)
    assert used[-1] == 2


def test_middle_counts_probe_both_ways():
    gov = ThreadGovernor(4, 1)
    best = {1: 1.0, 2: 0.6, 3: 0.45, 4: 0.7}
    used = drive(gov, lambda i: best, 600)
    assert used[-1] == 3 and {2, 4} <= set(used)


def test_single_count_never_probes():
    gov = ThreadGovernor(1, 1)
    assert set(drive(gov, lambda i: QUIET, 100)) == {1} and gov.history == []
    with pytest.raises(ValueError):
        ThreadGovernor(1, 2)


def test_policy_choice():
    one = choose_policy("cpu", 1, "", cpu_count=2)
    assert (one.mode, one.low, one.high) == ("adaptive", 1, None)  # up to torch's default
    assert one.hook() == dict(type="ThreadGovernorHook", low=1, high=None, adaptive=True)
    ddp = choose_policy("cpu", 2, "auto", cpu_count=8)
    assert (ddp.mode, ddp.low, ddp.high) == ("fixed", 4, 4)
    assert choose_policy("cpu", 3, None, cpu_count=2).high == 1
    assert choose_policy("cuda", 1, "auto", cpu_count=8).hook() is None
    assert choose_policy("cpu", 1, "torch", cpu_count=8).hook() is None
    fixed = choose_policy("cpu", 2, " 3 ", cpu_count=2)
    assert fixed.hook() == dict(type="ThreadGovernorHook", low=3, high=3, adaptive=False)
    for bad in ("0", "-1", "many", "2.5"):
        with pytest.raises(VitdetError, match="VITDET_TRAIN_THREADS") as err:
            choose_policy("cpu", 1, bad)
        assert err.value.hint


def test_environment_variable_is_read(monkeypatch):
    monkeypatch.setenv("VITDET_TRAIN_THREADS", "torch")
    assert choose_policy("cpu", 1).mode == "torch"
    monkeypatch.setenv("VITDET_TRAIN_THREADS", "1")
    assert choose_policy("cpu", 1).high == 1


def test_hook_is_appended_to_the_config(monkeypatch):
    from mmengine.config import Config

    monkeypatch.setenv("VITDET_TRAIN_THREADS", "auto")
    cfg = Config(dict(custom_hooks=[dict(type="VitdetMetricsHook")]))
    policy = add_to_config(cfg, "cpu", 1)
    hooks = [h["type"] for h in cfg.custom_hooks]
    assert hooks == ["VitdetMetricsHook", "ThreadGovernorHook"]
    assert cfg.custom_hooks[-1]["adaptive"] is (policy.mode == "adaptive")
    bare = Config(dict())
    monkeypatch.setenv("VITDET_TRAIN_THREADS", "torch")
    add_to_config(bare, "cpu", 1)
    assert not bare.get("custom_hooks")


def test_hook_sets_and_restores_threads(monkeypatch):
    import torch

    from vitdet_cli.training import threads
    from vitdet_cli.training.threads import ThreadGovernorHook

    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 7)
    fixed = ThreadGovernorHook(low=3, high=3)
    fixed.before_train(runner=None)
    assert calls == [3] and fixed.governor is None
    single = ThreadGovernorHook(low=1, high=1, adaptive=True)
    single.before_train(runner=None)
    assert calls == [3, 1] and single.governor is None
    calls.clear()
    hook = ThreadGovernorHook(low=1, high=None, adaptive=True)  # torch's default: 7 here
    hook.before_train(runner=None)
    assert calls == [7] and hook.governor.current == 7 and hook.governor.low == 1
    hook.governor = ThreadGovernor(2, skip=0, window=1, probe=1, margin=0.9)
    logged = {"info": [], "debug": []}

    class Runner:
        class logger:
            info = staticmethod(logged["info"].append)
            debug = staticmethod(logged["debug"].append)

    # a made-up clock: 1.0 s for the window, then 0.5 s for the probe at 1 thread (kept)
    clock = iter([0.0, 1.0, 10.0, 10.5])
    monkeypatch.setattr(threads.time, "perf_counter", lambda: next(clock))
    for _ in range(2):
        hook.before_train_iter(None, 0)
        hook.after_train_iter(Runner, 0)
    assert calls == [7, 1]  # switched to 1 thread when the probe began, stayed after
    assert logged["debug"] == ["training threads: 1 (probe (scheduled))"]
    assert logged["info"] == ["training threads: 1 (kept: 0.500 s vs 1.000 s)"]
    hook.after_train(None)
    assert calls[-1] == 7


def test_plan_shows_the_policy_and_the_dumped_config_carries_its_hook(
    tiny_overrides, tmp_path, monkeypatch
):
    from mmengine.config import Config

    from tests.training.conftest import TINY
    from vitdet_cli.training.api import plan_training

    monkeypatch.delenv("VITDET_TRAIN_THREADS", raising=False)
    one = plan_training(TINY, device="cpu", work_dir=tmp_path / "one", overrides=tiny_overrides())
    policy = one.to_dict()["threads"]
    assert policy["mode"] in ("adaptive", "fixed") and policy["low"] == 1
    hooks = Config.fromfile(str(one.config_file)).custom_hooks
    assert hooks[-1]["type"] == "ThreadGovernorHook"
    ddp = plan_training(
        TINY, "cpu", "0,1", tmp_path / "two", overrides=tiny_overrides(), dry_run=True
    )
    assert ddp.to_dict()["threads"]["mode"] == "fixed"
    monkeypatch.setenv("VITDET_TRAIN_THREADS", "lots")
    with pytest.raises(VitdetError, match="VITDET_TRAIN_THREADS='lots'"):
        plan_training(TINY, device="cpu", work_dir=tmp_path / "bad", overrides=tiny_overrides())
