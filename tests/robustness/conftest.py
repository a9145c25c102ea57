"""Faulty and hostile inputs for every command: what each case must show.

Every case runs the real CLI and asserts: a non-zero exit, no traceback, the culprit named,
nothing half-written (no temp files left), and no file that existed before changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner


def _snapshot(root: Path) -> dict[Path, str]:
    """sha256 of every regular file under ``root`` (pipes and devices are not read)."""
    out = {}
    for p in root.rglob("*"):
        if stat.S_ISREG(p.lstat().st_mode):
            out[p] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


class Bad:
    """Runs ``vitdet ARGS`` on a bad input and checks the five promises."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(
        self,
        *args: str,
        culprit: str,
        exit_code: int | None = None,
        code: str | None = None,
        json_out: bool = False,
        timeout: int = 60,
    ):
        from vitdet_cli.app import app

        before = _snapshot(self.root)
        argv = ["--json", *args] if json_out else list(args)
        start = time.monotonic()
        with _watchdog(self.root, timeout):
            result = CliRunner().invoke(app, argv)
        assert time.monotonic() - start < timeout, "hung until the watchdog freed it"
        text = result.output  # stdout and stderr
        assert result.exit_code != 0, text
        if exit_code is not None:
            assert result.exit_code == exit_code, text
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(
            result.exception
        )
        assert "Traceback" not in text, text
        assert culprit in text, f"{culprit!r} not in:\n{text}"
        after = _snapshot(self.root)
        changed = [p for p, h in before.items() if after.get(p) != h]
        assert not changed, f"input files changed: {changed}"
        temps = [p for p in self.root.rglob("*.tmp")]
        assert not temps, f"half-written files left: {temps}"
        if json_out:
            err = json.loads(result.stdout)["error"]
            assert culprit in err["message"] + err["hint"]
            if code:
                assert err["code"] == code, err
        return result


class Hung(BaseException):
    """Raised in the test by the watchdog (no ``except Exception`` in the tool catches it)."""


@contextmanager
def _watchdog(root: Path, timeout: float):
    """Free a run that hangs: after ``timeout`` s, raise :class:`Hung` in the main thread and
    open (then close) every FIFO under ``root`` for writing, so a blocked reader sees EOF."""
    fifos = [p for p in root.rglob("*") if stat.S_ISFIFO(p.lstat().st_mode)]
    done = threading.Event()

    def on_alarm(signum, frame):
        raise Hung(f"no answer within {timeout}s")

    def unblock() -> None:
        if done.wait(timeout):
            return
        while not done.wait(0.2):
            for p in fifos:
                try:
                    os.close(os.open(p, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:
                    pass

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(timeout) + 1)
    thread = threading.Thread(target=unblock, daemon=True)
    thread.start()
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        done.set()
        thread.join()


@pytest.fixture
def bad(tmp_path) -> Bad:
    return Bad(tmp_path)


@pytest.fixture(autouse=True)
def _restore_pixel_limit(monkeypatch):
    """``--max-pixels`` sets a process-wide limit (and an env variable): undo it per test."""
    from vitdet_cli.runtime import images

    monkeypatch.setattr(images.LIMIT, "max_pixels", images.LIMIT.max_pixels)
    monkeypatch.delenv(images.ENV_VAR, raising=False)
