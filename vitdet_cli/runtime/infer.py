"""``vitdet infer`` as a library: images through the staged model, results, pictures, timings."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Sequence

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.errors import VitdetError
from vitdet_cli.io_checks import name_max, os_error, prepare_out_dir
from vitdet_cli.report.pictures import draw_detections, picture_names, save_picture
from vitdet_cli.runtime.backends.tuned import AUTO, backend_label, open_backend
from vitdet_cli.runtime.detections import Detections
from vitdet_cli.runtime.images import list_images, read_image
from vitdet_cli.runtime.results_json import write_results
from vitdet_cli.runtime.staged import Recorded, StagedModel
from vitdet_cli.runtime.timing import StepTimer, TimingStats

if TYPE_CHECKING:
    import numpy as np

OnResult = Callable[[int, Path, "np.ndarray", Detections], None]

SHOW_THR = 0.3
"""Pictures draw detections from this score up (MMDetection's visualiser default); results
files keep everything above ``--score-thr``."""


@dataclass
class InferRun:
    """One backend over a list of images: the detections per image and what the run as a whole
    measured (timing statistics over all timed runs, the stage tensors of the first image)."""

    backend: str
    images: list[Path]
    results: list[Detections]
    stats: TimingStats
    class_names: list[str]
    tensors: Recorded = field(default_factory=dict)
    """With ``record``: every stage graph's feeds and outputs on the first image (compare)."""
    pictures: list[Path] = field(default_factory=list)
    results_file: Optional[Path] = None
    artifacts: Optional[Artifacts] = None
    backend_info: dict = field(default_factory=dict)
    """Per graph, what the backend ran it on (:meth:`StagedModel.backend_info`)."""


def run_images(
    model: StagedModel,
    images: Sequence[Path],
    score_thr: Optional[float] = None,
    dedup: str = "none",
    warmup: int = 1,
    repeat: int = 1,
    record: bool = False,
    on_image: Optional[Callable[[int, Path], None]] = None,
    on_result: Optional[OnResult] = None,
) -> InferRun:
    """Each image ``warmup`` untimed (first image only) + ``repeat`` timed times; keeps the first
    timed result. ``record`` keeps the stage tensors of the first image (for ``compare``).
    ``on_result(i, path, image, result)`` sees each decoded image once (e.g. to draw it)."""
    results, runs, tensors = [], [], {}
    for i, path in enumerate(images):
        if on_image:
            on_image(i, path)
        image = read_image(path)
        for _ in range(warmup if i == 0 else 0):
            model(image, score_thr, dedup)
        for r in range(max(1, repeat)):
            timer = StepTimer()
            keep = tensors if record and i == 0 and r == 0 else None
            res = model(image, score_thr, dedup, timer=timer, record=keep)
            runs.append(timer.ms)
            if r == 0:
                first = res
        results.append(first)
        if on_result:
            on_result(i, path, image, first)
    return InferRun(
        backend_label(model.backend),
        list(images),
        results,
        TimingStats.from_runs(runs),
        model.class_names,
        tensors=tensors,
        backend_info=model.backend_info(),
    )


def infer(
    artifacts: str | Path | Artifacts,
    img: str | Path,
    backend: str = AUTO,
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
    """Run ``img`` (a file or folder) through the artifacts on ``backend`` (``auto``: the
    folder's tuned pipeline when ``vitdet tune`` ran, else ONNX Runtime); with ``out``, write
    ``results.json`` and one picture per image under it. Bad images and output folders are
    refused before the artifacts are opened (and verified)."""
    images = list_images(img)
    if out is not None:
        prepare_out_dir(out)
    art = Artifacts.of(artifacts)
    pictures = PictureWriter(Path(out) / "vis", images) if out is not None else None
    model = StagedModel(art, open_backend(art, backend, backend_options))
    with model, discard_on_error(pictures):
        if pictures is not None:
            pictures.draw = picture_of(model.class_names, show_thr)
        run = run_images(
            model, images, score_thr, dedup, warmup, repeat, record, on_image, pictures
        )
    run.artifacts = art
    if out is not None:
        write_outputs(run, Path(out), pictures)
    return run


def picture_of(class_names: Sequence[str], show_thr: float = SHOW_THR):
    """A :class:`PictureWriter` ``draw`` function: the detections on the image."""
    return lambda _i, image, res: draw_result(image, res, class_names, show_thr)


def draw_result(image, det: Detections, class_names: Sequence[str], show_thr: float = SHOW_THR):
    """The picture of one result: masks, boxes and labels scoring at least ``show_thr``."""
    return draw_detections(
        image, det.boxes, det.scores, det.labels, det.masks, class_names, show_thr
    )


class PictureWriter:
    """Saves a picture per image while the image is still decoded (``draw(i, image, result)``
    makes it); a failure stops the pictures, not the run, and :meth:`raise_failure` reports it
    once the results are safe."""

    def __init__(self, folder: Path, images: Sequence[Path], draw=None) -> None:
        self.folder = prepare_out_dir(folder)
        self.names = picture_names(images, limit=name_max(self.folder))
        self.draw = draw
        self.saved: list[Path] = []
        self.error: Optional[Exception] = None

    def __call__(self, i: int, path: Path, image, res: Detections) -> None:
        if self.error is not None or i >= len(self.names):
            return
        target = self.folder / self.names[i]
        try:
            self.saved.append(save_picture(target, self.draw(i, image, res)))
        except OSError as err:
            self.error = os_error(err, target)
        except Exception as err:  # noqa: BLE001 - reported after the results are written
            self.error = err

    def discard(self) -> None:
        """Remove the pictures saved so far (the run failed: leave no partial output)."""
        for path in self.saved:
            path.unlink(missing_ok=True)
        self.saved.clear()

    def raise_failure(self, results_file: Path) -> None:
        """The first picture failure, saying that ``results_file`` was written anyway."""
        err = self.error
        if err is None:
            return
        reason = err.message if isinstance(err, VitdetError) else f"{type(err).__name__}: {err}"
        raise VitdetError(
            f"results were written to {results_file}, but a picture failed: {reason}",
            hint=getattr(err, "hint", "") or f"check {self.folder}",
            code="pictures_failed",
        ) from err


@contextmanager
def discard_on_error(pictures: Optional[PictureWriter]) -> Iterator[None]:
    """On any exception in the block, remove the pictures ``pictures`` saved."""
    try:
        yield
    except BaseException:
        if pictures is not None:
            pictures.discard()
        raise


def write_outputs(run: InferRun, out: Path, pictures: Optional[PictureWriter] = None) -> None:
    """``results.json`` (all images, every detection kept); then the first picture failure,
    if any, is raised — the results are written either way."""
    run.results_file = write_results(out / "results.json", run.images, run.results, run.class_names)
    if pictures is not None:
        run.pictures = list(pictures.saved)
        pictures.raise_failure(run.results_file)
