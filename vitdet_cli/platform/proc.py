"""Run external tools (pip, atc, torchrun) as argv lists, their output going to a log file."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Mapping, Optional, Sequence

from vitdet_cli.progress import SILENT, Progress


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def run_logged(
    argv: Sequence[str],
    log_path: Path,
    title: str,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[Path] = None,
    append: bool = True,
    progress: Progress = SILENT,
) -> int:
    """Run ``argv`` with stdout+stderr appended to ``log_path`` as ``progress``'s task
    ``title``; return its code.

    The task's status is the log's latest line, so a 20-minute build visibly moves.
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    full_env.update(env or {})
    with open(log_path, "a" if append else "w", encoding="utf-8") as log:
        log.write(f"\n$ {' '.join(argv)}\n")
        if env:
            log.write("  env: " + " ".join(f"{k}={v}" for k, v in env.items()) + "\n")
        log.flush()
        with progress.task(title) as update:
            proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=full_env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
            )
            while proc.poll() is None:
                time.sleep(0.5)
                last = log_tail(log_path, 1).strip()[:90]
                update(last)
            if proc.returncode != 0:
                update.fail()
    return proc.returncode
