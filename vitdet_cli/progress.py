"""How a library tells its caller what it is doing, without printing.

Libraries take a :class:`Progress` (default :data:`SILENT`, which shows nothing) and report
through it; ``commands/`` pass one that draws (``report/console.py``), so what is shown, and
where, is decided above the libraries. A library never prints and never reads the CLI's mode.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


class Task:
    """A step under way (what :meth:`Progress.task` yields): call it with a new status text;
    :meth:`fail` marks the step failed without raising."""

    failed = False

    def __call__(self, text: str) -> None:
        """The step's current status (e.g. the last line of a tool's log)."""

    def fail(self) -> None:
        self.failed = True


class Progress:
    """The events a library reports; every method does nothing here. Subclass to show them."""

    def note(self, text: str) -> None:
        """One line worth telling the user: a notice, a warning, what was chosen."""

    @contextmanager
    def task(self, title: str) -> Iterator[Task]:
        """A step that takes a while (a build, a compile, an export)."""
        yield Task()

    def training(self, record: dict) -> None:
        """Where a training run is: ``iter``, ``max_iters`` and, when known, ``loss``, ``lr``,
        ``it_per_s``, ``eta_s`` (see ``training/hooks.py``)."""

    def log(self, text: str) -> None:
        """Lines of a tool's own log (mmengine's), already kept in a log file; a caller shows
        them only when asked to (``--verbose``)."""


SILENT = Progress()
"""The default: reports nothing."""
