"""Run every backend's worker and collect the rows of the bench table."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.bench.sizes import model_size_mb
from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.timing import TimingStats

WORKER = "vitdet_cli.bench.worker"
DEFAULT_TIMEOUT_S = 3600.0


@dataclass
class BenchReport:
    """The rows (one per backend, :func:`~vitdet_cli.report.timing.bench_table` keys plus
    ``timing``, ``coco``, ``seconds``; a failed row's ``error`` is ``{code, message, hint}``),
    the timed images and where they came from."""

    artifacts: Path
    images: list[Path]
    image_source: str
    warmup: int
    repeat: int
    rows: list[dict] = field(default_factory=list)
    data: Optional[Path] = None

    def to_dict(self) -> dict:
        return {
            "artifacts": str(self.artifacts),
            "images": [str(p) for p in self.images],
            "image_source": self.image_source,
            "warmup": self.warmup,
            "repeat": self.repeat,
            "data": str(self.data) if self.data else None,
            "rows": self.rows,
        }


def timing_from_dict(data: dict) -> TimingStats:
    """A worker row's ``timing`` (:meth:`TimingStats.to_dict`) as :class:`TimingStats` again."""
    return TimingStats.from_dict(data)


def _dead_worker(backend: str, rc: int, stderr: str) -> dict:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    why = f"signal {-rc}" if rc < 0 else f"exit status {rc}"
    last = f": {lines[-1].strip()}" if lines else ""
    err = VitdetError(
        f"worker died ({why}){last}",
        hint="run the worker by hand to see everything it printed",
        code="crash",
    )
    return {"backend": backend, "ok": False, **err.to_dict()}


def worker_argv(
    artifacts: Path,
    backend: str,
    images: Sequence[Path],
    warmup: int,
    repeat: int,
    options: Optional[dict] = None,
    data: Optional[tuple[Path, Path, Optional[int]]] = None,
) -> list[str]:
    """``python -m vitdet_cli.bench.worker ...`` for one backend."""
    argv = [sys.executable, "-m", WORKER, "--artifacts", str(artifacts), "--backend", backend]
    argv += ["--warmup", str(warmup), "--repeat", str(repeat)]
    argv += ["--options", json.dumps(options or {})]
    for path in images:
        argv += ["--img", str(path)]
    if data is not None:
        ann, image_dir, limit = data
        argv += ["--data", str(ann), "--images", str(image_dir)]
        argv += ["--limit", str(limit)] if limit is not None else []
    return argv


def run_worker(argv: Sequence[str], backend: str, timeout: float = DEFAULT_TIMEOUT_S) -> dict:
    """Run one worker; its JSON row, or a failed row saying how it died."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        err = VitdetError(
            f"timed out after {timeout:.0f}s", hint="use fewer images or --repeat", code="timeout"
        )
        return {"backend": backend, "ok": False, **err.to_dict()}
    for line in reversed(proc.stdout.strip().splitlines()):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "ok" in row:
            if not row["ok"]:
                row["log_tail"] = proc.stderr.strip().splitlines()[-20:]
            return row
    return _dead_worker(backend, proc.returncode, proc.stderr)


def bench(
    artifacts: str | Path | Artifacts,
    backends: Sequence[str],
    images: Sequence[Path],
    image_source: str = "",
    warmup: int = 2,
    repeat: int = 5,
    data: Optional[tuple[Path, Path, Optional[int]]] = None,
    options: Optional[dict[str, dict]] = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    on_backend: Optional[Callable[[str], None]] = None,
) -> BenchReport:
    """Bench each of ``backends`` on ``images`` in its own process, in order.

    ``data`` = (annotation file, image folder, limit) adds mAP; ``options`` maps a backend to
    its constructor options. A backend that cannot run gives a row with ``ok: false`` and the
    reason instead of stopping the bench.
    """
    art = Artifacts.of(artifacts)
    report = BenchReport(
        art.root, list(images), image_source, warmup, repeat, data=data[0] if data else None
    )
    for backend in backends:
        if on_backend:
            on_backend(backend)
        start = time.perf_counter()
        argv = worker_argv(
            art.root, backend, images, warmup, repeat, (options or {}).get(backend), data
        )
        row = run_worker(argv, backend, timeout)
        row["seconds"] = time.perf_counter() - start
        row["size_mb"] = model_size_mb(art, backend)
        report.rows.append(row)
    return report
