"""`vitdet bench`: every backend on the same images — status, size, mAP, latency, memory."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import List, Optional

import typer

from vitdet_cli.commands._common import (
    ImagesOption,
    JsonOption,
    MaxPixelsOption,
    use_images_limit,
    use_json,
)
from vitdet_cli.commands.infer import ArtifactsOption, DeviceIdOption, backend_options
from vitdet_cli.report.console import console, emit, failed_row

DEFAULT_BACKENDS = "onnxruntime,openvino,torch,om"


def _render(report) -> None:
    from vitdet_cli.bench.api import timing_from_dict
    from vitdet_cli.report.timing import bench_table, timing_table

    title = f"Benchmark: {len(report.images)} image(s), warmup {report.warmup}, "
    console.print(bench_table(report.rows, title=title + f"repeat {report.repeat}"))
    for row in report.rows:
        if row["ok"]:
            stats = timing_from_dict(row["timing"])
            runs_on = row.get("runs_on", row["backend"])
            console.print(timing_table(stats, title=f"{runs_on} timing per image (ms)"))
        else:
            failed_row(row)
    console.print(f"images: {report.image_source}")


def command(
    artifacts: Path = ArtifactsOption,
    backends: Optional[List[str]] = typer.Option(
        None,
        "--backends",
        help="Comma list (or repeat the option) of onnxruntime, openvino, torch, om, tuned "
        "(default: all four, and tuned when `vitdet tune` ran on the folder).",
    ),
    img: Optional[Path] = typer.Option(
        None,
        "--img",
        help="An image file or a folder to time (default: the first 4 images of --data, else "
        "of data/synthetic_shapes/val when it exists, else a rendered sample).",
    ),
    data: Optional[Path] = typer.Option(None, "--data", help="COCO annotation JSON: add mAP."),
    images: Optional[Path] = ImagesOption,
    limit: Optional[int] = typer.Option(None, "--limit", help="Score the first N images."),
    warmup: int = typer.Option(2, "--warmup", help="Untimed runs before timing."),
    repeat: int = typer.Option(5, "--repeat", help="Timed runs per image."),
    timeout: float = typer.Option(3600.0, "--timeout", help="Seconds allowed per backend."),
    device_id: int = DeviceIdOption,
    max_pixels: Optional[int] = MaxPixelsOption,
    json_output: bool = JsonOption,
) -> None:
    """Compare the backends like `yolo benchmark` (each in a fresh process)."""
    use_json(json_output)
    use_images_limit(max_pixels)
    from vitdet_cli.artifacts import Artifacts
    from vitdet_cli.bench import bench, bench_images, parse_backends
    from vitdet_cli.data.resolve import resolve_dataset
    from vitdet_cli.report.console import info, spinner
    from vitdet_cli.runtime.host_config import HostConfig

    names = parse_backends(backends or [DEFAULT_BACKENDS])
    spec, dataset = None, None
    if data is not None or images is not None:  # the scored set; --img only picks what is timed
        scored = resolve_dataset(data, images, limit=limit)
        dataset, spec = list(scored.images), (scored.ann_file, scored.image_dir, limit)
    art = Artifacts.open(artifacts)  # after the dataset checks: a bad input is named first
    art.require()
    if not backends and art.tuning is not None:
        names.append("tuned")
    with tempfile.TemporaryDirectory(prefix="vitdet-bench-") as tmp:
        paths, source = bench_images(
            img, dataset, HostConfig.from_dict(art.host).img_size, Path(tmp)
        )
        if img is None:
            info(f"no --img given: timing on {source}")
        with spinner(f"benchmarking {', '.join(names)}") as step:
            report = bench(
                art,
                names,
                paths,
                source,
                warmup,
                repeat,
                spec,
                {n: backend_options(n, device_id) for n in names},
                timeout,
                on_backend=lambda b: step(f"benchmarking {b} (fresh process)"),
            )
    emit(report.to_dict(), lambda: _render(report))
    if not any(row["ok"] for row in report.rows):
        raise typer.Exit(1)
