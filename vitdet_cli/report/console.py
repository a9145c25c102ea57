"""Console output shared by every command: human tables on stdout, or one JSON object.

In ``--json`` mode stdout carries exactly one JSON document; spinners and logs go to stderr.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from vitdet_cli.errors import VitdetError


@dataclass
class OutputMode:
    json: bool = False
    verbose: bool = False


MODE = OutputMode()
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def status_console() -> Console:
    """Where progress goes: stderr in JSON mode so stdout stays parseable."""
    return err_console if MODE.json else console


def _default(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=_default)


def emit(data: Any, render: Callable[[], None]) -> None:
    """Print ``data`` as JSON in ``--json`` mode, otherwise call ``render``."""
    if MODE.json:
        sys.stdout.write(dumps(data) + "\n")
        sys.stdout.flush()
    else:
        render()


def info(message: str) -> None:
    status_console().print(message)


def render_error(err: VitdetError) -> None:
    if MODE.json:
        sys.stdout.write(dumps(err.to_dict()) + "\n")
        sys.stdout.flush()
        return
    err_console.print(f"[bold red]error:[/bold red] {err.message}")
    if err.hint:
        err_console.print(f"[yellow]hint:[/yellow] {err.hint}")


def render_traceback() -> None:
    """The traceback of the exception being handled, on stderr (for ``--verbose``)."""
    import traceback

    sys.stderr.write(traceback.format_exc())
    sys.stderr.flush()


class SpinnerHandle:
    """What :func:`spinner` yields: update the text, or mark the step failed."""

    def __init__(self, progress: Progress, task) -> None:
        self._progress, self._task, self.failed = progress, task, False

    def __call__(self, text: str) -> None:
        self._progress.update(self._task, description=text)

    def fail(self) -> None:
        self.failed = True


@contextmanager
def spinner(text: str) -> Iterator[SpinnerHandle]:
    """A spinner with elapsed time; prints ✓ or ✗ with the duration when the step ends."""
    start = time.monotonic()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=status_console(),
        transient=True,
    ) as progress:
        handle = SpinnerHandle(progress, progress.add_task(text, total=None))
        try:
            yield handle
        except BaseException:
            handle.fail()
            raise
        finally:
            mark = "[red]✗[/red]" if handle.failed else "[green]✓[/green]"
            progress.stop()
            status_console().print(f"{mark} {text} ({time.monotonic() - start:.1f}s)")
