"""One backend's bench, run as ``python -m vitdet_cli.bench.worker``; prints one JSON line.

Everything else the process prints (libraries included) goes to stderr, so stdout holds only
the result: ``{"backend", "ok": true, "backend_info", "timing", "median_ms", "p90_ms",
"img_per_s", "peak_mb", "bbox_map", "segm_map", "coco", "images"}`` or ``{"backend", "ok":
false, "error": {"code", "message", "hint"}}`` (exit status 1).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Sequence

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.data.resolve import from_annotations
from vitdet_cli.errors import VitdetError
from vitdet_cli.evaluation.staged import evaluate_model
from vitdet_cli.runtime.backends.tuned import open_backend
from vitdet_cli.runtime.infer import run_images
from vitdet_cli.runtime.staged import StagedModel


def peak_mb() -> float:
    """This process's peak resident memory in MB (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024


def measure(
    artifacts: Path,
    backend: str,
    images: Sequence[Path],
    warmup: int,
    repeat: int,
    options: Optional[dict] = None,
    ann_file: Optional[Path] = None,
    image_dir: Optional[Path] = None,
    limit: Optional[int] = None,
) -> dict:
    """Time ``images`` on ``backend`` in this process; with ``ann_file``, also the mAP over the
    first ``limit`` of its images (in ``image_dir``, guessed when None: see data/resolve.py)."""
    row: dict = {"backend": backend, "ok": True, "images": len(images)}
    art = Artifacts.open(artifacts)
    with StagedModel(art, open_backend(art, backend, options)) as model:
        run = run_images(model, images, None, "none", warmup, repeat)
        row["backend_info"] = run.backend_info
        row["runs_on"] = run.backend
        if ann_file is not None:
            dataset = from_annotations(ann_file, image_dir, limit)
            coco = evaluate_model(model, ann_file, list(dataset.images))
            row.update(coco=coco, bbox_map=coco["bbox"]["mAP"], segm_map=coco["segm"]["mAP"])
    stats = run.stats
    row.update(
        timing=stats.to_dict(),
        median_ms=stats.total.median,
        p90_ms=stats.total.p90,
        img_per_s=stats.img_per_s,
        peak_mb=peak_mb(),
    )
    return row


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send file descriptor 1 (C libraries too) to stderr for the duration."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def failure(backend: str, exc: BaseException) -> dict:
    """The row of a backend that could not run: the message a user can act on."""
    if not isinstance(exc, VitdetError):
        first = (str(exc).strip().splitlines() or [""])[0]
        exc = VitdetError(
            f"{type(exc).__name__}: {first}", hint="see the traceback on stderr", code="crash"
        )
    return {"backend": backend, "ok": False, **exc.to_dict()}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m vitdet_cli.bench.worker")
    p.add_argument("--artifacts", type=Path, required=True)
    p.add_argument("--backend", required=True)
    p.add_argument("--img", type=Path, action="append", required=True, help="repeatable")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--options", default="{}", help="backend constructor options as JSON")
    p.add_argument("--data", type=Path, help="COCO annotation file: also compute mAP")
    p.add_argument("--images", type=Path, help="image folder of --data")
    p.add_argument("--limit", type=int, help="use the first N images of --data")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        with stdout_to_stderr():
            row = measure(
                args.artifacts,
                args.backend,
                args.img,
                args.warmup,
                args.repeat,
                json.loads(args.options),
                args.data,
                args.images,
                args.limit,
            )
    except Exception as exc:  # any failure is this backend's row, not a crash of the bench
        if not isinstance(exc, VitdetError):
            traceback.print_exc(file=sys.stderr)
        row = failure(args.backend, exc)
    sys.stdout.write(json.dumps(row) + "\n")
    sys.stdout.flush()
    return 0 if row["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
