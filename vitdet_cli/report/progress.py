"""What ``commands/`` hand to the libraries: a :class:`~vitdet_cli.progress.Progress` that draws
on the status console (stdout, or stderr in ``--json`` mode).

Tasks are spinners; notes are lines; training is a bar (iteration, loss, lr, it/s, ETA) on a
terminal and a line every ``every_pct`` % otherwise (a log file, CI); a tool's own log lines are
shown only with ``--verbose``.
"""

from __future__ import annotations

import datetime
from contextlib import contextmanager
from typing import Iterator, Optional

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
from rich.progress import Progress as Bar

from vitdet_cli.progress import Progress, Task
from vitdet_cli.report.console import MODE, spinner, status_console


def _eta(seconds: Optional[float]) -> str:
    return str(datetime.timedelta(seconds=int(seconds))) if seconds is not None else "?"


def _stats(record: dict) -> str:
    parts = []
    if record.get("loss") is not None:
        parts.append(f"loss {record['loss']:.4f}")
    if record.get("lr") is not None:
        parts.append(f"lr {record['lr']:.1e}")
    if record.get("it_per_s") is not None:
        parts.append(f"{record['it_per_s']:.2f} it/s")
    if record.get("eta_s") is not None:
        parts.append(f"ETA {_eta(record['eta_s'])}")
    return "  ".join(parts)


def training_line(record: dict) -> str:
    """``iter 240/2400 (10%)  loss 0.8123  lr 1.0e-04  3.20 it/s  ETA 0:11:15`` (what is
    known)."""
    it, total = int(record.get("iter", 0)), int(record.get("max_iters") or 0)
    where = f"iter {it}/{total} ({100 * it // total}%)" if total else f"iter {it}"
    stats = _stats(record)
    return f"{where}  {stats}" if stats else where


class _Spinner(Task):
    def __init__(self, handle, title: str) -> None:
        self._handle, self._title = handle, title

    def __call__(self, text: str) -> None:
        self._handle(
            f"{escape(self._title)} [dim]{escape(text[:90])}[/dim]" if text else self._title
        )

    def fail(self) -> None:
        self.failed = True
        self._handle.fail()


class ConsoleProgress(Progress):
    """Draws a library's progress; use as a context manager (the bar ends with the block).

    Args:
        verbose: show tool logs (default: the CLI's ``--verbose``).
        every_pct: without a terminal, one training line per this many percent.
    """

    def __init__(self, verbose: Optional[bool] = None, every_pct: int = 10) -> None:
        # The stream as it is now: an in-process training run redirects sys.stdout/stderr to
        # its log file, and what is drawn here must still reach the console.
        self.console = Console(file=status_console().file, highlight=False, soft_wrap=True)
        self.verbose = MODE.verbose if verbose is None else verbose
        self.every_pct = every_pct
        self._bar: Optional[Bar] = None
        self._task = None
        self._shown_pct = -1

    def __enter__(self) -> "ConsoleProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def note(self, text: str) -> None:
        if text.startswith("warning: "):
            self.console.print(f"[yellow]warning:[/yellow] {escape(text[len('warning: ') :])}")
        else:
            self.console.print(escape(text))

    @contextmanager
    def task(self, title: str) -> Iterator[Task]:
        with spinner(escape(title), self.console) as handle:
            yield _Spinner(handle, title)

    def training(self, record: dict) -> None:
        total = int(record.get("max_iters") or 0)
        it = int(record.get("iter", 0))
        if not self.console.is_terminal or not total:
            pct = 100 * it // total if total else 0
            if pct // self.every_pct > self._shown_pct // self.every_pct or self._shown_pct < 0:
                self._shown_pct = pct
                self.console.print(f"train: {training_line(record)}")
            return
        if self._bar is None:
            self._bar = Bar(
                TextColumn("train"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"),
                console=self.console,
            )
            self._bar.start()
            self._task = self._bar.add_task("train", total=total, stats="")
        self._bar.update(self._task, completed=it, total=total, stats=_stats(record))
        if it >= total:
            self.close()

    def log(self, text: str) -> None:
        if self.verbose:
            self.console.print(text, markup=False)
