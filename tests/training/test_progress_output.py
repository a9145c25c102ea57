"""Training on the console: the hook's progress.json, the launching process following it and
train.log, and what the console shows (a bar on a terminal, a line per 10 % otherwise)."""

from __future__ import annotations

import io
import json
import time
from types import SimpleNamespace

from rich.console import Console

from vitdet_cli.progress import Progress
from vitdet_cli.report.progress import ConsoleProgress, training_line
from vitdet_cli.training.output import PROGRESS_FILE, TRAIN_LOG, failure_detail, followed


class Recorder(Progress):
    def __init__(self) -> None:
        self.records, self.lines = [], []

    def training(self, record: dict) -> None:
        self.records.append(record)

    def log(self, text: str) -> None:
        self.lines.append(text)


def test_the_launching_process_follows_progress_and_log(tmp_path):
    (tmp_path / "progress.json").write_text(json.dumps({"iter": 99, "max_iters": 100}))
    (tmp_path / TRAIN_LOG).write_text("an earlier run\n")
    seen = Recorder()
    with followed(tmp_path, seen) as log:
        log.write("hook table\nwarning: deprecated")
        (tmp_path / "progress.json").write_text(json.dumps({"iter": 3, "max_iters": 10}))
        time.sleep(1.2)  # the follower polls every 0.5 s
        log.write(" thing\n")
        (tmp_path / "progress.json").write_text(json.dumps({"iter": 10, "max_iters": 10}))
    assert seen.lines == ["hook table", "warning: deprecated thing"]  # not the earlier run's
    assert [r["iter"] for r in seen.records] == [3, 10]  # not the stale 99, the last one read
    assert (tmp_path / TRAIN_LOG).read_text().startswith("an earlier run\nhook table")
    log.write("after the run: dropped, no error\n")


def test_failure_detail_reads_the_workers_error(tmp_path):
    log = tmp_path / TRAIN_LOG
    log.write_text("noise\nerror: config not found: x.py\nhint: pass --config\n\n")
    assert failure_detail(log) == ("config not found: x.py", "pass --config")
    log.write_text("Traceback (most recent call last):\n  ...\nRuntimeError: out of memory\n")
    assert failure_detail(log) == ("RuntimeError: out of memory", "")
    assert failure_detail(tmp_path / "none.log") == ("", "")


def _record(it: int, total: int = 100) -> dict:
    return {"iter": it, "max_iters": total, "loss": 1.5, "lr": 2e-4, "it_per_s": 3.25,
            "eta_s": 3725.0}  # fmt: skip


def test_training_line():
    assert training_line(_record(25)) == (
        "iter 25/100 (25%)  loss 1.5000  lr 2.0e-04  3.25 it/s  ETA 1:02:05"
    )
    assert training_line({"iter": 3}) == "iter 3"


def _console(terminal: bool) -> tuple[ConsoleProgress, io.StringIO]:
    out = io.StringIO()
    shown = ConsoleProgress(verbose=False)
    shown.console = Console(file=out, force_terminal=terminal, width=120, highlight=False)
    return shown, out


def test_without_a_terminal_one_line_per_ten_percent():
    shown, out = _console(terminal=False)
    for it in range(1, 101, 3):
        shown.training(_record(it))
    shown.training(_record(100))
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("train: iter 1/100 (1%)")
    shown_at = (10, 22, 31, 40, 52, 61, 70, 82, 91, 100)  # the first record past each 10 %
    assert [ln.split()[2] for ln in lines[1:]] == [f"{p}/100" for p in shown_at]


def test_on_a_terminal_a_bar_that_ends_with_the_run():
    shown, out = _console(terminal=True)
    shown.training(_record(40))
    assert shown._bar is not None
    shown.training(_record(100))
    assert shown._bar is None  # stopped at the last iteration
    text = out.getvalue()
    assert "100/100" in text and "loss 1.5000" in text and "it/s" in text and "ETA" in text


def test_tool_logs_only_with_verbose():
    shown, out = _console(terminal=False)
    shown.log("mmengine - INFO - hooks [table]")
    assert out.getvalue() == ""
    shown.verbose = True
    shown.log("mmengine - INFO - hooks [table]")
    assert out.getvalue() == "mmengine - INFO - hooks [table]\n"  # as written, no markup


def test_hook_writes_progress_at_most_every_interval_and_at_the_end(tmp_path, monkeypatch):
    import vitdet_cli.training.hooks as hooks

    monkeypatch.setattr(hooks, "is_main_process", lambda: True)
    runner = SimpleNamespace(
        work_dir=str(tmp_path), iter=0, max_iters=4, epoch=0,
        optim_wrapper=SimpleNamespace(get_lr=lambda: {"lr": [1e-3]}),
        logger=SimpleNamespace(warning=lambda m: None),
    )  # fmt: skip
    hook = hooks.VitdetMetricsHook(interval=100, progress_every=3600)
    hook.before_train(runner)
    hook.after_train_iter(runner, 0, outputs={"loss": 2.0})
    assert not (tmp_path / PROGRESS_FILE).exists()  # within the interval
    runner.iter = 3
    hook.after_train_iter(runner, 3, outputs={"loss": 1.25})
    record = json.loads((tmp_path / PROGRESS_FILE).read_text())
    assert record["iter"] == 4 and record["max_iters"] == 4 and record["loss"] == 1.25
    assert record["lr"] == 1e-3 and record["eta_s"] == 0 and record["it_per_s"] > 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
