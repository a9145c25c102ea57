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
    "auto",
    "--backend",
    help="auto | onnxruntime | openvino | om | torch | tuned (auto: the stages' runtimes chosen "
    "by `vitdet tune` when it ran on the folder, else onnxruntime).",
)
ArtifactsOption = typer.Option(..., "--artifacts", help="The --out directory of `vitdet export`.")
ScoreThrOption = typer.Option(0.05, "--score-thr", help="Keep detections scoring at least this.")
DedupOption = typer.Option("none", "--dedup", help="none | keep_top1_per_label.")
DeviceIdOption = typer.Option(0, "--device-id", help="NPU id for --backend om.")
ReferenceDeviceOption = typer.Option(
    "cpu", "--reference-device", help="cpu | npu | cuda: where the PyTorch reference runs."
)
CheckpointOption = typer.Option(
    None,
    "--checkpoint",
    help="The exported checkpoint, when not at the path in the manifest (same sha256).",
)
REFERENCE_DEVICES = ("cpu", "npu", "cuda")


def backend_options(backend: str, device_id: int) -> dict:
    """Constructor options of a backend from the CLI's flags."""
    return {"device_id": device_id} if backend in ("om", "auto", "tuned") else {}


def reference_options(
    reference: str, device: str, checkpoint: Optional[Path], device_id: int
) -> dict:
    """Options of the compare reference from the CLI's flags, refusing bad names up front."""
    from vitdet_cli.compare.api import PYTORCH_REFERENCES, REFERENCE
    from vitdet_cli.errors import VitdetError
    from vitdet_cli.runtime.backends import backend_class

    if device not in REFERENCE_DEVICES:
        raise VitdetError(
            f"--reference-device {device!r} is not one of {', '.join(REFERENCE_DEVICES)}",
            code="bad_device",
            exit_code=2,
        )
    if reference != REFERENCE:
        backend_class(reference)  # an unknown name is a usage error now, not after the run
    if reference not in PYTORCH_REFERENCES:
        return backend_options(reference, device_id)
    return {"device": device, **({"checkpoint": checkpoint} if checkpoint else {})}


def emit_verdict(data: dict, report, render) -> None:
    """Print ``data`` (or ``render``); when ``report`` failed its gates, exit 1 with an error —
    in ``--json`` mode inside the one document (``"error"``), not as a second one."""
    from vitdet_cli.errors import VitdetError

    err = None
    if report is not None and not report.passed:
        a, b = report.names
        err = VitdetError(
            f"{a} and {b} disagree beyond the {report.gates.name} gates "
            f"({', '.join(report.decided_by)})",
            hint=f"see {report.report_file or 'the report'} for every tensor and detection",
            code="parity_failed",
        )
    emit(data, render, error=err)


def command(
    artifacts: Path = ArtifactsOption,
    img: Path = typer.Option(..., "--img", help="An image file or a folder of images."),
    backend: str = BackendOption,
    score_thr: float = ScoreThrOption,
    dedup: str = DedupOption,
    out: Path = typer.Option(Path("outputs/infer"), "--out", help="Where results and pictures go."),
    compare: bool = typer.Option(
        False,
        "--compare",
        help="Also run the trained model in MMDetection (PyTorch) and report parity.",
    ),
    reference_device: str = ReferenceDeviceOption,
    checkpoint: Optional[Path] = CheckpointOption,
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

    ref_options = reference_options("mmdet", reference_device, checkpoint, device_id)

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
        "backend": run.backend,
        "images": len(run.images),
        "detections": sum(len(r) for r in run.results),
        "results": str(run.results_file),
        "pictures": [str(p) for p in run.pictures],
        "timing": run.stats.to_dict(),
    }
    report = None
    if compare:
        from vitdet_cli.compare.api import compare_runs

        with spinner(f"mmdet on {reference_device}: running the reference"):
            report = compare_runs(
                run.artifacts,
                run,
                out,
                score_thr=score_thr,
                dedup=dedup,
                reference_options=ref_options,
            )
        data["compare"] = report.to_dict()

    def render() -> None:
        console.print(timing_table(run.stats, title=f"{run.backend} timing per image (ms)"))
        if report is not None:
            report.render(console)
        console.print(f"results: {run.results_file}")
        console.print(f"pictures: {out / 'vis'} ({len(run.pictures)})")

    emit_verdict(data, report, render)
