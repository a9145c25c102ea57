"""HostConfig: defaults = the model we train, round trip through JSON, clear errors."""

from __future__ import annotations

import json

import pytest

from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.host_config import HostConfig


def test_defaults_are_the_trained_model_settings():
    from runtime_test_helpers import mmdet_model_dict

    assert HostConfig.from_mmdet(mmdet_model_dict(3), 1024) == HostConfig()
    cfg = HostConfig.from_mmdet(mmdet_model_dict(3), 256)
    assert cfg.img_size == 256 and cfg.num_anchors == 3
    assert cfg.featmap_sizes() == ((64, 64), (32, 32), (16, 16), (8, 8), (4, 4))


def test_json_round_trip():
    cfg = HostConfig(img_size=512, rcnn_score_thr=0.3, anchor_ratios=(1.0,))
    data = json.loads(json.dumps(cfg.to_dict()))
    assert isinstance(data["mean"], list)
    assert HostConfig.from_dict(data) == cfg
    assert HostConfig.from_dict({}) == HostConfig()


def test_unknown_key_is_reported():
    with pytest.raises(VitdetError) as err:
        HostConfig.from_dict({"img_sise": 512})
    assert err.value.code == "host_config_invalid"
    assert "img_sise" in err.value.message and "img_size" in err.value.hint


@pytest.mark.parametrize(
    "bad",
    [
        {"img_size": 0},
        {"std": [1, 0, 1]},
        {"rpn_iou_thr": 1.5},
        {"mean": [1, 2]},
        {"pad_value": 300},
        {"rcnn_target_stds": [1, 1]},
        {"strides": []},
    ],
)
def test_invalid_values_are_reported(bad):
    with pytest.raises(VitdetError) as err:
        HostConfig.from_dict(bad)
    assert err.value.code == "host_config_invalid"


def test_not_a_mapping():
    with pytest.raises(VitdetError):
        HostConfig.from_dict([1, 2])  # type: ignore[arg-type]


def test_from_mmdet_missing_field():
    with pytest.raises(VitdetError) as err:
        HostConfig.from_mmdet({"rpn_head": {}}, 1024)
    assert err.value.code == "host_config_invalid"
