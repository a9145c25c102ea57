"""Pydantic schema of an experiment config (the YAML files under ``configs/``).

Sections are strict: an unknown key is an error with a did-you-mean, never silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


class ModelSection(Section):
    preset: str = Field("vit-b", description="Model preset: vit-b, vit-l, vit-h or vit-tiny.")
    num_classes: int = Field(80, ge=1)
    pretrained: Optional[Path] = Field(None, description="MAE pre-trained backbone weights.")
    img_size: Optional[int] = Field(None, ge=64, le=4096, description="Square input; preset's if unset.")
    drop_path_rate: Optional[float] = Field(None, ge=0.0, lt=1.0)
    with_cp: bool = Field(False, description="Activation checkpointing in the backbone.")


class DataSection(Section):
    root: Path = Path("data/coco")
    train_ann: str = "annotations/instances_train2017.json"
    train_img: str = "train2017"
    val_ann: str = "annotations/instances_val2017.json"
    val_img: str = "val2017"
    subset: Optional[int] = Field(None, ge=1, description="Use N images, chosen deterministically.")
    synthetic: bool = Field(False, description="Generate the built-in shapes dataset when absent.")
    num_workers: int = Field(2, ge=0, le=64)


class TrainSection(Section):
    max_epochs: Optional[int] = Field(None, ge=1)
    max_iters: Optional[int] = Field(None, ge=1)
    batch_size: int = Field(4, ge=1, description="Images per device; total = batch_size × devices.")
    lr: float = Field(1e-4, gt=0.0, le=1.0)
    weight_decay: float = Field(0.1, ge=0.0, le=1.0)
    warmup_iters: int = Field(250, ge=0)
    amp: Literal["auto", "on", "off"] = "auto"
    seed: int = Field(0, ge=0)
    val_interval: int = Field(1, ge=1)
    checkpoint_interval: int = Field(1, ge=1)


class DeviceSection(Section):
    kind: DeviceKind = "auto"
    devices: Optional[list[int]] = Field(None, description="Physical device indices, e.g. [6, 7].")

    @field_validator("devices", mode="before")
    @classmethod
    def _devices(cls, value: object) -> object:
        return parse_device_list(value)


class ExperimentConfig(Section):
    name: str = Field("vitdet", min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    model: ModelSection = ModelSection()
    data: DataSection = DataSection()
    train: TrainSection = TrainSection()
    device: DeviceSection = DeviceSection()
    work_dir: Optional[Path] = Field(None, description="Defaults to work_dirs/<name>.")

    @property
    def resolved_work_dir(self) -> Path:
        return self.work_dir if self.work_dir is not None else Path("work_dirs") / self.name
