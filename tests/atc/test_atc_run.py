"""compile_artifacts with a fake atc on PATH: success, failures, SoC sources, atc_meta."""

from __future__ import annotations

import json

import pytest
from atc_test_helpers import NPU_SMI, UNSUPPORTED_LOG, seal

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.atc_meta import ATC_META_NAME, read_atc_meta
from vitdet_cli.artifacts.manifest import read_manifest
from vitdet_cli.artifacts.meta import parse_stages, read_stage_meta
from vitdet_cli.atc.diagnose import diagnose_log
from vitdet_cli.atc.run import compile_artifacts
from vitdet_cli.errors import VitdetError
from vitdet_cli.metafile import sha256_file
from vitdet_cli.platform import cann


def _calls(record):
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


def _opts(argv):
    return dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)


def test_success_writes_oms_and_metas(artifacts, fake_atc):
    report = compile_artifacts(artifacts, soc_version="910B3")
    assert [(r.stage, r.graph, r.status) for r in report.results] == [
        ("backbone", "model", "ok"),
        ("rpn", "model", "ok"),
        ("roi", "bbox", "ok"),
        ("roi", "mask", "ok"),
    ]
    assert report.atc_version == "8.0.0" and not report.keep_dtype
    calls = [c for c in _calls(fake_atc) if c != ["--version"]]
    assert len(calls) == 4 and all(_opts(c)["soc_version"] == "Ascend910B3" for c in calls)
    for r in report.results:
        assert r.om.is_file() and r.om_bytes == r.om.stat().st_size
        assert "ATC run success" in r.log.read_text()
        assert r.log == artifacts / "atc" / r.stage / f"atc_{r.graph}.log"
    roi = read_atc_meta(artifacts / "atc" / "roi" / ATC_META_NAME)
    export = read_stage_meta(artifacts / "export" / "roi" / "export_meta.json")
    assert set(roi.graphs) == {"bbox", "mask"}
    rec = roi.graphs["mask"]
    assert rec.onnx_sha256 == export.graphs["mask"].sha256
    assert rec.om == "mask_linux_aarch64.om" and rec.onnx == "export/roi/mask.onnx"
    assert rec.om_sha256 == sha256_file(artifacts / "atc" / "roi" / "mask_linux_aarch64.om")
    assert rec.argv[0].endswith("atc") and "--framework=5" in rec.argv
    assert (roi.soc_version, roi.soc_source) == ("Ascend910B3", "flag")
    assert roi.precision_mode == "must_keep_origin_dtype" and roi.keep_dtype == ""
    assert roi.atc_version == "8.0.0" and roi.created and roi.schema_version == 1
    assert report.to_dict()["graphs"][0]["status"] == "ok"


def test_real_om_names_are_found_recorded_and_sealed(artifacts, fake_atc):
    """Real atc (source document, CANN 8.5 on a 910B3) wrote <output>_linux_aarch64.om for two
    stages and <output>.om for the rpn; both are found and opened by their real names."""
    report = compile_artifacts(artifacts)
    names = {(r.stage, r.graph): r.om.name for r in report.results}
    assert names == {
        ("backbone", "model"): "model_linux_aarch64.om",
        ("rpn", "model"): "model.om",
        ("roi", "bbox"): "bbox_linux_aarch64.om",
        ("roi", "mask"): "mask_linux_aarch64.om",
    }
    manifest = read_manifest(artifacts)
    assert "atc/backbone/model_linux_aarch64.om" in manifest.files
    assert "atc/rpn/model.om" in manifest.files and manifest.versions["atc"] == "8.0.0"
    art = Artifacts.open(artifacts)
    assert art.om_path("backbone", "model").name == "model_linux_aarch64.om"
    assert art.om_path("rpn", "model").name == "model.om"
    stale = artifacts / "atc" / "rpn" / "model_linux_x86_64.om"
    stale.write_bytes(b"an OM an earlier atc wrote")  # removed before the next compile
    seal(artifacts, "atc")
    compile_artifacts(artifacts, stages="rpn")
    assert not stale.exists() and Artifacts.open(artifacts).om_path("rpn", "model").is_file()


