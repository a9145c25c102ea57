"""A training run's output: everything it prints goes to ``<work_dir>/train.log``; its progress
(``progress.json``, written by rank 0's hook) and the log's new lines are followed from the
launching process and handed to a :class:`~vitdet_cli.progress.Progress`.

The same path serves the three launches (in-process, one worker process, torchrun): the
processes only write files, the launching process only reads them.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from vitdet_cli.progress import Progress

TRAIN_LOG = "train.log"
PROGRESS_FILE = "progress.json"
"""Where rank 0's hook says how far training is (replaced whole, at most every 0.5 s)."""
POLL_S = 0.5


class LogSink:
    """A text stream onto the open log file that stays harmless once the run is over: mmengine
    keeps its logger (and the stream it was given) for the whole process, so a later message
    must not hit a closed file."""

    def __init__(self, fh) -> None:
        self._fh = fh

    def write(self, text: str) -> int:
        if self._fh is None or self._fh.closed:
            return len(text)
        self._fh.write(text)
        self._fh.flush()  # the follower reads the file, and a crash must not lose the end
        return len(text)

    def flush(self) -> None:
        if self._fh is not None and not self._fh.closed:
            self._fh.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        if self._fh is None or self._fh.closed:
            raise OSError("the training log is closed")
        return self._fh.fileno()

    def close(self) -> None:
        self._fh = None


class Follower:
    """Reads ``progress.json`` and the log's new lines every ``POLL_S`` s in a thread."""

    def __init__(self, work_dir: Path, log_path: Path, progress: Progress) -> None:
        self.progress_path = Path(work_dir) / PROGRESS_FILE
        self.log_path = Path(log_path)
        self.progress = progress
        self._offset = self.log_path.stat().st_size if self.log_path.is_file() else 0
        self._partial = ""
        self._last_iter: Optional[int] = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="vitdet-train-follow", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            self.poll()

    def poll(self) -> None:
        self._read_log()
        self._read_progress()

    def _read_log(self) -> None:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except OSError:
            return
        self._offset += len(chunk)
        text = self._partial + chunk.decode("utf-8", errors="replace")
        *lines, self._partial = text.split("\n")
        for line in lines:
            self.progress.log(line.rstrip("\r"))

    def _read_progress(self) -> None:
        try:
            record = json.loads(self.progress_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(record, dict) and record.get("iter") != self._last_iter:
            self._last_iter = record.get("iter")
            self.progress.training(record)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()  # what the run wrote last
        if self._partial:
            self.progress.log(self._partial)
            self._partial = ""


@contextmanager
def followed(work_dir: Path, progress: Progress) -> Iterator[LogSink]:
    """Open ``<work_dir>/train.log`` for the run (appending) and follow the run until the block
    ends; yields the stream the run's output goes to."""
    work_dir = Path(work_dir)
    (work_dir / PROGRESS_FILE).unlink(missing_ok=True)  # a previous run's, not this one's
    log_path = work_dir / TRAIN_LOG
    follower = Follower(work_dir, log_path, progress)
    with open(log_path, "a", encoding="utf-8") as fh:
        sink = LogSink(fh)
        follower.start()
        try:
            yield sink
        finally:
            fh.flush()
            follower.stop()
            sink.close()


def failure_detail(log_path: Path, lines: int = 200) -> tuple[str, str]:
    """(what went wrong, the hint) from the end of a failed run's log: the worker's own
    ``error:``/``hint:`` lines when it wrote them, else the last line (a traceback's end)."""
    try:
        tail = Path(log_path).read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return "", ""
    tail = [ln.strip() for ln in tail if ln.strip()]
    for i in range(len(tail) - 1, -1, -1):
        if tail[i].startswith("error: "):
            after = tail[i + 1] if i + 1 < len(tail) else ""
            hint = after[len("hint: ") :] if after.startswith("hint: ") else ""
            return tail[i][len("error: ") :], hint
    return (tail[-1][:300] if tail else ""), ""
