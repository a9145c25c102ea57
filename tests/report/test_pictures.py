"""Detection pictures: masks tinted inside their crops, boxes drawn, input untouched."""

import cv2
import numpy as np
import pytest

from vitdet_cli.data.preview import class_colour
from vitdet_cli.errors import VitdetError
from vitdet_cli.report.pictures import draw_detections, save_picture, side_by_side
from vitdet_cli.runtime.detections import MaskCrops

NAMES = ["cat", "dog", "bird"]


def _square_masks(shape, spans):
    """MaskCrops whose crops are fully on inside each [x0, y0, x1, y1] span."""
    spans = np.asarray(spans, np.int64).reshape(-1, 4)
    crops = [np.ones((y1 - y0, x1 - x0), bool) for x0, y0, x1, y1 in spans.tolist()]
    return MaskCrops(tuple(shape), spans, crops)


def _one_detection(label=1, score=0.9):
    image = np.zeros((120, 160, 3), np.uint8)
    boxes = np.array([[60, 50, 100, 90]], np.float32)
    masks = _square_masks((120, 160), [[65, 55, 95, 85]])
    return image, boxes, np.array([score], np.float32), np.array([label]), masks


def test_mask_box_and_nothing_far_away():
    image, boxes, scores, labels, masks = _one_detection()
    out = draw_detections(image, boxes, scores, labels, masks, NAMES)
    assert out.shape == image.shape and out.dtype == np.uint8 and image.max() == 0
    colour = class_colour(1)
    np.testing.assert_allclose(out[70, 80], colour * 0.5, atol=1)  # inside the mask crop
    assert out[90 - 1, 80].sum() > 0 and out[70, 60].sum() > 0  # on the box border
    assert out[70, 62].sum() == 0  # inside the box, outside the mask
    assert out[5, 5].sum() == 0 and out[115, 155].sum() == 0 and out[70, 130].sum() == 0


def test_same_class_same_colour_and_label_text():
    image = np.zeros((100, 200, 3), np.uint8)
    boxes = np.array([[20, 40, 60, 80], [120, 40, 160, 80], [80, 5, 100, 20]], np.float32)
    masks = _square_masks((100, 200), [[25, 45, 55, 75], [125, 45, 155, 75], [82, 7, 98, 18]])
    out = draw_detections(image, boxes, [0.9, 0.8, 0.7], [2, 2, 0], masks, NAMES)
    assert np.array_equal(out[60, 40], out[60, 140])  # both birds
    assert not np.array_equal(out[60, 40], out[12, 90])  # the cat differs
    no_masks = draw_detections(image, boxes, [0.9, 0.8, 0.7], [2, 2, 0], None, NAMES)
    assert no_masks[60, 40].sum() == 0 and no_masks[79, 40].sum() > 0


def test_empty_detections_return_an_unchanged_copy():
    image = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    empty = MaskCrops((40, 50), np.zeros((0, 4), np.int64), [])
    out = draw_detections(image, np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), empty, [])
    assert np.array_equal(out, image) and out is not image
    grey = draw_detections(image[..., 0], np.zeros((0, 4)), [], [], None, [])
    assert grey.shape == (40, 50, 3)


def test_score_thr_filters():
    image, boxes, scores, labels, masks = _one_detection(score=0.3)
    out = draw_detections(image, boxes, scores, labels, masks, NAMES, score_thr=0.5)
    assert np.array_equal(out, image)
    out = draw_detections(image, boxes, scores, labels, masks, NAMES, score_thr=0.3)
    assert out[70, 80].sum() > 0


@pytest.mark.parametrize("name", ["p.jpg", "p.png"])
def test_save_picture_atomic_and_readable(tmp_path, name):
    image, boxes, scores, labels, masks = _one_detection()
    picture = draw_detections(image, boxes, scores, labels, masks, NAMES)
    path = save_picture(tmp_path / "sub" / name, picture)
    back = cv2.imread(str(path))
    assert back.shape == picture.shape
    if name.endswith(".png"):
        assert np.array_equal(back, picture)
    assert [p.name for p in path.parent.iterdir()] == [name]  # no temp file left


def test_save_picture_rejects_unknown_suffix(tmp_path):
    with pytest.raises(VitdetError):
        save_picture(tmp_path / "p.gif", np.zeros((4, 4, 3), np.uint8))


def test_side_by_side_holds_both_with_titles():
    a = np.zeros((30, 40, 3), np.uint8)
    b = np.full((50, 20), 7, np.uint8)
    both = side_by_side(a, b, gap=2)
    assert both.shape[1] == 2 * 40 + 2 and both.shape[0] > 50
    assert both[0, 0].tolist() == [255, 255, 255]  # title strip
    assert side_by_side(a, b, titles=None, gap=2).shape == (50, 82, 3)
