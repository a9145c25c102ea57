"""Experiment configs: loading, overrides, and the errors a user sees."""

from pathlib import Path

import pytest

from vitdet_cli.config import load_config
from vitdet_cli.config.loader import apply_overrides, config_path, parse_override
from vitdet_cli.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]

def write(tmp_path, text, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_and_values(tmp_path):
    cfg = load_config(write(tmp_path, "name: run1\ntrain:\n  lr: 0.0002\n  batch_size: 2\n"))
    assert cfg.name == "run1" and cfg.train.lr == 2e-4 and cfg.train.batch_size == 2
    assert cfg.model.preset == "vit-b" and str(cfg.resolved_work_dir) == "work_dirs/run1"


def test_overrides_are_coerced_to_field_types(tmp_path):
    cfg = load_config(
        write(tmp_path, "name: x\n"),
        [
            "train.lr=2e-4",
            "train.batch_size=3",
            "model.with_cp=true",
            "device.devices=6,7",
            "data.subset=10",
            "device.kind=npu",
        ],
    )
    assert cfg.train.lr == pytest.approx(2e-4) and isinstance(cfg.train.lr, float)
    assert cfg.train.batch_size == 3 and cfg.model.with_cp is True
    assert cfg.device.devices == [6, 7] and cfg.data.subset == 10 and cfg.device.kind == "npu"


def test_unknown_key_suggests_the_right_one(tmp_path):
    path = write(tmp_path, "name: x\ntrain:\n  btach_size: 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.exit_code == 2 and err.code == "config_unknown_key"
    assert "train.btach_size" in err.message and "did you mean 'train.batch_size'" in err.message
    assert str(path) in err.message


def test_unknown_top_level_section(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'model'"):
        load_config(write(tmp_path, "modle:\n  preset: vit-b\n"))


def test_wrong_type_and_range_name_field_and_file(tmp_path):
    path = write(tmp_path, "train:\n  lr: fast\n  batch_size: 0\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = info.value.message
    assert (
        "'train.lr'" in msg and "'train.batch_size'" in msg and "greater than or equal to 1" in msg
    )
    assert msg.count(str(path)) == 2


def test_override_error_names_the_override(tmp_path):
    path = write(tmp_path, "name: x\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, ["train.batch_size=-4"])
    assert "--set train.batch_size=-4" in info.value.message
    with pytest.raises(ConfigError, match="did you mean 'train.lr'"):
        load_config(path, ["train.lrr=1"])
    with pytest.raises(ConfigError, match="is a value, not a section"):
        load_config(path, ["name.sub=1"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(path, ["train.lr"])


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found") as info:
        load_config(tmp_path / "nope.yaml")
    assert info.value.exit_code == 2
    with pytest.raises(ConfigError, match="invalid YAML at line 3"):
        load_config(write(tmp_path, "train:\n  lr: [1,\n"))
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))


def test_configs_name_outside_a_checkout_reads_the_shipped_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/ here, as after installing the wheel elsewhere
    name = Path("configs/vitdet_tiny_shapes.yaml")
    shipped = REPO / name
    assert config_path(name) == shipped
    assert load_config(name) == load_config(shipped)
    assert config_path(Path("configs/nope.yaml")) == Path("configs/nope.yaml")
    assert config_path(Path("elsewhere/vitdet_tiny_shapes.yaml")).parent == Path("elsewhere")
    (tmp_path / "configs").mkdir()  # a folder with its own configs/: a path is a path
    assert config_path(name) == name
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(name)


def test_parse_override_values():
    assert parse_override("a.b=[1, 2]") == (["a", "b"], [1, 2])
    assert parse_override("a=x=y") == (["a"], "x=y")
    assert apply_overrides({}, ["a.b.c=1"]) == {"a": {"b": {"c": 1}}}


def test_cli_misspelt_key_exit_2_without_traceback(cli, tmp_path):
    path = write(tmp_path, "name: x\nmodel:\n  presett: vit-b\n")
    result = cli("config", "show", str(path))
    assert result.exit_code == 2
    assert "did you mean 'model.preset'" in result.stderr
    assert "Traceback" not in result.output


def test_cli_json_error_shape(cli_json, tmp_path):
    result, data = cli_json("config", "show", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 2
    assert (
        set(data["error"]) == {"code", "message", "hint"}
        and data["error"]["code"] == "config_not_found"
    )


def test_cli_show_resolves_overrides(cli_json, tmp_path):
    result, data = cli_json(
        "config", "show", str(write(tmp_path, "name: x\n")), "--set", "train.lr=0.5"
    )
    assert result.exit_code == 0 and data["train"]["lr"] == 0.5 and data["name"] == "x"
