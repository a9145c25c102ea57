import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def cli():
    """Invoke `vitdet ARGS...`; returns the click Result."""
    from vitdet_cli.app import app

    runner = CliRunner()

    def invoke(*args: str, **kw):
        return runner.invoke(app, list(args), **kw)

    return invoke


@pytest.fixture
def cli_json(cli):
    """Invoke with --json and parse stdout."""

    def invoke(*args: str):
        result = cli("--json", *args)
        return result, json.loads(result.stdout)

    return invoke


def pytest_report_header(config):
    """Name the stack under test (the suite runs on torch 2.13.0 and on the users' 2.8.0)."""
    import importlib.metadata as md

    found = []
    for name in ("torch", "torch_npu", "mmcv", "mmengine", "mmdet", "onnxruntime"):
        try:
            found.append(f"{name} {md.version(name)}")
        except md.PackageNotFoundError:
            pass
    return "stack: " + ", ".join(found)


@pytest.fixture
def reseal():
    """Rewrite an artifacts folder's manifest over its files as they are now — what a careless
    copy, or an attacker who edits the manifest too, leaves — then open it (verified)."""
    from vitdet_cli.artifacts import Artifacts
    from vitdet_cli.artifacts.manifest import read_manifest, write_manifest

    def run(folder: Path, checkpoint: dict | None = None):
        old = read_manifest(folder)
        write_manifest(folder, checkpoint or old.checkpoint, old.versions, None, ["export", "atc"])
        return Artifacts.open(folder)

    return run
