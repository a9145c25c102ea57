"""`vitdet atc` through the real Typer app."""

from __future__ import annotations

import json


def test_dry_run_prints_table_and_commands(cli, artifacts, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = cli("atc", "--artifacts", str(artifacts), "--dry-run", "--soc-version", "Ascend310P3")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "--framework=5" in out and "--soc_version=Ascend310P3" in out
    assert "planned" in out and "must_keep_origin_dtype" in out and "from flag" in out
    assert not (artifacts / "atc").exists()


def test_compile_json(cli_json, artifacts, fake_atc):
    result, data = cli_json("atc", "--artifacts", str(artifacts), "--stages", "backbone,roi")
    assert result.exit_code == 0
    assert [g["status"] for g in data["graphs"]] == ["ok", "ok", "ok"]
    assert data["soc_version"] == "Ascend910B3" and data["soc_source"] == "default"
    assert data["precision_mode"] == "must_keep_origin_dtype" and len(data["atc_metas"]) == 2
    assert all(g["om_bytes"] > 0 for g in data["graphs"])


def test_json_after_subcommand_and_table(cli, artifacts, fake_atc):
    result = cli(
        "atc",
        "--artifacts",
        str(artifacts),
        "--stages",
        "rpn",
        "--precision-mode",
        "force_fp16",
        "--no-keep-fp32",
        "--json",
    )
    data = json.loads(result.stdout)
    assert data["keep_dtype"] is False and data["graphs"][0]["status"] == "ok"
    table = cli("atc", "--artifacts", str(artifacts), "--stages", "rpn")
    assert table.exit_code == 0 and "rpn" in table.stdout and "MB" in table.stdout


def test_unsupported_op_error_json(cli_json, artifacts, fake_atc, monkeypatch):
    monkeypatch.setenv("FAKE_ATC_MODE", "unsupported")
    result, data = cli_json("atc", "--artifacts", str(artifacts), "--stages", "backbone")
    assert result.exit_code == 1
    assert (
        data["error"]["code"] == "atc_unsupported_op" and "vitdet export" in data["error"]["hint"]
    )


def test_usage_errors_exit_2(cli, artifacts):
    bad_stage = cli("atc", "--artifacts", str(artifacts), "--stages", "neck", "--dry-run")
    assert bad_stage.exit_code == 2 and "Traceback" not in bad_stage.output
    bad_mode = cli("atc", "--artifacts", str(artifacts), "--precision-mode", "x", "--dry-run")
    assert bad_mode.exit_code == 2


def test_missing_artifacts(cli, tmp_path):
    result = cli("atc", "--artifacts", str(tmp_path / "nothing"), "--dry-run")
    assert result.exit_code == 1 and "vitdet export" in result.output
