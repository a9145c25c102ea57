"""An mmengine hook that writes metrics.jsonl and progress.json and refreshes the curves PNG
during training."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from vitdet_cli.atomic import write_bytes_atomic
from vitdet_cli.training.curves import plot_curves
from vitdet_cli.training.output import PROGRESS_FILE


class VitdetMetricsHook(Hook):
    """Append one JSON line per log interval and per validation; redraw curves; keep
    ``progress.json`` current.

    Args:
        interval: iterations between training records.
        plot_every: redraw ``curves.png`` after this many training records (and after each val).
        progress_every: seconds between ``progress.json`` updates (the last iteration always).
    """

    priority = "LOW"

    def __init__(self, interval: int = 10, plot_every: int = 5, progress_every: float = 0.5):
        self.interval = interval
        self.plot_every = plot_every
        self.progress_every = progress_every
        self._records = 0
        self._start = 0.0
        self._first_iter = 0
        self._shown = (0.0, 0)  # (monotonic time, iteration) of the last progress.json
        self._rate = 0.0  # it/s smoothed over the last ~5 s of progress records (0: none yet)

    def _paths(self, runner) -> tuple[Path, Path]:
        work = Path(runner.work_dir)
        return work / "metrics.jsonl", work / "curves.png"

    def _write(self, runner, row: dict) -> None:
        metrics, _ = self._paths(runner)
        with open(metrics, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")

    def _plot(self, runner) -> None:
        metrics, png = self._paths(runner)
        try:
            plot_curves(metrics, png)
        except Exception as err:  # a plot must never stop training
            runner.logger.warning(f"could not draw {png}: {err}")

    def before_train(self, runner) -> None:
        self._start = time.monotonic()
        self._first_iter = runner.iter  # not 0 after --resume
        self._shown = (self._start, runner.iter)
        if is_main_process():
            keep_rows_up_to(self._paths(runner)[0], runner.iter)

    def _eta_s(self, runner, it: int) -> float:
        """Remaining iterations at the recent speed (the speed on a shared machine swings, so
        the mean since the start would lag for minutes); the mean before the first record."""
        rate = self._rate or max(1, it - self._first_iter) / (time.monotonic() - self._start)
        return round((runner.max_iters - it) / max(rate, 1e-9), 1)

    def _progress(self, runner, it: int, outputs) -> None:
        """Replace ``progress.json`` when ``progress_every`` s have passed, or at the end."""
        now = time.monotonic()
        since, at = self._shown
        if now - since < self.progress_every and it != runner.max_iters:
            return
        row = {"iter": it, "max_iters": runner.max_iters, "time": time.time()}
        loss = (outputs or {}).get("loss")
        if loss is not None:
            row["loss"] = float(loss.item() if hasattr(loss, "item") else loss)
        lrs = runner.optim_wrapper.get_lr()
        if lrs:
            row["lr"] = float(max(next(iter(lrs.values()))))
        rate = (it - at) / max(now - since, 1e-6)
        self._rate = rate if not self._rate else 0.9 * self._rate + 0.1 * rate
        row["it_per_s"] = round(rate, 3)
        row["eta_s"] = self._eta_s(runner, it)
        path = Path(runner.work_dir) / PROGRESS_FILE
        tmp = path.with_name(f".{PROGRESS_FILE}.{os.getpid()}")
        tmp.write_text(json.dumps(row), encoding="utf-8")
        os.replace(tmp, path)  # a reader sees the old record or the new one, never half
        self._shown = (now, it)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        it = runner.iter + 1
        if not is_main_process():
            return
        self._progress(runner, it, outputs)
        if it % self.interval and it != runner.max_iters:
            return
        row = {"mode": "train", "iter": it, "epoch": runner.epoch, "time": time.time()}
        for key, value in (outputs or {}).items():
            try:
                row[key] = float(value.item() if hasattr(value, "item") else value)
            except (TypeError, ValueError, RuntimeError):
                continue
        lrs = runner.optim_wrapper.get_lr()
        if lrs:
            row["lr"] = float(max(next(iter(lrs.values()))))
        row["eta_s"] = self._eta_s(runner, it)
        self._write(runner, row)
        self._records += 1
        if self._records % self.plot_every == 0:
            self._plot(runner)

    def after_val_epoch(self, runner, metrics=None) -> None:
        if not is_main_process() or not metrics:
            return
        row = {"mode": "val", "iter": runner.iter, "epoch": runner.epoch, "time": time.time()}
        row.update({k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))})
        self._write(runner, row)
        self._plot(runner)

    def after_run(self, runner) -> None:
        write_rank_digest(runner)
        if is_main_process():
            self._plot(runner)


def keep_rows_up_to(metrics: Path, last_iter: int) -> None:
    """Drop the rows of ``metrics`` after ``last_iter`` (and any cut-off line): a resumed run
    writes those iterations again, a fresh one (``last_iter`` 0) starts a fresh file."""
    if not metrics.is_file():
        return
    kept, changed = [], False
    for line in metrics.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            keep = isinstance(row, dict) and int(row.get("iter", 0)) <= last_iter
        except (ValueError, TypeError):
            keep = False
        if keep:
            kept.append(line)
        else:
            changed = True
    if changed:
        write_bytes_atomic(metrics, "".join(f"{ln}\n" for ln in kept).encode("utf-8"))


def weights_digest(model) -> str:
    """sha256 over every parameter and buffer (names and bytes), for cross-rank comparison."""
    digest = hashlib.sha256()
    module = getattr(model, "module", model)
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def write_rank_digest(runner) -> None:
    """Each rank of a distributed run records its weights' digest under ``ranks/``."""
    from mmengine.dist import get_dist_info

    rank, world = get_dist_info()
    if world <= 1:
        return
    out = Path(runner.work_dir) / "ranks"
    out.mkdir(exist_ok=True)
    row = {
        "rank": rank,
        "world_size": world,
        "iter": runner.iter,
        "sha256": weights_digest(runner.model),
    }
    (out / f"rank_{rank}.json").write_text(json.dumps(row))
