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


def per_class_table(per_class: dict, title: str = "AP per class") -> Table:
    """Class rows × one AP column per task (``{"bbox": {name: AP}, "segm": {...}}``)."""
    tasks = [t for t in ("bbox", "segm") if per_class.get(t)]
    table = Table(title=title)
    table.add_column("class")
    for task in tasks:
        table.add_column(f"{task} AP", justify="right")
    names = list(per_class[tasks[0]]) if tasks else []
    for name in names:
        table.add_row(name, *(_num(per_class[t].get(name), ".3f") for t in tasks))
    return table


def _num(v: object, fmt: str = ".3g") -> str:
    """A number for a table cell; None (not computed) as "-"."""
    if v is None:
        return "-"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    return format(v, fmt)


def _verdict(ok: bool) -> str:
    return STATUS_STYLE["ok" if ok else "fail"]


def tensor_parity_table(rows: Iterable, title: str = "Tensor parity") -> Table:
    """One row per output (``TensorParity``): shape, max abs/rel diff, cosine, tolerance."""
    table = Table(title=title)
    for col in ("output", "shape", "max abs", "max rel", "cosine", "atol", "status"):
        table.add_column(col, justify="left" if col in ("output", "shape") else "right")
    for r in rows:
        shape = "x".join(map(str, r.shape_a)) if r.shape_a is not None else "missing"
        if not r.shape_ok:
            other = "x".join(map(str, r.shape_b)) if r.shape_b is not None else "missing"
            shape = f"[red]{shape} vs {other}[/red]"
        nan = f" ({r.n_nan} NaN)" if r.n_nan else ""
        table.add_row(
            r.name,
            shape,
            _num(r.max_abs, ".1e") + nan,
            _num(r.max_rel, ".1e"),
            _num(r.cosine, ".6f"),
            f"{r.atol:.0e}" + (f" +{r.rtol:g}·|b|" if r.rtol else ""),
            _verdict(r.within_tol),
        )
    return table


def detection_parity_table(summary: dict, title: str = "Detection parity") -> Table:
    """A ``detection_parity`` summary: matching counts, IoUs, score diff, and the verdict."""
    s = summary
    crit = s["criteria"]
    frac_ok = s["frac_ref_matched_strict"] >= crit["min_frac_matched"]
    sd = s["max_score_diff_strict"]
    sd_ok = sd is None or sd <= crit["max_score_diff"]
    table = Table(title=title)
    for col in ("metric", "value", "required", "status"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    table.add_row("detections (test / reference)", f"{s['n_a']} / {s['n_b']}", "", "")
    table.add_row(
        f"matched at IoU ≥ {s['iou_thr']:g} (only test / only reference)",
        f"{s['matched']} ({s['only_a']} / {s['only_b']})",
        "",
        "",
    )
    table.add_row("box IoU mean / min", f"{_num(s['mean_iou'], '.4f')} / "
                  f"{_num(s['min_iou'], '.4f')}", "", "")  # fmt: skip
    if s.get("mask_iou_mean") is not None:
        table.add_row("mask IoU mean / min", f"{_num(s['mask_iou_mean'], '.4f')} / "
                      f"{_num(s['mask_iou_min'], '.4f')}", "", "")  # fmt: skip
    table.add_row(
        f"reference (score ≥ {s['min_score']:g}) matched at IoU ≥ {s['strict_iou']:g}",
        f"{s['ref_matched_strict']}/{s['ref_considered']} ({s['frac_ref_matched_strict']:.2%})",
        f"≥ {crit['min_frac_matched']:.0%}",
        _verdict(frac_ok),
    )
    table.add_row(
        "max |score diff| of those", _num(sd), f"≤ {crit['max_score_diff']:g}", _verdict(sd_ok)
    )
    table.add_row("[bold]verdict[/bold]", "", "", _verdict(bool(s["passed"])))
    return table


def _top_box(report: dict) -> str:
    if not report.get("top"):
        return "-"
    t = report["top"][0]
    name = f" {t['class_name']}" if t.get("class_name") else ""
    box = ", ".join(f"{v:.1f}" for v in t["box"])
    return f"[{box}] label {t['label']}{name} ({t['score']:.4f})"


def policy_table(report_a: dict, report_b: dict, title: str | None = None) -> Table:
    """Two ``policy_report`` dicts side by side (the source document's compare block), with
    the difference A − B of every count and of the max score."""
    if title is None:
        title = (
            f"dedup_policy: {report_a.get('dedup_policy') or 'none'}, "
            f"score_thr: {_num(report_a.get('score_thr'), 'g')}"
        )
    name_a, name_b = report_a.get("name", "A"), report_b.get("name", "B")
    table = Table(title=title)
    table.add_column("")
    for col in (name_a, name_b, "Δ"):
        table.add_column(col, justify="right")
    for key in ("raw_count", "after_dedup", "after_score_thr", "dropped_by_dedup",
                "dropped_by_score_thr", "max_score"):  # fmt: skip
        va, vb = report_a.get(key), report_b.get(key)
        fmt = ".4f" if key == "max_score" else "d"
        delta = None if va is None or vb is None else va - vb
        dfmt = "+.4f" if key == "max_score" else "+d"
        table.add_row(key.replace("_", " "), _num(va, fmt), _num(vb, fmt), _num(delta, dfmt))
    table.add_row("top box", _top_box(report_a), _top_box(report_b), "")
    return table


def npu_check_table(report) -> Table:
    """One row per mmcv NPU source: compiles, missing torch_npu symbols, first compiler error."""
    table = Table(
        title=f"mmcv {report.mmcv_version} NPU sources vs torch {report.torch_version} + "
        f"torch_npu {report.torch_npu_version}"
    )
    for col in ("file", "compiles", "missing symbols", "first error"):
        table.add_column(col, overflow="fold")
    for f in report.files:
        table.add_row(
            f.name,
            STATUS_STYLE["ok"] if f.compiled else STATUS_STYLE["fail"],
            "\n".join(f.missing) if f.missing else ("0" if f.compiled else "-"),
            f.errors[0] if f.errors else "",
        )
    return table
