"""Faulty and hostile inputs for every command: what each case must show.

Every case runs the real CLI and asserts: a non-zero exit, no traceback, the culprit named,
nothing half-written (no temp files left), and no file that existed before changed.
"""

from __future__ import annotations

import hashlib
import json
import signal
import stat
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
        signal.alarm(timeout)  # a hang (FIFO, alias bomb) fails the test instead of the suite
        try:
            result = CliRunner().invoke(app, argv)
        finally:
            signal.alarm(0)
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


@pytest.fixture
def bad(tmp_path) -> Bad:
    return Bad(tmp_path)
