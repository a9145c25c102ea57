"""`vitdet train`: MMDetection training on one device (in-process) or several (torchrun)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from vitdet_cli.commands._common import JsonOption, SetOption, use_json
from vitdet_cli.report.console import console, emit


def command(
    config: Path = typer.Argument(
        ..., help="YAML experiment config (configs/*.yaml) or an mmengine .py config."
    ),
    device: Optional[str] = typer.Option(
        None, "--device", help="auto | npu | cuda | cpu (default: the config's)."
    ),
    devices: Optional[str] = typer.Option(
        None, "--devices", help="Physical devices, e.g. 6,7 (several → torchrun)."
    ),
    work_dir: Optional[Path] = typer.Option(
        None, "--work-dir", help="Where checkpoints, logs and curves go."
    ),
    resume: Optional[str] = typer.Option(
        None,
        "--resume",
        metavar="[CKPT]",
        help="Continue from the newest complete checkpoint, or from --resume CKPT.",
    ),
    load_from: Optional[Path] = typer.Option(
        None, "--load-from", help="Initialise weights from a checkpoint."
    ),
    overrides: Optional[List[str]] = SetOption,
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Print the resolved mmengine config and launch command; the same checks as a "
        "real run report what would fail.",
    ),
    nnodes: int = typer.Option(1, "--nnodes", help="Number of nodes (torchrun)."),
    node_rank: int = typer.Option(0, "--node-rank", help="This node's rank (torchrun)."),
    master_addr: str = typer.Option(
        "127.0.0.1", "--master-addr", help="Rank-0 node address (torchrun)."
    ),
    master_port: int = typer.Option(29500, "--master-port", help="Rank-0 node port (torchrun)."),
    json_output: bool = JsonOption,
) -> None:
    """Train ViTDet Mask R-CNN; several --devices launch torchrun (hccl/nccl/gloo)."""
    use_json(json_output)
    from vitdet_cli.report.progress import ConsoleProgress
    from vitdet_cli.training import api
    from vitdet_cli.training.launch import NodeSpec

    resume_arg = None if resume is None else (True if resume == "latest" else Path(resume))
    plan = api.plan_training(
        config,
        device=device,
        devices=devices,
        work_dir=work_dir,
        resume=resume_arg,
        load_from=load_from,
        overrides=overrides or [],
        nodes=NodeSpec(nnodes, node_rank, master_addr, master_port),
        dry_run=dry_run,
        progress=ConsoleProgress(),
    )
    if dry_run:

        def show() -> None:
            from rich.syntax import Syntax

            console.print(Syntax(plan.mm_cfg.pretty_text, "python"))
            _print_plan(plan)

        emit({"dry_run": True, **plan.to_dict(), "mmengine_config": plan.mm_cfg.to_dict()}, show)
        return
    _print_plan(plan)
    from vitdet_cli.report.console import status_console
    from vitdet_cli.training.output import TRAIN_LOG

    status_console().print(f"  training log: {plan.work_dir / TRAIN_LOG} (shown with --verbose)")
    with ConsoleProgress() as progress:
        result = api.run_training(plan, progress)
    emit(result.to_dict(), lambda: _print_result(result))


def _print_plan(plan) -> None:
    from vitdet_cli.report.console import status_console

    out = status_console()
    d = plan.to_dict()
    out.print(f"[bold]train[/bold] {d['source']} → {d['work_dir']}")
    out.print(
        f"  device {d['device']} × {d['world_size']} ({d['backend']}); "
        + " ".join(f"{k}={v}" for k, v in d["env"].items())
    )
    if "max_iters" in d:
        out.print(
            f"  {d['max_iters']} iterations, total batch {d['total_batch']}, "
            f"lr {d['effective_lr']:.3g} ({d['lr_rule']}), amp {'on' if d['amp'] else 'off'}"
        )
    for notice in (d.get("preflight") or {}).get("notices", []):
        out.print(f"  [yellow]notice:[/yellow] {notice}")
    if d["resume_from"]:
        out.print(f"  resuming from {d['resume_from']}")
    if d["command"]:
        out.print("  launch: " + " ".join(d["command"]))
    out.print(f"  mmengine config: {d['config_file']}")


def _print_result(result) -> None:
    from vitdet_cli.report.tables import metrics_table

    if result.final_metrics:
        console.print(metrics_table(result.final_metrics))
    console.print(
        f"done in {result.seconds:.0f}s; checkpoint {result.last_checkpoint}; "
        f"curves {result.curves}"
    )
