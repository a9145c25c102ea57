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
