"""Image → network input, reproducing MMDetection's test pipeline and ``DetDataPreprocessor``.

The pipeline we train with is ``Resize(scale=(S, S), keep_ratio=True)`` (mmcv ``imrescale``,
cv2 bilinear) → ``Pad(size=(S, S), pad_val=114)`` (bottom/right) → BGR→RGB → ``(x - mean) /
std`` in float32. The normalisation goes through a per-channel 256-entry lookup table holding
exactly the float32 values ``(float32(v) - mean) / std``, so the output is bit-identical to
mmdet's, and a single pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.host_config import HostConfig


@dataclass(frozen=True)
class ImageMeta:
    """Geometry of one preprocessed image (the fields mmdet keeps in ``img_meta``).

    Attributes:
        ori_shape: (h, w) of the input image.
        resized_shape: (h, w) after the keep-ratio resize (the valid part of the input).
        img_shape: (h, w) mmdet clips boxes to. mmdet's ``Pad`` overwrites ``img_shape`` with
            the padded size, so for our pipeline this is (S, S), not ``resized_shape``.
        scale_factor: (w_scale, h_scale) = resized / original, as mmdet records it; boxes in
            network coordinates divided by it are in original-image coordinates.
    """

    ori_shape: tuple[int, int]
    resized_shape: tuple[int, int]
    img_shape: tuple[int, int]
    scale_factor: tuple[float, float]

    def to_dict(self) -> dict:
        return {
            "ori_shape": list(self.ori_shape),
            "resized_shape": list(self.resized_shape),
            "img_shape": list(self.img_shape),
            "scale_factor": list(self.scale_factor),
        }


def rescale_size(h: int, w: int, size: int) -> tuple[int, int]:
    """(new_h, new_w) of mmcv ``imrescale(img, (size, size))``: longer side to ``size``."""
    factor = min(size / max(h, w), size / min(h, w))
    return int(h * float(factor) + 0.5), int(w * float(factor) + 0.5)


@lru_cache(maxsize=8)
def _normalise_lut(mean: tuple, std: tuple) -> np.ndarray:
    """(3, 256) float32: entry [c, v] is mmdet's normalised value of pixel v in channel c."""
    v = np.arange(256, dtype=np.float32)[None, :]
    m = np.asarray(mean, dtype=np.float32)[:, None]
    s = np.asarray(std, dtype=np.float32)[:, None]
    lut = (v - m) / s
    lut.flags.writeable = False
    return lut


def _as_bgr(image: np.ndarray) -> np.ndarray:
    """Bring a cv2-loaded image to (H, W, 3) uint8 BGR the way ``cv2.imread(COLOR)`` would."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        kind = image.dtype if isinstance(image, np.ndarray) else type(image).__name__
        raise VitdetError(
            f"expected a uint8 image array, got {kind}",
            hint="Load images with cv2.imread(path) (BGR, uint8).",
            code="bad_image",
        )
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) == 0:
        raise VitdetError(
            f"expected an (H, W, 3) image, got shape {tuple(image.shape)}",
            hint="Load images with cv2.imread(path) (BGR, uint8).",
            code="bad_image",
        )
    return image


def preprocess(image: np.ndarray, cfg: HostConfig) -> tuple[np.ndarray, ImageMeta]:
    """BGR uint8 image (as from ``cv2.imread``) → ((1, 3, S, S) float32 input, ImageMeta)."""
    image = _as_bgr(image)
    size = cfg.img_size
    h, w = image.shape[:2]
    new_h, new_w = rescale_size(h, w, size)
    if min(new_h, new_w) < 1:
        raise VitdetError(
            f"image of {h}x{w} pixels resizes to {new_h}x{new_w} at input size {size}",
            hint="The aspect ratio is too extreme for this input size; crop the image.",
            code="bad_image",
        )
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    lut = _normalise_lut(tuple(cfg.mean), tuple(cfg.std))
    out = np.empty((1, 3, size, size), dtype=np.float32)
    channels = cv2.split(resized)
    for c in range(3):
        src = 2 - c if cfg.bgr_to_rgb else c
        plane = out[0, c]
        # cv2.LUT writes straight into the strided view of the output plane.
        view = plane[:new_h, :new_w]
        got = cv2.LUT(channels[src], lut[c].reshape(1, 256), dst=view)
        if not np.may_share_memory(got, view):
            view[...] = got
        pad = lut[c, cfg.pad_value]
        plane[new_h:, :] = pad
        plane[:new_h, new_w:] = pad
    meta = ImageMeta(
        ori_shape=(h, w),
        resized_shape=(new_h, new_w),
        img_shape=(size, size),
        scale_factor=(new_w / w, new_h / h),
    )
    return out, meta
