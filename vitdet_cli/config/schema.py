"""Pydantic schema of an experiment config (the YAML files under ``configs/``).

Sections are strict: an unknown key is an error with a did-you-mean, never silently ignored.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vitdet_cli.config.presets import list_presets

DeviceKind = Literal["auto", "npu", "cuda", "cpu"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def parse_device_list(value: object) -> object:
    """Accept ``"6,7"``, ``6`` or ``[6, 7]`` for a list of device indices."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        return [int(p) if p.isdigit() else p for p in parts]
    return value


class HeadsSection(Section):
    """Proposal and RoI sampling of the Mask R-CNN heads; unset fields take the preset's."""

    rpn_train_nms_pre: Optional[int] = Field(
        None, ge=1, description="RPN boxes per level before NMS (training)."
    )
    rpn_train_proposals: Optional[int] = Field(
        None, ge=1, description="Proposals per image after NMS (training)."
    )
    rcnn_train_samples: Optional[int] = Field(
        None, ge=1, description="RoIs sampled per image for the box/mask heads."
    )
    rcnn_pos_fraction: Optional[float] = Field(
        None, gt=0.0, le=1.0, description="Largest share of positives among the sampled RoIs."
    )
    rpn_test_proposals: Optional[int] = Field(
        None, ge=1, description="Proposals per image at test time (the RoI graph's RoI count)."
    )
    roi_sampling_ratio: Optional[int] = Field(
        None, ge=0, description="RoIAlign samples per bin side; 0 = adaptive."
    )


class ModelSection(Section):
    preset: str = Field("vit-b", description="Model preset: vit-b, vit-l, vit-h or vit-tiny.")
    num_classes: Optional[int] = Field(None, ge=1, description="Taken from the data when unset.")
    pretrained: Optional[Path] = Field(None, description="MAE pre-trained backbone weights.")
    img_size: Optional[int] = Field(
        None, ge=64, le=4096, description="Square input; preset's if unset."
    )
    patch_size: Optional[int] = Field(
        None, ge=4, le=32, description="ViT patch side (16 in every paper size); preset's if unset."
    )
    drop_path_rate: Optional[float] = Field(None, ge=0.0, lt=1.0)
    norm_eps: Optional[float] = Field(
        None,
        gt=0.0,
        le=1e-2,
        description="eps of every LayerNorm (backbone, neck, heads); preset's if unset: 1e-5 as "
        "MMDetection's build and its checkpoints, 1e-6 as detectron2's.",
    )
    with_cp: bool = Field(False, description="Activation checkpointing in the backbone.")
    heads: HeadsSection = Field(default_factory=HeadsSection)

    @field_validator("preset")
    @classmethod
    def _preset(cls, value: str) -> str:
        name = value.strip().lower().replace("_", "-")
        if name not in list_presets():
            close = difflib.get_close_matches(name, list_presets(), n=1, cutoff=0.5)
            maybe = f"did you mean '{close[0]}'? " if close else ""
            raise ValueError(f"unknown preset {value!r}; {maybe}known: {', '.join(list_presets())}")
        return name


class SyntheticSection(Section):
    """The built-in shapes dataset, generated into ``data.root`` on first use."""

    images: int = Field(300, ge=4, le=100000)
    seed: int = Field(0, ge=0)
    size: int = Field(320, ge=64, le=2048)
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    max_instances: int = Field(6, ge=1, le=30, description="Shapes per image, at most.")
    size_range: tuple[float, float] = Field(
        (0.075, 0.45), description="Shape size as a fraction of the shorter image side."
    )


class DataSection(Section):
    root: Path = Path("data/coco")
    train_ann: str = "annotations/instances_train2017.json"
    train_img: str = "train2017"
    val_ann: str = "annotations/instances_val2017.json"
    val_img: str = "val2017"
    subset: Optional[int] = Field(
        None, ge=1, description="Train on N images, chosen deterministically."
    )
    val_subset: Optional[int] = Field(None, ge=1, description="Validate on N images.")
    synthetic: Optional[SyntheticSection] = Field(
        None, description="Generate the built-in shapes dataset into root when it is absent."
    )
    num_workers: int = Field(2, ge=0, le=64)
    min_size: int = Field(32, ge=0, description="Drop training images smaller than this.")


