"""Mask pasting against a pixel-by-pixel grid_sample reference and mmdet's FCNMaskHead."""

from __future__ import annotations

import numpy as np
import pytest
from runtime_test_helpers import naive_paste

from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.masks import (
    paste_mask_crops,
    paste_masks,
    paste_prob_crops,
    select_mask_logits,
)
from vitdet_cli.runtime.postprocess import sigmoid

F32 = np.float32
H, W = 37, 53
BOXES = np.array(
    [
        [3.3, 4.7, 30.2, 20.9],  # inside
        [-5.0, -3.0, 12.5, 9.5],  # over the top-left corner
        [40.1, 25.2, 70.0, 60.0],  # over the bottom-right corner
        [10.0, 10.0, 10.0, 30.0],  # zero width: grid x is inf -> 0 (the mask's centre column)
        [12.5, 5.0, 12.5, 9.0],  # zero width on a pixel centre: 0/0 -> NaN column (off)
        [20.2, 30.1, 20.9, 30.6],  # smaller than a pixel
        [0.0, 0.0, 53.0, 37.0],  # the whole image
        [60.0, 5.0, 80.0, 9.0],  # starts beyond the image: empty span
        [1.0, 2.0, 300.0, 250.0],  # far larger than the image
    ],
    F32,
)


def _reference(probs, boxes, thr=0.5):
    return np.stack([naive_paste(p, b, H, W, thr) for p, b in zip(probs, boxes)])


@pytest.mark.parametrize("kind", ["random", "half", "smooth"])
def test_matches_pixel_reference(rng, kind):
    k = len(BOXES)
    if kind == "random":
        probs = sigmoid((rng.standard_normal((k, 28, 28)) * 3).astype(F32))
    elif kind == "half":  # every probability exactly 0.5: all pixels sit on the threshold
        probs = np.full((k, 28, 28), 0.5, F32)
    else:
        yy, xx = np.mgrid[0:28, 0:28] / 27 * 2 - 1
        probs = np.broadcast_to(sigmoid((4 * (0.5 - xx**2 - yy**2)).astype(F32)), (k, 28, 28))
    crops = paste_prob_crops(probs, BOXES, (H, W))
    np.testing.assert_array_equal(crops.full(), _reference(probs, BOXES))


def test_threshold_and_crop_geometry(rng):
    probs = sigmoid(rng.standard_normal((len(BOXES), 28, 28)).astype(F32))
    for thr in (0.0, 0.3, 0.9):
        got = paste_prob_crops(probs, BOXES, (H, W), thr)
        np.testing.assert_array_equal(got.full(), _reference(probs, BOXES, thr))
    crops = paste_prob_crops(probs, BOXES, (H, W))
    np.testing.assert_array_equal(crops.spans[0], [2, 3, 32, 22])  # floor-1 .. ceil+1
    np.testing.assert_array_equal(crops.spans[2], [39, 24, W, H])  # clamped to the image
    assert crops.crops[7].size == 0 and len(crops) == len(BOXES)
    np.testing.assert_array_equal(crops.areas(), crops.full().sum((1, 2)))
    out = np.zeros((len(BOXES), H, W), bool)
    assert crops.full(out) is out


def test_label_channel_selection_and_entry_points(rng):
    k, c = 4, 6
    logits = (rng.standard_normal((k + 2, c, 28, 28)) * 2).astype(F32)  # 2 padded rows
    labels = np.array([5, 0, 3, 3])
    boxes = BOXES[:k]
    sel = select_mask_logits(logits, labels)
    np.testing.assert_array_equal(sel, logits[np.arange(k), labels])
    masks = paste_masks(logits, boxes, labels, (H, W))
    assert masks.shape == (k, H, W) and masks.dtype == bool
    np.testing.assert_array_equal(masks, _reference(sigmoid(sel), boxes))
    single = paste_masks(sel[:, None], boxes, labels, (H, W))  # (K, 1, M, M) already selected
    np.testing.assert_array_equal(single, masks)
    assert paste_masks(logits[:0], np.zeros((0, 4)), [], (H, W)).shape == (0, H, W)
    assert len(paste_mask_crops(logits[:0], np.zeros((0, 4)), [], (H, W))) == 0


def test_bad_mask_inputs(rng):
    with pytest.raises(VitdetError):
        select_mask_logits(np.zeros((2, 3, 28)), np.zeros(2, int))
    with pytest.raises(VitdetError):
        select_mask_logits(np.zeros((1, 3, 28, 28)), np.zeros(2, int))
    with pytest.raises(VitdetError):
        select_mask_logits(np.zeros((1, 3, 28, 28)), np.array([3]))
    with pytest.raises(ValueError):
        paste_masks(np.zeros((2, 3, 28, 28)), np.zeros((2, 4)), [0], (H, W))


@pytest.mark.mmcv
def test_identical_to_mmdet_do_paste_mask(rng):
    """Given the same probabilities and boxes, the pasted masks are bit-identical."""
    pytest.importorskip("mmcv.ops")
    import torch
    from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask

    img_h, img_w = 480, 640
    n = 60
    xy = rng.uniform(-20, 600, (n, 2))
    wh = np.exp(rng.uniform(np.log(0.5), np.log(500), (n, 2)))
    boxes = np.concatenate([xy, xy + wh], 1).astype(F32)
    boxes = boxes[(np.floor(boxes[:, 0]) - 1 < img_w) & (np.floor(boxes[:, 1]) - 1 < img_h)]
    yy, xx = np.mgrid[0:28, 0:28] / 27 * 2 - 1
    logits = 5 * (0.5 - xx**2 - yy**2) + rng.standard_normal((len(boxes), 28, 28))
    probs = torch.from_numpy(logits.astype(F32)).sigmoid()
    crops = paste_prob_crops(probs.numpy(), boxes, (img_h, img_w))
    ours = crops.full()
    for i, box in enumerate(torch.from_numpy(boxes)):
        ref = torch.zeros(img_h, img_w, dtype=torch.bool)
        m, spans = _do_paste_mask(probs[i : i + 1, None], box[None], img_h, img_w, skip_empty=True)
        ref[spans] = m[0] >= 0.5
        np.testing.assert_array_equal(ours[i], ref.numpy())
