"""`vitdet compare`: two backends on the same images — tensors, detections, mAP."""

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
from vitdet_cli.commands.infer import (
    ArtifactsOption,
    BackendOption,
    CheckpointOption,
    DedupOption,
    DeviceIdOption,
    ReferenceDeviceOption,
    ScoreThrOption,
    backend_options,
    emit_verdict,
    reference_options,
)
from vitdet_cli.report.console import console


def command(
    artifacts: Path = ArtifactsOption,
    img: Optional[Path] = typer.Option(None, "--img", help="An image file or a folder."),
    data: Optional[Path] = typer.Option(
        None, "--data", help="COCO annotation JSON instead of --img: also compare bbox/segm mAP."
    ),
    images: Optional[Path] = ImagesOption,
    limit: Optional[int] = LimitOption,
    backend: str = BackendOption,
    reference: str = typer.Option(
        "mmdet",
        "--reference",
        help="mmdet: the trained model as MMDetection runs it (default); torch | onnxruntime | "
        "openvino | om: that backend's stage graphs with the same host code.",
    ),
    reference_device: str = ReferenceDeviceOption,
    checkpoint: Optional[Path] = CheckpointOption,
    score_thr: float = ScoreThrOption,
    dedup: str = DedupOption,
    out: Path = typer.Option(Path("outputs/compare"), "--out", help="Report and pictures."),
    device_id: int = DeviceIdOption,
    max_pixels: Optional[int] = MaxPixelsOption,
    json_output: bool = JsonOption,
) -> None:
    """Prove the deployed stages agree with the trained model (exit 1 when parity fails)."""
    use_json(json_output)
    use_images_limit(max_pixels)
    ref_options = reference_options(reference, reference_device, checkpoint, device_id)
    from vitdet_cli.compare.api import compare
    from vitdet_cli.data.resolve import resolve_dataset
    from vitdet_cli.report.console import spinner

    dataset = resolve_dataset(data, images, img=img, limit=limit, takes_img=True)
    paths = list(dataset.images)
    with spinner(f"comparing {backend} with {reference}") as step:
        report = compare(
            artifacts,  # opened by compare() after the output folder is checked
            paths,
            backend,
            reference,
            out,
            score_thr,
            dedup,
            dataset.ann_file,
            backend_options(backend, device_id),
            ref_options,
            on_image=lambda i, p: step(f"comparing: image {i + 1}/{len(paths)} {p.name}"),
        )
    emit_verdict(report.to_dict(), report, lambda: report.render(console))