def test_stage_selection(artifacts, fake_atc):
    report = compile_artifacts(artifacts, stages="roi, backbone")
    assert [r.stage for r in report.results] == ["backbone", "roi", "roi"]
    assert not (artifacts / "atc" / "rpn").exists()
    with pytest.raises(VitdetError) as err:
        parse_stages("backbone,neck")
    assert err.value.exit_code == 2 and "neck" in err.value.message


@pytest.mark.parametrize(
    "flag, env, smi, expected",
    [
        ("Ascend310P3", {"SOC_VERSION": "Ascend910B4"}, True, ("Ascend310P3", "flag")),
        (None, {"SOC_VERSION": "Ascend910B4"}, True, ("Ascend910B4", "environment (SOC_VERSION)")),
        (None, {}, True, ("Ascend910B3", "npu-smi")),
        (None, {}, False, ("Ascend910B3", "default")),
    ],
)
def test_soc_sources(artifacts, fake_atc, monkeypatch, smi_910b3, flag, env, smi, expected):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(cann, "run_npu_smi", lambda *a, **k: smi_910b3 if smi else None)
    report = compile_artifacts(artifacts, soc_version=flag, stages="backbone")
    assert (report.soc.value, report.soc.source) == expected
    assert _opts(report.results[0].argv)["soc_version"] == expected[0]
    meta = read_atc_meta(artifacts / "atc" / "backbone" / ATC_META_NAME)
    assert (meta.soc_version, meta.soc_source) == expected


def test_npu_smi_310p3_table(artifacts, fake_atc, monkeypatch):
    text = (NPU_SMI / "310p3_duo.txt").read_text()
    monkeypatch.setattr(cann, "run_npu_smi", lambda *a, **k: text)
    report = compile_artifacts(artifacts, stages="rpn", dry_run=True)
    assert report.soc.value == "Ascend310P3" and report.soc.source == "npu-smi"


def test_precision_and_keep_dtype(artifacts, fake_atc):
    report = compile_artifacts(artifacts, precision_mode="force_fp16", stages="backbone")
    cfg = artifacts / "atc" / "backbone" / "keep_dtype.cfg"
    assert report.keep_dtype and cfg.read_text() == "OpType::LayerNorm\nOpType::SoftmaxV2\n"
    opts = _opts(report.results[0].argv)
    assert opts["precision_mode"] == "force_fp16" and opts["keep_dtype"] == str(cfg)
    keep = read_atc_meta(artifacts / "atc" / "backbone" / ATC_META_NAME).keep_dtype
    assert keep.startswith("OpType::")
    off = compile_artifacts(
        artifacts, precision_mode="mixed_float16", keep_fp32=False, stages="backbone"
    )
    assert not off.keep_dtype and "keep_dtype" not in _opts(off.results[0].argv)
    assert _opts(off.results[0].argv)["precision_mode_v2"] == "mixed_float16"


def test_dry_run_runs_and_writes_nothing(artifacts, fake_atc):
    report = compile_artifacts(artifacts, dry_run=True, precision_mode="force_fp16")
    assert _calls(fake_atc) == [] and not (artifacts / "atc").exists()
    assert all(r.status == "planned" for r in report.results) and report.atc_version is None
    assert report.results[0].command.startswith(report.atc)
    assert "--input_shape=image:1,3,32,32" in report.results[0].command


