"""Model presets as plain data: backbone and neck arguments, input size, layer decay.

Paper values (Li et al. 2022; detectron2 / MMDetection ViTDet configs) for ``vit-b``, ``vit-l``
and ``vit-h``; ``vit-tiny`` is ours, small enough to train in minutes on a laptop CPU.
This module imports no torch, so the CLI can list presets cheaply; it lives in ``config/``
because the schema checks preset names against it and ``model/`` builds from it.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from typing import Any

from vitdet_cli.config.pyramid import pyramid_channels
from vitdet_cli.errors import ConfigError

#: LayerNorm eps of MMDetection's ViTDet build (``mmcv.build_norm_layer``'s default, in the
#: backbone, neck and heads): its released checkpoints were trained with it.
MMDET_NORM_EPS = 1e-5
#: detectron2's ViTDet (and MAE's pre-training) eps.
DETECTRON2_NORM_EPS = 1e-6


@dataclass(frozen=True)
class ViTDetPreset:
    """One model size. ``backbone_kwargs()``/``neck_kwargs()`` give constructor arguments;
    ``backbone_cfg()``/``neck_cfg()`` the same with the registry ``type`` for mmengine.

    ``norm_eps`` is the eps of every LayerNorm (backbone LN, neck and RoI-head LN2d);
    ``layer_decay`` is the layer-wise lr decay rate; ``fc_channels`` the width of the box
    head's fc layer (1024 in the paper); ``fpn_out_channels`` the pyramid / RoI head width.
    """

    name: str
    embed_dim: int
    depth: int
    num_heads: int
    drop_path_rate: float
    window_size: int
    global_block_indexes: tuple[int, ...]
    img_size: int
    layer_decay: float
    norm_eps: float = MMDET_NORM_EPS
    patch_size: int = 16
    mlp_ratio: float = 4.0
    pretrain_img_size: int = 224
    fpn_out_channels: int = 256
    fc_channels: int = 1024
    #: training-time sampling (paper: RPN keeps 2000 per level → 1000 proposals; 512 RoIs/image)
    rpn_train_nms_pre: int = 2000
    rpn_train_proposals: int = 1000
    rcnn_train_samples: int = 512
    #: share of the sampled RoIs that may be positives (paper 0.25)
    rcnn_pos_fraction: float = 0.25
    #: test time: proposals kept after the RPN's NMS (the RoI graph's static RoI count)
    rpn_test_proposals: int = 1000
    #: RoIAlign samples per bin side; 0 = adaptive ceil(roi_size / output_size), as the paper
    roi_sampling_ratio: int = 0
    description: str = ""

    @property
    def num_layers(self) -> int:
        """Depth, as ``paramwise_cfg.num_layers`` of the layer-decay constructor."""
        return self.depth

    @property
    def window_block_indexes(self) -> tuple[int, ...]:
        """Blocks with window attention: every block that is not global."""
        return tuple(i for i in range(self.depth) if i not in self.global_block_indexes)

    @property
    def token_grid(self) -> int:
        """Token grid side at ``img_size``."""
        return self.img_size // self.patch_size

    @property
    def fpn_scale_factors(self) -> tuple[float, ...]:
        """SimpleFPN rescaling of the stride-``patch_size`` map to strides 4, 8, 16, 32:
        ``(4, 2, 1, 0.5)`` for patch 16, ``(2, 1, 0.5, 0.25)`` for patch 8."""
        return tuple(self.patch_size / stride for stride in (4, 8, 16, 32))

    @property
    def fpn_in_channels(self) -> list[int]:
        """SimpleFPN ``in_channels``: ``[d/4, d/2, d, d]`` for patch 16 (scales 4, 2, 1, 0.5)."""
        return pyramid_channels(self.embed_dim, self.fpn_scale_factors)

    def backbone_kwargs(self, img_size: int | None = None) -> dict[str, Any]:
        """ViT arguments; ``img_size`` overrides the training input size (it sizes the
        relative-position tables of the global blocks)."""
        return {
            "img_size": img_size or self.img_size,
            "patch_size": self.patch_size,
            "embed_dim": self.embed_dim,
            "depth": self.depth,
            "num_heads": self.num_heads,
            "mlp_ratio": self.mlp_ratio,
            "qkv_bias": True,
            "drop_path_rate": self.drop_path_rate,
            "norm_cfg": {"type": "LN", "eps": self.norm_eps, "requires_grad": True},
            "window_size": self.window_size,
            "window_block_indexes": list(self.window_block_indexes),
            "use_rel_pos": True,
            "pretrain_img_size": self.pretrain_img_size,
            "pretrain_use_cls_token": True,
        }

    def neck_kwargs(self) -> dict[str, Any]:
        return {
            "backbone_channel": self.embed_dim,
            "in_channels": self.fpn_in_channels,
            "out_channels": self.fpn_out_channels,
            "num_outs": 5,
            "scale_factors": list(self.fpn_scale_factors),
            "norm_cfg": self.norm2d_cfg(),
        }

    def norm2d_cfg(self) -> dict[str, Any]:
        """``LN2d`` cfg of the neck and the RoI heads' convs."""
        return {"type": "LN2d", "eps": self.norm_eps, "requires_grad": True}

    def backbone_cfg(self, img_size: int | None = None) -> dict[str, Any]:
        return {"type": "ViT", **self.backbone_kwargs(img_size)}

    def neck_cfg(self) -> dict[str, Any]:
        return {"type": "SimpleFPN", **self.neck_kwargs()}

    def layer_decay_cfg(self) -> dict[str, Any]:
        """``paramwise_cfg`` for ``LayerDecayOptimizerConstructor``."""
        return {
            "num_layers": self.num_layers,
            "decay_rate": self.layer_decay,
            "decay_type": "layer_wise",
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["global_block_indexes"] = list(self.global_block_indexes)
        data["window_block_indexes"] = list(self.window_block_indexes)
        data["fpn_in_channels"] = self.fpn_in_channels
        return data


PRESETS: dict[str, ViTDetPreset] = {
    p.name: p
    for p in (
        ViTDetPreset(
            name="vit-b",
            embed_dim=768,
            depth=12,
            num_heads=12,
            drop_path_rate=0.1,
            window_size=14,
            global_block_indexes=(2, 5, 8, 11),
            img_size=1024,
            layer_decay=0.7,
            # MMDetection's build (its released checkpoint); detectron2's is 1e-6
            norm_eps=MMDET_NORM_EPS,
            description="ViTDet ViT-B Mask R-CNN (paper: 51.6 box AP / 45.9 mask AP, COCO)",
        ),
        ViTDetPreset(
            name="vit-l",
            embed_dim=1024,
            depth=24,
            num_heads=16,
            drop_path_rate=0.4,
            window_size=14,
            global_block_indexes=(5, 11, 17, 23),
            img_size=1024,
            layer_decay=0.8,
            norm_eps=MMDET_NORM_EPS,
            description="ViTDet ViT-L Mask R-CNN (paper: 55.5 box AP / 49.2 mask AP, COCO)",
        ),
        ViTDetPreset(
            name="vit-h",
            embed_dim=1280,
            depth=32,
            num_heads=16,
            drop_path_rate=0.5,
            window_size=14,
            global_block_indexes=(7, 15, 23, 31),
            img_size=1024,
            layer_decay=0.9,
            norm_eps=MMDET_NORM_EPS,
            description="ViTDet ViT-H Mask R-CNN (paper: 56.7 box AP / 50.2 mask AP, COCO)",
        ),
        # CPU demos and tests: 256 px → 16x16 tokens, 8x8 windows (2x2 of them, no padding),
        # blocks 1 and 3 global (the last block global, as in every paper size).
        # Trained from scratch, so no layer decay (1.0) and no drop path; 64-wide pyramid and
        # RoI convs, 256-wide box fc.
        ViTDetPreset(
            name="vit-tiny",
            embed_dim=192,
            depth=4,
            num_heads=3,
            drop_path_rate=0.0,
            window_size=8,
            global_block_indexes=(1, 3),
            img_size=256,
            layer_decay=1.0,
            norm_eps=MMDET_NORM_EPS,
            fpn_out_channels=64,
            fc_channels=256,
            # At most 6 objects per image: few proposals and RoI samples, and one RoIAlign sample
            # per bin (mmcv's CPU RoIAlign was a third of a step), make a CPU training step
            # 1.7x faster (632 → 366 ms at 192 px, batch 4) at no measured mAP cost.
            rpn_train_nms_pre=300,
            rpn_train_proposals=150,
            rcnn_train_samples=64,
            rpn_test_proposals=300,
            roi_sampling_ratio=1,
            description="tiny ViTDet for CPU demos and tests (from scratch, 256 px)",
        ),
    )
}


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def list_presets() -> list[str]:
    """Preset names, in definition order."""
    return list(PRESETS)


def get_preset(name: str) -> ViTDetPreset:
    """Preset by name (case and ``_``/``-`` insensitive); unknown names raise with a suggestion."""
    key = _normalise(str(name))
    if key in PRESETS:
        return PRESETS[key]
    close = difflib.get_close_matches(key, list(PRESETS), n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(
        f"unknown model preset {name!r}",
        hint=f"{hint}known presets: {', '.join(PRESETS)}",
        code="unknown_preset",
    )
