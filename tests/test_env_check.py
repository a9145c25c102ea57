"""env-check: the table, JSON, exit codes, and the mmcv op smoke tests (real mmcv)."""

import pytest

from vitdet_cli.envcheck import checks
from vitdet_cli.errors import VitdetError
from vitdet_cli.mmcv_build import verify
from vitdet_cli.platform import device


def by_name(data):
    return {c["name"]: c for c in data["checks"]}


def test_env_check_passes_here_with_mmcv_ops(cli_json):
    result, data = cli_json("env-check")
    assert result.exit_code == 0, result.output
    found = by_name(data)
    assert found["mmcv"]["status"] == "ok" and found["mmcv"]["found"].startswith("2.1.0")
    for name in ("mmcv._ext", "nms on cpu", "roi_align on cpu", "torch", "mmdet", "onnxruntime"):
        assert found[name]["status"] == "ok", found[name]
    for c in data["checks"]:
        assert set(c) == {"group", "name", "status", "found", "expected", "hint"}
        assert c["status"] in ("ok", "warn", "fail")


def test_env_check_npu_fails_with_hint(cli_json):
    result, data = cli_json("env-check", "--device", "npu", "--no-ops")
    assert result.exit_code == 1
    failing = [c for c in data["checks"] if c["status"] == "fail"]
    hints = " ".join(c["hint"] for c in failing)
    assert "torch_npu" in hints and "set_env.sh" in hints and "CANN" in hints


def test_env_check_table_render(cli):
    result = cli("env-check", "--no-ops")
    assert "soc_version" in result.stdout and "Ascend910B3" in result.stdout


def test_bad_device_is_usage_error(cli):
    result = cli("env-check", "--device", "tpu")
    assert result.exit_code == 2 and "auto, npu, cuda, cpu" in result.stderr


def test_smoke_tests_agree_with_known_answers():
    results = verify.smoke_test("cpu")
    assert [r.op for r in results] == ["nms", "roi_align"]
    assert all(r.ok for r in results), results


def test_mmcv_version_rule(monkeypatch):
    for version, status in [
        ("2.2.0", "fail"),
        ("2.1.0", "ok"),
        ("2.0.0rc4", "ok"),
        ("2.0.0rc3", "fail"),
    ]:
        monkeypatch.setattr(checks, "_version", lambda dist, v=version: v)
        mmcv = [c for c in checks.check_packages() if c.name == "mmcv"][0]
        assert mmcv.status == status, version
        if status == "fail" and version == "2.2.0":
            assert "build-mmcv" in mmcv.hint


def test_torch_npu_must_match_torch(monkeypatch):
    versions = {"torch": "2.8.0+cpu", "torch_npu": "2.7.1"}
    monkeypatch.setattr(checks, "_version", versions.get)
    assert checks.check_torch_npu("npu").status == "fail"
    assert checks.check_torch_npu("cpu").status == "warn"


def test_require_raises_first_failure(monkeypatch):
    real = checks._version
    monkeypatch.setattr(checks, "_version", lambda dist: None if dist == "mmcv" else real(dist))
    with pytest.raises(VitdetError, match="mmcv") as info:
        checks.require("cpu", ops=False)
    assert "build-mmcv" in info.value.hint


def test_devices_parse_and_placement():
    assert device.parse_devices("6,7") == [6, 7]
    with pytest.raises(VitdetError, match="listed twice"):
        device.parse_devices("1,1")
    with pytest.raises(VitdetError, match="not a device index"):
        device.parse_devices("a")
    p = device.Placement("npu", [6, 7])
    assert (
        p.env() == {"ASCEND_RT_VISIBLE_DEVICES": "6,7"}
        and p.backend == "hccl"
        and p.world_size == 2
    )
    assert (
        device.Placement("cpu", [0, 1]).env() == {} and device.Placement("cuda").backend == "nccl"
    )


def test_resolve_kind_here():
    assert device.resolve_kind("auto") in ("npu", "cuda", "cpu")
    assert device.resolve_kind("cpu") == "cpu"
    if "npu" not in device.available_kinds():
        with pytest.raises(VitdetError, match="no NPU is usable") as info:
            device.resolve_kind("npu")
        assert "torch_npu" in info.value.hint
