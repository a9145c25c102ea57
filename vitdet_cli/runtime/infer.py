"""``vitdet infer`` as a library: images through the staged model, results, pictures, timings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.atomic import write_json_atomic
from vitdet_cli.report.timing import TimingStats
from vitdet_cli.runtime.backends import get_backend
from vitdet_cli.runtime.images import list_images, read_image
from vitdet_cli.runtime.staged import StagedModel, StagedResult

SHOW_THR = 0.3
"""Pictures draw detections from this score up (MMDetection's visualiser default); results
files keep everything above ``--score-thr``."""


@dataclass
class InferRun:
    """Per-image results of one backend, with timing statistics over all timed runs."""

    backend: str
    images: list[Path]
    results: list[StagedResult]
    stats: TimingStats
    class_names: list[str]
    pictures: list[Path] = field(default_factory=list)
    results_file: Optional[Path] = None


def detections_json(
    path: Path, image_id: int, res: StagedResult, names: Sequence[str]
) -> list[dict]:
    """COCO-style result entries (bbox xywh, score, category_id = label + 1) plus readable
    fields (file, label name) and RLE masks."""
    from vitdet_cli.compare.coco_eval import results_to_coco
    from vitdet_cli.compare.detections import DetSet

    det = DetSet.from_host_result(res.result)
    entries = results_to_coco(image_id, det, list(range(1, len(names) + 1)))
    for entry, label in zip(entries, det.labels.tolist()):
        entry["file_name"] = path.name
        entry["category_name"] = names[label]
    return entries


def run_images(
    model: StagedModel,
    images: Sequence[Path],
    score_thr: Optional[float] = None,
    dedup: str = "none",
    warmup: int = 1,
    repeat: int = 1,
    record: bool = False,
    on_image: Optional[Callable[[int, Path], None]] = None,
) -> tuple[list[StagedResult], TimingStats]:
    """Each image ``warmup`` untimed (first image only) + ``repeat`` timed times; keeps the first
    timed result. ``record`` keeps the stage tensors of the first image (for ``compare``)."""
    results, runs = [], []
    for i, path in enumerate(images):
        if on_image:
            on_image(i, path)
        image = read_image(path)
        for _ in range(warmup if i == 0 else 0):
            model(image, score_thr, dedup)
        for r in range(max(1, repeat)):
            res = model(image, score_thr, dedup, record=record and i == 0 and r == 0)
            runs.append(res.times)
            if r == 0:
                first = res
        results.append(first)
    return results, TimingStats.from_runs(runs)


def infer(
    artifacts: str | Path | Artifacts,
    img: str | Path,
    backend: str = "onnxruntime",
    score_thr: Optional[float] = 0.05,
    dedup: str = "none",
    out: Optional[str | Path] = None,
    warmup: int = 1,
    repeat: int = 1,
    backend_options: Optional[dict] = None,
    record: bool = False,
    on_image: Optional[Callable[[int, Path], None]] = None,
    show_thr: float = SHOW_THR,
) -> InferRun:
    """Run ``img`` (a file or folder) through the artifacts on ``backend``; with ``out``, write
    ``results.json`` and one picture per image under it."""
    images = list_images(img)
    model = StagedModel(artifacts, get_backend(backend, **(backend_options or {})))
    with model:
        results, stats = run_images(
            model, images, score_thr, dedup, warmup, repeat, record, on_image
        )
    run = InferRun(backend, images, results, stats, model.class_names)
    if out is not None:
        write_outputs(run, Path(out), show_thr)
    return run


def draw_result(image, res: StagedResult, class_names: Sequence[str], show_thr: float = SHOW_THR):
    """The picture of one result: masks, boxes and labels scoring at least ``show_thr``."""
    from vitdet_cli.report.pictures import draw_detections

    r = res.result
    return draw_detections(image, r.boxes, r.scores, r.labels, r.masks, class_names, show_thr)


def write_outputs(run: InferRun, out: Path, show_thr: float = SHOW_THR) -> None:
    """``results.json`` (all images, every detection kept) and ``vis/<stem>.jpg`` per image
    (detections scoring at least ``show_thr``)."""
    from vitdet_cli.report.pictures import save_picture

    entries = []
    for image_id, (path, res) in enumerate(zip(run.images, run.results)):
        entries += detections_json(path, image_id, res, run.class_names)
        picture = draw_result(read_image(path), res, run.class_names, show_thr)
        run.pictures.append(save_picture(out / "vis" / f"{path.stem}.jpg", picture))
    run.results_file = write_json_atomic(out / "results.json", entries)
