"""`vitdet eval`: COCO bbox/segm mAP of the exported stages per backend, or of a checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from vitdet_cli.commands._common import (
    ImagesOption,
    JsonOption,
    LimitOption,
    MaxPixelsOption,
    use_images_limit,
    use_json,
)
from vitdet_cli.commands.infer import DeviceIdOption, backend_options
from vitdet_cli.errors import VitdetError
from vitdet_cli.report.console import console, emit, failed_row


def _check_source(artifacts: Optional[Path], checkpoint: Optional[Path], backend) -> None:
    if (artifacts is None) == (checkpoint is None):
        raise VitdetError(
            "give exactly one of --artifacts DIR or --checkpoint CKPT",
            hint="--artifacts evaluates the exported stages, --checkpoint the model in mmdet",
            code="bad_usage",
            exit_code=2,
        )
    if checkpoint is not None and backend:
        raise VitdetError(
            "--backend applies to --artifacts; a checkpoint is evaluated by MMDetection",
            hint="drop --backend, or export the checkpoint and pass --artifacts",
            code="bad_usage",
            exit_code=2,
        )


def _render(data: dict) -> None:
    from vitdet_cli.evaluation import flat_metrics
    from vitdet_cli.report.tables import metrics_table, per_class_table

    for res in data["results"]:
        if not res.get("ok", True):
            failed_row(res)
            continue
        title = f"COCO mAP: {res['backend']} ({res['images']} images, {res['seconds']:.1f}s)"
        console.print(metrics_table(flat_metrics(res), title=title))
        if res.get("per_class"):
            title = f"AP per class: {res['backend']}"
            console.print(per_class_table(res["per_class"], title=title))
        for warning in res.get("warnings", []):
            console.print(f"[yellow]warning:[/yellow] {warning}")
    evaluators = {r["evaluator"] for r in data["results"] if "evaluator" in r}
    console.print(f"data: {data['data']} ({data['images_dir']})")
    for evaluator in sorted(evaluators):
        console.print(f"evaluator: {evaluator}")


def command(
    artifacts: Optional[Path] = typer.Option(
        None, "--artifacts", help="The --out directory of `vitdet export`."
    ),
    checkpoint: Optional[Path] = typer.Option(
        None, "--checkpoint", help="Evaluate this checkpoint through MMDetection instead."
    ),
    config: Optional[Path] = typer.Option(
        None,
        "--config",
        help="Config of --checkpoint (default: vitdet_config.json beside it; a named .py runs).",
    ),
    data: Optional[Path] = typer.Option(
        None,
        "--data",
        help="COCO annotation JSON (default for a model of the synthetic shapes: the built-in "
        "set's val split, generated into data/synthetic_shapes on first use).",
    ),
    images: Optional[Path] = ImagesOption,
    backend: Optional[List[str]] = typer.Option(
        None,
        "--backend",
        help="onnxruntime | openvino | torch | om | tuned; repeatable or a comma list "
        "(default: the tuned pipeline when `vitdet tune` ran, else onnxruntime).",
    ),
    limit: Optional[int] = LimitOption,
    device: str = typer.Option("cpu", "--device", help="Torch device for --checkpoint."),
    device_id: int = DeviceIdOption,
    max_pixels: Optional[int] = MaxPixelsOption,
    json_output: bool = JsonOption,
) -> None:
    """COCO mAP (bbox and segm, pycocotools) of the deployed stages or of a checkpoint."""
    use_json(json_output)
    use_images_limit(max_pixels)
    from vitdet_cli.report.console import info, spinner

    _check_source(artifacts, checkpoint, backend)
    from vitdet_cli.bench.backends import parse_backends
    from vitdet_cli.data.resolve import check_limit, resolve_dataset

    check_limit(limit)
    backends = parse_backends(backend or ["auto"])
    class_names, art = None, None
    if artifacts is not None:
        from vitdet_cli.artifacts import Artifacts

        art = Artifacts.open(artifacts)
        art.require()
        class_names = art.class_names
    elif data is None and config is None:
        from vitdet_cli.artifacts.model_config import beside_checkpoint

        trained = beside_checkpoint(checkpoint)  # data only: tells the built-in set's classes
        class_names = trained.class_names if trained is not None else None
    dataset = resolve_dataset(
        data,
        images,
        limit=limit,
        builtin_for=class_names,
        on_generate=lambda root: info(f"generating the built-in synthetic shapes set in {root}"),
    )
    ann, image_dir, defaulted = dataset.ann_file, dataset.image_dir, dataset.source == "builtin"
    if defaulted:
        info(f"no --data given: evaluating on {dataset.describe()}")
    if checkpoint is not None:
        from vitdet_cli.evaluation import evaluate_checkpoint

        with spinner("mmdet: evaluating the checkpoint") as step:
            res = evaluate_checkpoint(
                checkpoint,
                config,
                ann,
                image_dir,
                limit,
                device,
                on_image=lambda i, p: step(f"mmdet: image {i + 1} {p.name}"),
            )
        results = [{**res, "ok": True}]
    else:
        from vitdet_cli.evaluation import evaluate_backends

        with spinner(f"evaluating {', '.join(backends)}") as step:
            results = evaluate_backends(
                art,
                dataset,
                backends,
                {n: backend_options(n, device_id) for n in backends},
                on_image=lambda b, i, p: step(f"{b}: image {i + 1} {p.name}"),
            )
    out = {
        "data": str(ann),
        "images_dir": str(image_dir),
        "default_data": defaulted,
        "results": results,
    }
    emit(out, lambda: _render(out))
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)
