"""`vitdet demo`: data → train → evaluate → export → infer → compare, on the CPU, one summary."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from vitdet_cli.commands._common import JsonOption, SetOption, use_json
from vitdet_cli.report.console import console, emit


def command(
    work_dir: Path = typer.Option(Path("outputs/demo"), "--work-dir", help="Where it all goes."),
    config: Optional[Path] = typer.Option(
        None, "--config", help="Demo config (default: configs/vitdet_tiny_shapes.yaml)."
    ),
    retrain: bool = typer.Option(False, "--retrain", help="Train again even if a run finished."),
    backend: str = typer.Option(
        "onnxruntime", "--backend", help="Deployed side: onnxruntime | openvino."
    ),
    overrides: Optional[List[str]] = SetOption,
    json_output: bool = JsonOption,
) -> None:
    """Run the whole pipeline on the built-in synthetic dataset and prove parity."""
    use_json(json_output)
    from vitdet_cli.demo import DEMO_CONFIG, run_demo
    from vitdet_cli.errors import VitdetError
    from vitdet_cli.io_checks import prepare_out_dir
    from vitdet_cli.report.console import status_console
    from vitdet_cli.report.progress import ConsoleProgress

    prepare_out_dir(work_dir, "--work-dir")
    out = status_console()

    def on_step(name: str) -> None:
        out.rule(f"[bold]{name}[/bold]")

    with ConsoleProgress() as progress:
        result = run_demo(work_dir, config or DEMO_CONFIG, retrain, overrides=overrides or [],
                          on_step=on_step, backend=backend, progress=progress)  # fmt: skip
    failed = None
    if not result.compare.passed:
        failed = VitdetError(
            "the deployed stages do not agree with PyTorch (see the parity table)",
            hint=f"details in {result.compare.report_file}",
            code="parity_failed",
        )
    emit(result.to_dict(), lambda: render_summary(result), error=failed)


def render_summary(result) -> None:
    """The demo's one summary: mAP, parity, timing, and where the pictures are."""
    from rich.table import Table

    from vitdet_cli.compare.api import coco_delta_text
    from vitdet_cli.report.tables import detection_parity_table, metrics_table
    from vitdet_cli.report.timing import timing_table

    console.rule("[bold]vitdet demo: summary[/bold]")
    train = result.train
    note = "trained now" if result.trained_now else "reused the finished run"
    console.print(
        metrics_table(train.final_metrics, title=f"Validation mAP after training ({note})")
    )
    if result.compare.coco:
        console.print(coco_delta_text(result.compare.coco))
    deployed = {"onnxruntime": "ONNX Runtime", "openvino": "OpenVINO"}.get(
        result.infer.backend, result.infer.backend
    )
    console.print(detection_parity_table(result.compare.summary, f"{deployed} vs PyTorch"))
    console.print(timing_table(result.infer.stats, title=f"{deployed} per image (ms)"))
    steps = Table(title="Steps")
    steps.add_column("step")
    steps.add_column("seconds", justify="right")
    for name, sec in result.seconds.items():
        steps.add_row(name, f"{sec:.1f}")
    console.print(steps)
    side_by_side = f"{deployed} | PyTorch side by side: {result.work_dir / 'compare'}"
    console.print(f"pictures: {result.work_dir / 'infer' / 'vis'}  ({side_by_side})")
    console.print(f"curves:   {train.curves}")
    console.print(f"report:   {result.compare.report_file}")
    console.print(f"summary:  {result.work_dir / 'demo_summary.json'}")
