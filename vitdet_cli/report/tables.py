"""Rich tables used by several commands."""

from __future__ import annotations

from typing import Iterable

from rich.table import Table

STATUS_STYLE = {
    "ok": "[green]ok[/green]",
    "warn": "[yellow]warn[/yellow]",
    "fail": "[red]fail[/red]",
}


def checks_table(checks: Iterable, title: str = "Environment") -> Table:
    table = Table(title=title, show_lines=False, expand=False)
    for col in ("group", "check", "status", "found", "expected", "hint"):
        table.add_column(col, overflow="fold")
    for c in checks:
        table.add_row(
            c.group, c.name, STATUS_STYLE.get(c.status, c.status), c.found, c.expected, c.hint
        )
    return table


def metrics_table(metrics: dict, title: str = "COCO mAP") -> Table:
    """bbox and segm rows × mAP, mAP_50, mAP_75, mAP_s/m/l columns."""
    cols = ("mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l")
    table = Table(title=title)
    table.add_column("task")
    for c in cols:
        table.add_column(c, justify="right")
    for task in ("bbox", "segm"):
        values = [metrics.get(f"coco/{task}_{c}") for c in cols]
        if any(v is not None for v in values):
            table.add_row(task, *("-" if v is None else f"{v:.3f}" for v in values))
    return table
