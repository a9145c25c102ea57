"""COCO mAP of the exported stages on one backend (the deployed model's accuracy)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.data.resolve import Dataset, dataset_images
from vitdet_cli.errors import VitdetError
from vitdet_cli.evaluation.coco import class_warnings, coco_metrics
from vitdet_cli.runtime.backends.tuned import backend_label, open_backend
from vitdet_cli.runtime.infer import run_images
from vitdet_cli.runtime.staged import StagedModel

OnImage = Callable[[int, Path], None]


def evaluate_model(
    model: StagedModel,
    ann_file: Path,
    images: Sequence[Path],
    on_image: Optional[OnImage] = None,
) -> dict:
    """mAP of an open :class:`StagedModel` over ``images``: every detection the model keeps at
    its own test threshold (``score_thr=None``, no dedup), as MMDetection's evaluation sees it."""
    warnings = class_warnings(ann_file, model.class_names)
    run = run_images(model, images, None, "none", warmup=0, repeat=1, on_image=on_image)
    return {**coco_metrics(ann_file, images, run.results), "warnings": warnings}


def evaluate_artifacts(
    artifacts: str | Path | Artifacts,
    ann_file: str | Path,
    image_dir: str | Path,
    backend: str = "auto",
    limit: Optional[int] = None,
    backend_options: Optional[dict] = None,
    on_image: Optional[OnImage] = None,
) -> dict:
    """COCO bbox/segm mAP of the artifacts' stages on ``backend`` over the first ``limit``
    images of ``ann_file`` (found in ``image_dir``).

    Returns :func:`~vitdet_cli.evaluation.cocoeval.coco_evaluate`'s dict (``bbox``, ``segm``,
    ``num_images``, ``num_results``, ``evaluator``) plus ``backend``, ``images``, ``seconds``
    and ``warnings``.
    """
    paths = dataset_images(Path(ann_file), Path(image_dir), limit)
    return _evaluate_images(artifacts, Path(ann_file), paths, backend, backend_options, on_image)


def _evaluate_images(
    artifacts: str | Path | Artifacts,
    ann_file: Path,
    paths: Sequence[Path],
    backend: str,
    backend_options: Optional[dict],
    on_image: Optional[OnImage],
) -> dict:
    """:func:`evaluate_artifacts` on images already listed (``seconds``: this backend's run)."""
    start = time.perf_counter()
    artifacts = Artifacts.of(artifacts)
    with StagedModel(artifacts, open_backend(artifacts, backend, backend_options)) as model:
        out = evaluate_model(model, ann_file, paths, on_image)
        label = backend_label(model.backend)
    return {
        **out,
        "backend": label,
        "images": len(paths),
        "seconds": time.perf_counter() - start,
    }


def evaluate_backends(
    artifacts: str | Path | Artifacts,
    dataset: Dataset,
    backends: Sequence[str],
    options: Optional[dict[str, dict]] = None,
    on_image: Optional[Callable[[str, int, Path], None]] = None,
) -> list[dict]:
    """:func:`evaluate_artifacts` per backend on a resolved dataset (``data.resolve``, with an
    annotation file), each with ``ok``; with several backends, one that fails gives
    ``{"backend", "ok": False, "error": {"code", "message", "hint"}}`` (the shape of a top-level
    error) and the rest still run."""
    artifacts = Artifacts.of(artifacts)  # opened and verified once for every backend
    ann_file, paths = Path(dataset.ann_file), list(dataset.images)
    out = []
    for name in backends:
        hook = (lambda i, p, _n=name: on_image(_n, i, p)) if on_image else None
        try:
            res = _evaluate_images(
                artifacts, ann_file, paths, name, (options or {}).get(name), hook
            )
        except VitdetError as err:
            if len(backends) == 1:
                raise
            out.append({"backend": name, "ok": False, **err.to_dict()})
            continue
        out.append({**res, "ok": True})
    return out