def test_dry_run_without_atc(artifacts, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    report = compile_artifacts(artifacts, dry_run=True)
    assert report.results[0].argv[0] == "atc"


def test_missing_atc_says_how_to_source_cann(artifacts, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(VitdetError) as err:
        compile_artifacts(artifacts)
    assert err.value.code == "atc_missing" and "set_env.sh" in err.value.hint


def test_failure_reports_log_tail(artifacts, fake_atc, monkeypatch):
    stale = artifacts / "atc" / "backbone" / "model.om"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    (stale.parent / ATC_META_NAME).write_text("{}")
    seal(artifacts, "atc")
    monkeypatch.setenv("FAKE_ATC_MODE", "fail")
    with pytest.raises(VitdetError) as err:
        compile_artifacts(artifacts, soc_version="Ascend910B3")
    e = err.value
    assert e.code == "atc_failed" and e.exit_code == 1
    assert "E10001" in e.message and "exit code 255" in e.message
    assert str(artifacts / "atc" / "backbone" / "atc_model.log") in e.message
    assert "--soc-version Ascend910B3" in e.hint
    assert not stale.exists() and not (stale.parent / ATC_META_NAME).exists()


def test_unsupported_op_points_at_the_lint(artifacts, fake_atc, monkeypatch):
    monkeypatch.setenv("FAKE_ATC_MODE", "unsupported")
    with pytest.raises(VitdetError) as err:
        compile_artifacts(artifacts, stages="rpn")
    e = err.value
    assert e.code == "atc_unsupported_op"
    assert "grid_sampler (opset 11)" in e.message and "E19010" in e.message
    assert "vitdet export" in e.hint and "lint" in e.hint


def test_exit_zero_without_om(artifacts, fake_atc, monkeypatch):
    monkeypatch.setenv("FAKE_ATC_MODE", "no_om")
    with pytest.raises(VitdetError) as err:
        compile_artifacts(artifacts, stages="backbone")
    assert err.value.code == "om_missing" and "no OM was written" in err.value.message
    assert "--output=" + str(artifacts / "atc" / "backbone" / "model") in err.value.message
    assert not (artifacts / "atc" / "backbone" / ATC_META_NAME).exists()


def test_changed_onnx_is_caught_before_atc(artifacts, fake_atc):
    (artifacts / "export" / "rpn" / "model.onnx").write_bytes(b"truncated")
    with pytest.raises(VitdetError) as err:
        compile_artifacts(artifacts)
    assert err.value.code == "artifacts_tampered" and _calls(fake_atc) == []
    assert "rpn/model.onnx" in err.value.message


def test_atc_meta_round_trip_and_checks(artifacts, fake_atc):
    compile_artifacts(artifacts, stages="roi")
    stage_dir = artifacts / "atc" / "roi"
    meta = read_atc_meta(stage_dir / ATC_META_NAME)
    data = json.loads((stage_dir / ATC_META_NAME).read_text())
    assert json.loads(json.dumps(meta.to_dict())) == data
    assert type(meta).from_dict(data) == meta
    bbox = stage_dir / "bbox_linux_aarch64.om"
    bbox.write_bytes(b"corrupted")
    with pytest.raises(VitdetError) as err:
        Artifacts.open(artifacts)
    assert err.value.code == "artifacts_tampered" and str(bbox) in err.value.message
    bbox.unlink()
    with pytest.raises(VitdetError) as err:
        Artifacts.open(artifacts)
    assert "missing" in err.value.message
    data["schema_version"] = 99
    (stage_dir / ATC_META_NAME).write_text(json.dumps(data))
    with pytest.raises(VitdetError) as err:
        seal(artifacts, "atc").om_path("roi", "mask")
    assert err.value.code == "atc_meta_newer"
    (stage_dir / ATC_META_NAME).unlink()
    with pytest.raises(VitdetError) as err:
        seal(artifacts, "atc").om_path("roi", "mask")
    assert err.value.code == "om_missing" and "vitdet atc" in err.value.hint


def test_diagnose_recorded_log():
    diag = diagnose_log(UNSUPPORTED_LOG)
    assert diag.unsupported and diag.unsupported_ops == ["grid_sampler (opset 11)"]
    assert diag.codes == ["E19010"]
    plain = diagnose_log("E10001: Value [x] for parameter [--soc_version] is invalid.\n")
    assert not plain.unsupported and plain.codes == ["E10001"]
