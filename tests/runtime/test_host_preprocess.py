"""Preprocess: mmdet's Resize(keep_ratio) + Pad(114) + DetDataPreprocessor, bit for bit."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.host_config import HostConfig
from vitdet_cli.runtime.preprocess import preprocess, rescale_size

MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)


@pytest.mark.parametrize(
    "hw, size, expected",
    [
        ((333, 517), 1024, (660, 1024)),  # 333 * 1024/517 = 659.57 -> 660
        ((800, 1333), 1024, (615, 1024)),  # 800 * 0.7682 = 614.55 -> 615
        ((1024, 1024), 1024, (1024, 1024)),
        ((10, 20), 64, (32, 64)),
        ((100, 50), 64, (64, 32)),
    ],
)
def test_rescale_size(hw, size, expected):
    assert rescale_size(*hw, size) == expected


def test_values_layout_and_meta(rng):
    img = rng.integers(0, 256, (10, 20, 3), dtype=np.uint8)
    x, meta = preprocess(img, HostConfig(img_size=64))
    assert x.shape == (1, 3, 64, 64) and x.dtype == np.float32
    assert meta.ori_shape == (10, 20) and meta.resized_shape == (32, 64)
    assert meta.img_shape == (64, 64)  # mmdet's Pad overwrites img_shape with the padded size
    assert meta.scale_factor == (64 / 20, 32 / 10)
    resized = cv2.resize(img, (64, 32), interpolation=cv2.INTER_LINEAR)
    rgb = resized[:, :, ::-1].astype(np.float32)
    expected = ((rgb - MEAN) / STD).transpose(2, 0, 1)
    np.testing.assert_array_equal(x[0, :, :32, :], expected)
    pad = (np.float32(114) - MEAN) / STD
    np.testing.assert_array_equal(x[0, :, 32:, :], np.broadcast_to(pad[:, None, None], (3, 32, 64)))


def test_no_channel_flip_when_disabled(rng):
    img = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    a, _ = preprocess(img, HostConfig(img_size=8, mean=(0, 0, 0), std=(1, 1, 1)))
    b, _ = preprocess(img, HostConfig(img_size=8, mean=(0, 0, 0), std=(1, 1, 1), bgr_to_rgb=False))
    np.testing.assert_array_equal(a[0, ::-1], b[0])
    np.testing.assert_array_equal(b[0], img.transpose(2, 0, 1).astype(np.float32))


def test_gray_and_bgra_like_imread(rng):
    gray = rng.integers(0, 256, (12, 9), dtype=np.uint8)
    a, _ = preprocess(gray, HostConfig(img_size=32))
    b, _ = preprocess(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), HostConfig(img_size=32))
    np.testing.assert_array_equal(a, b)
    bgra = rng.integers(0, 256, (12, 9, 4), dtype=np.uint8)
    c, _ = preprocess(bgra, HostConfig(img_size=32))
    d, _ = preprocess(np.ascontiguousarray(bgra[:, :, :3]), HostConfig(img_size=32))
    np.testing.assert_array_equal(c, d)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((4, 4, 3), np.float32),
        np.zeros((4, 4, 2), np.uint8),
        np.zeros((0, 4, 3), np.uint8),
        np.zeros((1, 4000, 3), np.uint8),
        "x.jpg",
    ],
)
def test_bad_images(image):
    with pytest.raises(VitdetError) as err:
        preprocess(image, HostConfig(img_size=64))
    assert err.value.code == "bad_image"


@pytest.mark.mmcv
@pytest.mark.parametrize("hw", [(333, 517), (517, 333), (800, 1333), (1024, 1024), (37, 1500)])
def test_matches_mmdet_pipeline(tmp_path, rng, hw):
    pytest.importorskip("mmcv.ops")
    from mmcv.transforms import Compose
    from mmdet.models.data_preprocessors import DetDataPreprocessor
    from mmdet.utils import register_all_modules
    from runtime_test_helpers import mmdet_model_dict

    from vitdet_cli.model.config_builder import pipelines

    register_all_modules()
    _, test = pipelines(1024, (0.1, 2.0))
    pipe = Compose([t for t in test if t["type"] != "LoadAnnotations"])
    pre_cfg = dict(mmdet_model_dict(3)["data_preprocessor"])
    pre_cfg.pop("type")
    pre = DetDataPreprocessor(**pre_cfg)
    path = tmp_path / "img.png"
    cv2.imwrite(str(path), rng.integers(0, 256, (*hw, 3), dtype=np.uint8))
    packed = pipe(dict(img_path=str(path), img_id=0))
    ref = pre(dict(inputs=[packed["inputs"]], data_samples=[packed["data_samples"]]), False)
    ref_meta = ref["data_samples"][0].metainfo

    x, meta = preprocess(cv2.imread(str(path)), HostConfig())
    np.testing.assert_array_equal(x, ref["inputs"].numpy())
    assert meta.img_shape == tuple(ref_meta["img_shape"])
    assert meta.ori_shape == tuple(ref_meta["ori_shape"])
    assert meta.scale_factor == tuple(ref_meta["scale_factor"])
