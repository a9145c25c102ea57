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
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


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


def debug(message: str) -> None:
    if MODE.verbose:
        err_console.print(f"[dim]{message}[/dim]")


def render_error(err: VitdetError) -> None:
    if MODE.json:
        sys.stdout.write(dumps(err.to_dict()) + "\n")
        return
    err_console.print(f"[bold red]error:[/bold red] {err.message}")
    if err.hint:
        err_console.print(f"[yellow]hint:[/yellow] {err.hint}")


@contextmanager
def spinner(text: str) -> Iterator[Callable[[str], None]]:
    """A spinner with elapsed time; yields a function that updates its text."""
    start = time.monotonic()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=status_console(),
        transient=True,
    ) as progress:
        task = progress.add_task(text, total=None)
        yield lambda new: progress.update(task, description=new)
    status_console().print(f"[green]✓[/green] {text} ({time.monotonic() - start:.1f}s)")
