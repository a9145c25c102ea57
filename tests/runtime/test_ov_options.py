"""The openvino backend's options and its error when OpenVINO cannot be imported."""

from __future__ import annotations

import sys

import pytest

from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.backends import BACKENDS, get_backend


def test_unavailable_openvino_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino -> ImportError
    with pytest.raises(VitdetError, match="backend 'openvino' is not usable here") as exc:
        get_backend("openvino")
    assert exc.value.code == "backend_unavailable"
    assert "pip install openvino" in exc.value.message


def test_listed_and_parsed_with_the_others():
    from vitdet_cli.bench.backends import parse_backends

    assert "openvino" in BACKENDS
    assert parse_backends(["onnxruntime,openvino", "torch"]) == ["onnxruntime", "openvino", "torch"]


@pytest.mark.parametrize("command", ["infer", "eval", "bench", "compare", "demo"])
def test_commands_name_the_backends(cli, command):
    out = cli(command, "--help").output
    listed = [n for n in BACKENDS if n in out]
    assert "openvino" in listed
    if command in ("infer", "eval", "bench"):
        assert set(listed) == set(BACKENDS)


def test_exact_precision_no_pinning_and_the_cache_by_default(tmp_path, monkeypatch):
    ov = pytest.importorskip("openvino")
    import openvino.properties as props
    import openvino.properties.hint as hints

    monkeypatch.setenv("VITDET_CACHE_DIR", str(tmp_path))
    backend = get_backend("openvino")
    assert backend.cache_dir == tmp_path / "openvino"
    config = backend.config(tmp_path / "k")
    assert config[hints.inference_precision] == ov.Type.f32  # bf16 CPUs would pick bf16
    assert config[hints.enable_cpu_pinning] is False
    assert config[props.cache_dir] == str(tmp_path / "k")
    assert props.inference_num_threads not in config
    config = get_backend("openvino", threads=3, cache_dir=tmp_path / "c").config(tmp_path)
    assert config[props.inference_num_threads] == 3


@pytest.mark.parametrize("option", [{"precision": "int4"}, {"device": "gpu"}])
def test_unknown_option_is_a_usage_error(option):
    pytest.importorskip("openvino")
    with pytest.raises(VitdetError, match="the openvino backend has no") as exc:
        get_backend("openvino", **option)
    assert exc.value.exit_code == 2
