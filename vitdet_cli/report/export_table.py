"""The tables ``vitdet export`` prints: per-output parity, then per-graph checker and atc lint."""

from __future__ import annotations

from rich.table import Table

OK, BAD = "[green]✓[/green]", "[red]✗[/red]"


def export_parity_table(checks: list, title: str = "ONNX Runtime vs PyTorch") -> Table:
    """One row per graph output: shape check, max abs / max rel diff against the tolerance."""
    table = Table(title=title)
    table.add_column("graph", no_wrap=True)
    table.add_column("output", no_wrap=True)
    table.add_column("shape", no_wrap=True)
    for col in ("max abs", "max rel", "tol"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("ok", no_wrap=True)
    for check in checks:
        for i, out in enumerate(check.outputs):
            table.add_row(
                f"{check.stage}/{check.graph}" if i == 0 else "",
                out.name,
                "x".join(map(str, out.shape)) + ("" if out.shape_ok else f" {BAD}"),
                f"{out.max_abs:.1e}",
                f"{out.max_rel:.1e}",
                f"{out.tol:.0e}",
                OK if out.ok else BAD,
            )
    return table


def export_lint_table(checks: list, title: str = "Graph checks") -> Table:
    """One row per graph: ``onnx.checker`` and the atc lint (opset, unsupported ops)."""
    table = Table(title=title)
    for col in ("graph", "onnx.checker", "nodes", "opset", "atc lint"):
        table.add_column(col, overflow="fold")
    for check in checks:
        lint = check.lint or {}
        offenders = lint.get("offenders") or []
        if lint.get("ok", True):
            lint_text = f"{OK} CANN {lint.get('cann_version', '?')} op list"
        else:
            named = ", ".join(f"{n} ({op})" for n, op in offenders[:5])
            lint_text = f"{BAD} {named or lint.get('summary', '')}"
        table.add_row(
            f"{check.stage}/{check.graph}",
            OK if check.checker_ok else f"{BAD} {check.checker_error}",
            str(lint.get("nodes", "")),
            f"{lint.get('opset', '')}" + ("" if lint.get("opset_ok", True) else f" {BAD}"),
            lint_text,
        )
    return table
