"""`vitdet infer`: images through the staged model; results JSON, pictures, a timing table."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vitdet_cli.commands._common import (
    JsonOption,
    MaxPixelsOption,
    use_images_limit,
    use_json,
)
from vitdet_cli.report.console import console, emit

BackendOption = typer.Option(
    "onnxruntime", "--backend", help="onnxruntime | openvino | om | torch."
)
ArtifactsOption = typer.Option(..., "--artifacts", help="The --out directory of `vitdet export`.")
ScoreThrOption = typer.Option(0.05, "--score-thr", help="Keep detections scoring at least this.")
DedupOption = typer.Option("none", "--dedup", help="none | keep_top1_per_label.")
DeviceIdOption = typer.Option(0, "--device-id", help="NPU id for --backend om.")


def backend_options(backend: str, device_id: int) -> dict:
    """Constructor options of a backend from the CLI's flags."""
    return {"device_id": device_id} if backend == "om" else {}


def command(
    artifacts: Path = ArtifactsOption,
    img: Path = typer.Option(..., "--img", help="An image file or a folder of images."),
    backend: str = BackendOption,
    score_thr: float = ScoreThrOption,
    dedup: str = DedupOption,
    out: Path = typer.Option(Path("outputs/infer"), "--out", help="Where results and pictures go."),
    compare: bool = typer.Option(False, "--compare", help="Also run PyTorch and report parity."),
    warmup: int = typer.Option(1, "--warmup", help="Untimed runs before timing."),
    repeat: int = typer.Option(1, "--repeat", help="Timed runs per image (median reported)."),
    device_id: int = DeviceIdOption,
    show_thr: float = typer.Option(0.3, "--show-thr", help="Pictures draw scores from this up."),
    max_pixels: Optional[int] = MaxPixelsOption,
    json_output: bool = JsonOption,
) -> None:
    """Detect objects with the exported stages and time every step."""
    use_json(json_output)
    use_images_limit(max_pixels)
    from vitdet_cli.report.console import spinner
    from vitdet_cli.report.timing import timing_table
    from vitdet_cli.runtime.infer import infer

    with spinner(f"{backend}: running") as step:
        run = infer(
            artifacts,
            img,
            backend,
            score_thr,
            dedup,
            out,
            warmup,
            repeat,
            backend_options(backend, device_id),
            record=compare,
            on_image=lambda i, p: step(f"{backend}: image {i + 1} {p.name}"),
            show_thr=show_thr,
        )
    data = {
        "backend": backend,
        "images": len(run.images),
        "detections": sum(len(r.result.scores) for r in run.results),
        "results": str(run.results_file),
        "pictures": [str(p) for p in run.pictures],
        "timing": run.stats.to_dict(),
    }
    report = None
    if compare:
        from vitdet_cli.compare.api import compare_runs

        with spinner("torch: running the reference"):
            report = compare_runs(run.artifacts, run, out, score_thr=score_thr, dedup=dedup)
        data["compare"] = report.to_dict()

    def render() -> None:
        console.print(timing_table(run.stats, title=f"{backend} timing per image (ms)"))
        if report is not None:
            report.render(console)
        console.print(f"results: {run.results_file}")
        console.print(f"pictures: {out / 'vis'} ({len(run.pictures)})")

    emit(data, render)