class TrainSection(Section):
    max_iters: Optional[int] = Field(
        None, ge=1, description="Total iterations (or give max_epochs)."
    )
    max_epochs: Optional[float] = Field(
        None, gt=0, description="Converted to iterations from the data size."
    )
    batch_size: int = Field(4, ge=1, description="Images per device; total = batch_size × devices.")
    lr: float = Field(1e-4, gt=0.0, le=1.0, description="Learning rate at base_batch_size.")
    base_batch_size: int = Field(64, ge=1, description="Total batch lr refers to (linear scaling).")
    scale_lr: bool = Field(True, description="Scale lr by total batch / base_batch_size.")
    weight_decay: float = Field(0.1, ge=0.0, le=1.0)
    layer_decay: Optional[float] = Field(None, gt=0.0, le=1.0, description="Preset's if unset.")
    warmup_iters: int = Field(250, ge=0)
    warmup_factor: float = Field(0.001, gt=0.0, le=1.0)
    lr_steps: list[float] = Field(
        [0.888889, 0.962962], description="Decay ×0.1 at these fractions of max_iters."
    )
    grad_clip: Optional[float] = Field(None, gt=0.0)
    amp: Literal["auto", "on", "off"] = Field(
        "auto", description="auto: on for npu/cuda, off on cpu."
    )
    seed: int = Field(0, ge=0)
    val_interval: int = Field(5000, ge=1, description="Iterations between validations.")
    checkpoint_interval: int = Field(5000, ge=1, description="Iterations between checkpoints.")
    max_keep_ckpts: int = Field(3, ge=1)
    log_interval: int = Field(50, ge=1)
    lsj_ratio: tuple[float, float] = Field(
        (0.1, 2.0), description="Large-scale-jitter resize range."
    )

    @field_validator("lr_steps")
    @classmethod
    def _steps(cls, value: list[float]) -> list[float]:
        if any(not 0.0 < v < 1.0 for v in value) or value != sorted(value):
            raise ValueError("lr_steps must be increasing fractions of max_iters in (0, 1)")
        return value

    @field_validator("lsj_ratio")
    @classmethod
    def _ratio(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0.0 < value[0] <= value[1]:
            raise ValueError("lsj_ratio must be (low, high) with 0 < low <= high")
        return value


class OptimSection(Section):
    """Optimizer parameter rules (lr and weight decay values are in ``train``)."""

    no_decay: Literal["mmdet", "detectron2", "timm"] = Field(
        "mmdet",
        description="Which parameters get no weight decay: mmdet (MMDetection's ViTDet: the "
        "backbone blocks' norms and pos_embed), detectron2 (torch norm layers and pos_embed), "
        "timm (every bias and 1-D tensor, and pos_embed).",
    )


class DeviceSection(Section):
    kind: DeviceKind = "auto"
    devices: Optional[list[int]] = Field(None, description="Physical device indices, e.g. [6, 7].")
    soc_version: Optional[str] = Field(
        None,
        pattern=r"^[0-9A-Za-z_]+$",
        description="SoC for atc (Ascend910B3, Ascend910_9391, ...) when neither --soc-version, "
        "SOC_VERSION nor npu-smi names one.",
    )

    @field_validator("devices", mode="before")
    @classmethod
    def _devices(cls, value: object) -> object:
        return parse_device_list(value)


class ExperimentConfig(Section):
    name: str = Field("vitdet", min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    model: ModelSection = ModelSection()
    data: DataSection = DataSection()
    train: TrainSection = TrainSection()
    optim: OptimSection = OptimSection()
    device: DeviceSection = DeviceSection()
    work_dir: Optional[Path] = Field(None, description="Defaults to work_dirs/<name>.")

    @model_validator(mode="after")
    def _length(self) -> "ExperimentConfig":
        if self.train.max_iters is not None and self.train.max_epochs is not None:
            raise ValueError("give train.max_iters or train.max_epochs, not both")
        return self

    @property
    def resolved_work_dir(self) -> Path:
        return self.work_dir if self.work_dir is not None else Path("work_dirs") / self.name
