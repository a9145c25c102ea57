"""`vitdet tune`: time every stage on every CPU runtime, record the fastest faithful one."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vitdet_cli.commands._common import (
    ImagesOption,
    JsonOption,
    LimitOption,
    MaxPixelsOption,
    use_images_limit,
    use_json,
)
from vitdet_cli.report.console import console, emit


def _made(root: Path) -> None:
    from vitdet_cli.report.console import info

    info(f"no --data given: generating the built-in synthetic shapes set in {root} for the gate")


def command(
    artifacts: Path = typer.Argument(..., help="The --out directory of `vitdet export`."),
    precision: str = typer.Option(
        "fp32",
        "--precision",
        help="fp32: exact candidates only (default). auto: also OpenVINO bf16 (where the CPU "
        "has it) and ONNX Runtime int8, each admitted per stage only when the whole pipeline "
        "passes the gate on --data (meaningful on trained weights only).",
    ),
    img: Optional[Path] = typer.Option(
        None, "--img", help="Image whose stage tensors are timed (default: export's sample)."
    ),
    data: Optional[Path] = typer.Option(
        None,
        "--data",
        help="COCO annotation JSON for the --precision auto gate (default for a model of the "
        "synthetic shapes: the built-in set's val split).",
    ),
    images: Optional[Path] = ImagesOption,
    limit: Optional[int] = LimitOption,
    warmup: int = typer.Option(1, "--warmup", min=1, help="Untimed runs per candidate."),
    repeat: int = typer.Option(5, "--repeat", min=1, help="Timed runs per candidate (median)."),
    threads: int = typer.Option(0, "--threads", min=0, help="Threads per runtime (0: all)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List the candidates; measure and write nothing."
    ),
    max_pixels: Optional[int] = MaxPixelsOption,
    json_output: bool = JsonOption,
) -> None:
    """Pick each stage's fastest runtime that reproduces the reference; infer, eval and bench
    then use it by default (tune/tuning.json, sealed in the manifest)."""
    use_json(json_output)
    use_images_limit(max_pixels)
    from vitdet_cli.artifacts import Artifacts
    from vitdet_cli.data.resolve import resolve_dataset
    from vitdet_cli.report.console import spinner
    from vitdet_cli.runtime.images import check_image_file
    from vitdet_cli.tune import tune_artifacts
    from vitdet_cli.tune.table import candidates_table, reasons

    if img is not None:
        check_image_file(img)  # bad input is named before the folder is opened
    dataset = None
    if data is not None or images is not None:
        dataset = resolve_dataset(data, images, limit=limit)  # bad input named before opening
    art = Artifacts.open(artifacts)
    if dataset is None and precision == "auto":
        dataset = resolve_dataset(limit=limit, builtin_for=art.class_names, on_generate=_made)
    with spinner("tuning") as step:
        report = tune_artifacts(
            art, precision, img, dataset, warmup, repeat, threads, dry_run, on_step=step
        )
    data_out = report.to_dict()

    def render() -> None:
        if report.dry_run:
            console.print(f"candidates: {', '.join(c.label for c in report.candidates)}")
            console.print(f"timed on: {report.sample}; nothing measured or written (--dry-run)")
        else:
            console.print(candidates_table(data_out))
            for line in reasons(data_out):
                console.print(line, markup=False)
            chosen = ", ".join(
                f"{s}: {c['backend']} {c['precision']}" for s, c in data_out["choices"].items()
            )
            for p in report.pipelines:
                console.print(f"whole pipeline, {p['pipeline']}: {p['median_ms']:.1f} ms")
            console.print(f"chosen: {chosen}")
            gate = report.gate
            if gate.get("judged"):
                console.print(
                    f"gate on {gate['images']} images of {gate['data']}: "
                    + "; ".join(
                        f"{r['stage']} {r['candidate']} " + ("passed" if r["passed"] else "failed")
                        for r in gate["runs"]
                    )
                    + " (only trained weights make this verdict meaningful)"
                )
            console.print(f"wrote {report.tuning_file}")
        for note in report.notes:
            console.print(f"[yellow]note:[/yellow] {note}")

    emit(data_out, render)
