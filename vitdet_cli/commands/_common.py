"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from vitdet_cli.report.console import MODE

JsonOption = typer.Option(False, "--json", help="Print one JSON object on stdout.")
SetOption = typer.Option(
    None, "--set", help="Override a config field: --set train.lr=2e-4 (repeatable)."
)
MaxPixelsOption = typer.Option(
    None,
    "--max-pixels",
    min=1,
    help="Refuse images larger than this many pixels before decoding (default 100 million).",
)

ImagesOption = typer.Option(
    None,
    "--images",
    help="Image folder of --data (default: ROOT/SPLIT for --data instances_SPLIT.json in "
    "ROOT/annotations, else ROOT/val).",
)
LimitOption = typer.Option(None, "--limit", help="Use the first N images.")
SocVersionOption = typer.Option(
    None,
    "--soc-version",
    help="e.g. Ascend910B3 (default: $SOC_VERSION, npu-smi, Ascend910B3).",
)
AtcOption = typer.Option(None, "--atc", help="The atc executable (default: atc on PATH).")
RunnerOption = typer.Option(
    "auto", "--runner", help="How OMs run: auto (ais_bench, else pyACL), ais_bench or acl."
)


def use_images_limit(max_pixels: Optional[int]) -> None:
    """Apply ``--max-pixels`` to every image this command reads."""
    from vitdet_cli.runtime.images import set_max_pixels

    set_max_pixels(max_pixels)


def use_json(flag: bool) -> None:
    """Let ``--json`` work after the subcommand as well as before it."""
    if flag:
        MODE.json = True


def load(config: Optional[Path], overrides: Optional[List[str]]):
    from vitdet_cli.config import load_config

    return load_config(config, overrides or [])
