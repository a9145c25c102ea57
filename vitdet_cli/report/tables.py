"""Rich tables used by several commands."""

from __future__ import annotations

from typing import Iterable

from rich.table import Table

STATUS_STYLE = {"ok": "[green]ok[/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]fail[/red]"}


def checks_table(checks: Iterable, title: str = "Environment") -> Table:
    table = Table(title=title, show_lines=False, expand=False)
    for col in ("group", "check", "status", "found", "expected", "hint"):
        table.add_column(col, overflow="fold")
    for c in checks:
        table.add_row(c.group, c.name, STATUS_STYLE.get(c.status, c.status), c.found, c.expected,
                      c.hint)
    return table
