"""Annotation pictures: masks tinted where they are, boxes drawn, input untouched."""

import numpy as np

from vitdet_cli.data.preview import draw_annotations, tile, write_preview


def test_draw_annotations_tints_mask_and_leaves_the_rest():
    image = np.zeros((60, 80, 3), np.uint8)
    ann = {
        "category_id": 2,
        "bbox": [40.0, 30.0, 20.0, 20.0],
        "segmentation": [[40, 30, 60, 30, 60, 50, 40, 50]],
    }
    out = draw_annotations(image, [ann], ["a", "b"])
    assert out.shape == image.shape and out.dtype == np.uint8 and image.max() == 0
    assert out[40, 50].sum() > 0  # inside the mask
    assert out[40, 39].sum() == 0 and out[5, 75].sum() == 0  # outside box and label


def test_write_preview_grid(small_synth, tmp_path):
    import cv2

    out = write_preview(small_synth.train_ann, small_synth.train_img, tmp_path / "p.jpg")
    grid = cv2.imread(str(out))
    assert grid.shape[0] > 2 * 128 and grid.shape[1] > 2 * 128
    assert tile([np.zeros((4, 4, 3), np.uint8)] * 3, cols=2, gap=1).shape == (9, 9, 3)
