"""`vitdet tune`: time every stage on every CPU runtime (or as Ascend OMs per atc precision
mode), record the fastest faithful one."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vitdet_cli.commands._common import (
    AtcOption,
    ImagesOption,
    JsonOption,
    LimitOption,
    MaxPixelsOption,
    RunnerOption,
    SocVersionOption,
    use_images_limit,
    use_json,
)
from vitdet_cli.commands.infer import DeviceIdOption
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
        "has it) and ONNX Runtime int8 (--target npu: OMs at allow_mix_precision with "
        "LayerNorm/Softmax kept fp32, and force_fp16), each admitted per stage only when the "
        "whole pipeline passes the gate on --data (meaningful on trained weights only).",
    ),
    target: str = typer.Option(
        "cpu",
        "--target",
        help="cpu: the host's runtimes. npu: the stages as Ascend OMs, compiled with atc per "
        "precision mode (must_keep_origin_dtype is the exact one) and run on --device-id.",
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
    device_id: int = DeviceIdOption,
    runner: str = RunnerOption,
    soc_version: Optional[str] = SocVersionOption,
    atc: Optional[str] = AtcOption,
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
    from vitdet_cli.tune.npu import NpuOptions
    from vitdet_cli.tune.table import candidates_table

    if img is not None:
        check_image_file(img)  # bad input is named before the folder is opened
    dataset = None
    if data is not None or images is not None:
        dataset = resolve_dataset(data, images, limit=limit)  # bad input named before opening
    art = Artifacts.open(artifacts)
    if dataset is None and precision == "auto" and not dry_run:  # --dry-run writes nothing
        dataset = resolve_dataset(limit=limit, builtin_for=art.class_names, on_generate=_made)
    with spinner("tuning") as step:
        report = tune_artifacts(
            art,
            precision,
            img,
            dataset,
            warmup,
            repeat,
            threads,
            dry_run,
            on_step=step,
            target=target,
            npu=NpuOptions(device_id, runner, soc_version, atc),
        )
    data_out = report.to_dict()

    def render() -> None:
        if report.dry_run:
            console.print(f"candidates: {', '.join(c.label for c in report.candidates)}")
            for oms in data_out["om_sets"]:
                what = f"reuse {oms['reused']}" if oms["reused"] else "compile"
                console.print(f"{oms['stage']} om {oms['precision']} ({oms['atc_mode']}): {what}")
                for command in oms["commands"]:
                    console.print(f"  {command}", markup=False)
            console.print(f"timed on: {report.sample}; nothing measured or written (--dry-run)")
        else:
            console.print(candidates_table(data_out, console.width))
            chosen = ", ".join(
                f"{s}: {c['backend']} {c['precision']}"
                + (f" ({c['atc_mode']})" if c["atc_mode"] else "")
                for s, c in data_out["choices"].items()
            )
            for p in report.pipelines:
                runs = ", ".join(f"{v:.0f}" for v in p["runs_ms"])
                console.print(
                    f"whole pipeline, {p['pipeline']}: {p['median_ms']:.1f} ms (runs: {runs})"
                )
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
