"""Console output shared by every command: human tables on stdout, or one JSON object.

In ``--json`` mode stdout carries exactly one JSON document — the result, the error, or a
result that failed with its error inside (:func:`emit`); spinners and logs go to stderr.
Only ``commands/`` and ``app.py`` use this module; libraries report through
:class:`vitdet_cli.progress.Progress` (``report/progress.py`` draws it).
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

from rich.console import Console
from rich.markup import escape
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


def _write_json(data: Any) -> None:
    sys.stdout.write(dumps(data) + "\n")
    sys.stdout.flush()


def emit(data: Any, render: Callable[[], None], error: Optional[VitdetError] = None) -> None:
    """Print ``data`` as JSON in ``--json`` mode, otherwise call ``render``.

    ``error``: the command produced a result but failed (a check, a gate). The JSON document is
    then ``data`` with the error's ``"error"`` object in it, and ``error`` is raised so the CLI
    exits with its status; it is marked as emitted, so :func:`render_error` writes no second
    document (on the console it is printed on stderr, after the rendering).
    """
    if MODE.json:
        _write_json({**data, **error.to_dict()} if error is not None else data)
    else:
        render()
    if error is not None:
        error.emitted = MODE.json
        raise error


def info(message: str) -> None:
    status_console().print(message)


def render_error(err: VitdetError) -> None:
    """The one rendering of an error: ``{"error": {code, message, hint}}`` on stdout in
    ``--json`` mode (unless :func:`emit` already put it in the result), else two lines on
    stderr."""
    if MODE.json:
        if not getattr(err, "emitted", False):
            _write_json(err.to_dict())
        return
    err_console.print(f"[bold red]error:[/bold red] {err.message}")
    if err.hint:
        err_console.print(f"[yellow]hint:[/yellow] {err.hint}")


def failed_row(row: dict) -> None:
    """A backend's failed row (``{"backend", "ok": false, "error": {code, message, hint}}``,
    the shape of a top-level error) as the lines :func:`render_error` prints."""
    err = row.get("error") or {}
    console.print(f"[red]✗[/red] {row['backend']}: {escape(err.get('message', 'failed'))}")
    if err.get("hint"):
        console.print(f"  [yellow]hint:[/yellow] {escape(err['hint'])}")


def render_traceback() -> None:
    """The traceback of the exception being handled, on stderr (for ``--verbose``)."""
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
def spinner(text: str, out: Optional[Console] = None) -> Iterator[SpinnerHandle]:
    """A spinner with elapsed time on ``out`` (default: :func:`status_console`); prints ✓ or ✗
    with the duration when the step ends."""
    start = time.monotonic()
    out = out or status_console()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=out,
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
            out.print(f"{mark} {text} ({time.monotonic() - start:.1f}s)")
