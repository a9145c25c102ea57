"""Pyramid scale arithmetic shared by the torch-free presets and ``model/``'s SimpleFPN."""

from __future__ import annotations

import math
from collections.abc import Sequence

from vitdet_cli.errors import ConfigError


def pyramid_channels(backbone_channel: int, scale_factors: Sequence[float]) -> list[int]:
    """Channels of each rescaled map: halved per 2x upsampling, kept for downsampling.

    ``pyramid_channels(768, (4, 2, 1, 0.5)) == [192, 384, 768, 768]``.
    """
    channels = []
    for scale in scale_factors:
        steps = log2_scale(scale)
        dim = backbone_channel >> steps if steps > 0 else backbone_channel
        if steps > 0 and dim << steps != backbone_channel:
            raise ConfigError(
                f"backbone_channel={backbone_channel} cannot be halved {steps} times "
                f"for scale {scale:g}",
                hint="use an embed dim divisible by the largest upsampling scale",
            )
        channels.append(dim)
    return channels


def log2_scale(scale: float) -> int:
    """``log2(scale)`` for a power-of-two scale; anything else is a config error."""
    steps = math.log2(scale) if scale > 0 else float("nan")
    if not math.isfinite(steps) or steps != round(steps):
        raise ConfigError(
            f"unsupported pyramid scale factor {scale!r}",
            hint="use powers of two, e.g. scale_factors=(4, 2, 1, 0.5)",
        )
    return round(steps)
