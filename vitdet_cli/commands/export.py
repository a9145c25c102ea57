"""`vitdet export`: checkpoint → backbone / rpn / roi ONNX graphs with metas, verified."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vitdet_cli.commands._common import JsonOption, use_json
from vitdet_cli.report.console import console, emit


def command(
    checkpoint: Path = typer.Option(
        ..., "--checkpoint", help="Trained checkpoint (work_dir/iter_N.pth)."
    ),
    config: Optional[Path] = typer.Option(
        None,
        "--config",
        help="Training config (default: vitdet_config.json beside it; a named .py runs).",
    ),
    out: Path = typer.Option(Path("artifacts/vitdet"), "--out", help="Artifacts directory."),
    stages: Optional[str] = typer.Option(None, "--stages", help="Subset, e.g. backbone,rpn,roi."),
    opset: int = typer.Option(
        16, "--opset", help="ONNX opset; 16+ exports RoIAlign exactly (CANN 8: 10–18)."
    ),
    sample: Optional[Path] = typer.Option(
        None, "--sample-image", help="Image the checks run on (default: a built-in synthetic one)."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Export the model in three stages (backbone, rpn, roi) and check every graph."""
    use_json(json_output)
    from vitdet_cli.errors import VitdetError
    from vitdet_cli.export.api import export_artifacts
    from vitdet_cli.io_checks import prepare_out_dir
    from vitdet_cli.report.console import spinner
    from vitdet_cli.report.export_table import export_lint_table, export_parity_table

    prepare_out_dir(out, create=False)  # export makes the folder only once the inputs are good
    with spinner("exporting stages") as step:
        result = export_artifacts(
            checkpoint, config, out, stages or None, opset, sample, on_step=step
        )

    def render() -> None:
        console.print(export_parity_table(result.checks))
        console.print(export_lint_table(result.checks))
        for stage, meta in result.metas.items():
            files = ", ".join(str(out / "export" / stage / g.file) for g in meta.graphs.values())
            console.print(f"{stage}: {files}")

    failed = None
    if not result.ok:
        failed = VitdetError(
            "export wrote the graphs but a check failed (see the table)",
            hint="a parity failure means ONNX Runtime and PyTorch disagree; a lint failure "
            "means atc will reject the graph",
            code="export_check_failed",
        )
    emit(result.to_dict(), render, error=failed)
