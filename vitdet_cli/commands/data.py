"""`vitdet data synth|check|subset`: make, validate and cut down COCO datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vitdet_cli.commands._common import JsonOption, use_json
from vitdet_cli.report.console import console, emit, status_console

app = typer.Typer(help="Make, check and subset COCO-format datasets.", no_args_is_help=True)


@app.command("synth")
def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the dataset into.")],
    images: Annotated[int, typer.Option("--images", min=1, help="Images, train + val.")] = 300,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same dataset.")] = 0,
    size: Annotated[int, typer.Option("--size", min=64, max=4096, help="Square side, px.")] = 320,
    val_fraction: Annotated[
        float,
        typer.Option("--val-fraction", min=0.0, max=0.95, help="Share of images in the val split."),
    ] = 0.2,
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty folder.")] = False,
    json_output: bool = JsonOption,
) -> None:
    """Generate the synthetic shapes dataset (COCO layout) and a preview.jpg of it."""
    use_json(json_output)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from vitdet_cli.data.synth import make_synthetic_dataset

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=status_console(),
        transient=True,
    ) as bar:
        task = bar.add_task("generating images", total=images)
        ds = make_synthetic_dataset(
            out,
            images=images,
            seed=seed,
            image_size=size,
            val_fraction=val_fraction,
            force=force,
            progress=lambda done, total: bar.update(task, completed=done),
        )

    def render() -> None:
        splits = list(ds.num_images)
        table = Table(title="synthetic shapes")
        table.add_column("")
        for split in splits:
            table.add_column(split, justify="right")
        table.add_row("images", *(str(ds.num_images[s]) for s in splits))
        for name in ds.class_names:
            table.add_row(name, *(str(ds.instances[s][name]) for s in splits))
        table.add_row(
            "instances", *(str(sum(ds.instances[s].values())) for s in splits), style="bold"
        )
        console.print(table)
        console.print(
            f"dataset: {ds.root} ({ds.seconds:.1f}s)\ntrain:   {ds.train_ann}\n"
            f"val:     {ds.val_ann}"
        )
        if ds.preview:
            console.print(f"preview: {ds.preview}")

    emit(ds.to_dict(), render)


@app.command("check")
def check(
    ann: Annotated[Path, typer.Option("--ann", help="COCO annotation file (instances_*.json).")],
    images: Annotated[Path, typer.Option("--images", help="Folder the file_name entries are in.")],
    sample: Annotated[
        bool, typer.Option("--sample", help="Look up only a spread of images on disk (fast).")
    ] = False,
    json_output: bool = JsonOption,
) -> None:
    """Validate a COCO annotation file against its image folder; exit 1 on a problem."""
    use_json(json_output)
    from vitdet_cli.data.coco import check_coco_layout

    summary = check_coco_layout(ann, images, check_images="sample" if sample else True)

    def render() -> None:
        table = Table(title=f"{summary.ann_file}", show_header=False)
        table.add_column("field")
        table.add_column("value", overflow="fold")
        table.add_row(
            "images",
            f"{summary.images} ({summary.checked_images} found on disk in {summary.img_dir})",
        )
        table.add_row("annotations", f"{summary.annotations} ({summary.crowd_annotations} crowd)")
        table.add_row("images without annotations", str(summary.images_without_annotations))
        table.add_row("categories", str(summary.categories))
        table.add_row(
            "instances per class",
            ", ".join(f"{k}: {v}" for k, v in summary.instances_per_class.items()),
        )
        console.print(table)
        console.print("[green]ok[/green]")

    emit(summary.to_dict(), render)


@app.command("subset")
def subset(
    ann: Annotated[Path, typer.Option("--ann", help="COCO annotation file to pick from.")],
    n: Annotated[int, typer.Option("--n", min=1, help="Number of images to keep.")],
    out: Annotated[Path, typer.Option("--out", help="Annotation file to write.")],
    seed: Annotated[int, typer.Option("--seed", help="Same N and seed, same images.")] = 0,
    json_output: bool = JsonOption,
) -> None:
    """Write a COCO file with N annotated images picked deterministically (for overfit runs)."""
    use_json(json_output)
    from vitdet_cli.data.coco import subset_coco

    result = subset_coco(ann, n, out, seed=seed)
    emit(
        result.to_dict(),
        lambda: console.print(
            f"wrote {result.out_file}: {result.images} images, {result.annotations} annotations "
            f"(from {result.source}, seed {seed})"
        ),
    )
