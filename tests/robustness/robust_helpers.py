"""Small faulty inputs for the robustness cases: images, pipes, COCO files."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np


def png_declaring(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header declares ``width`` × ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )
    return path


def real_image(path: Path, size: int = 32) -> Path:
    cv2.imwrite(str(path), np.full((size, size, 3), 120, np.uint8))
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def coco(tmp_path: Path, n_images: int = 2, classes=("a", "b")) -> tuple[Path, Path, dict]:
    """(annotation file, image folder, data): a valid COCO set with real images on disk."""
    img_dir = tmp_path / "images"
    img_dir.mkdir(exist_ok=True)
    images, anns = [], []
    for k in range(n_images):
        real_image(img_dir / f"{k}.jpg")
        images.append({"id": k + 1, "file_name": f"{k}.jpg", "width": 32, "height": 32})
        anns.append(
            {
                "id": k + 1,
                "image_id": k + 1,
                "category_id": 1,
                "bbox": [2, 2, 10, 10],
                "area": 100.0,
                "iscrowd": 0,
                "segmentation": [[2, 2, 12, 2, 12, 12, 2, 12]],
            }
        )
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(classes)]
    data = {"images": images, "annotations": anns, "categories": cats}
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps(data))
    return ann, img_dir, data


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


class FakeModel:
    """Stands in for :class:`~vitdet_cli.runtime.staged.StagedModel`: no detections, fixed
    timings, the given class names (for the cases that get past the input checks)."""

    class_names = ["a", "b"]

    def __init__(self, artifacts, backend, verify: bool = True) -> None:
        self.sessions = {}
        self.backend = backend

    def __enter__(self):
        return self

    def backend_info(self) -> dict:
        return {}

    def __exit__(self, *exc) -> None:
        return None

    def __call__(self, image, score_thr=None, dedup="none", *, timer=None, record=None):
        from vitdet_cli.runtime.detections import Detections

        if timer is not None:
            timer.ms["backbone"] += 1.0
        return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), counts={})


class NoArtifacts:
    """Stands in for :class:`~vitdet_cli.artifacts.Artifacts`: the fake model needs no folder."""

    @staticmethod
    def of(path):
        return path


def use_fake_model(monkeypatch, *modules: str, class_names=("a", "b")) -> None:
    """Replace the staged model, the artifacts opener and the backend lookup in ``modules``
    (e.g. runtime.infer)."""
    import importlib

    fake = type("Fake", (FakeModel,), {"class_names": list(class_names)})
    for name in modules:
        mod = importlib.import_module(name)
        monkeypatch.setattr(mod, "StagedModel", fake)
        if hasattr(mod, "get_backend"):
            monkeypatch.setattr(mod, "get_backend", lambda name, **k: SimpleNamespace(name=name))
        if hasattr(mod, "open_backend"):  # infer's default "auto" goes through it
            fake_open = lambda _art, name="auto", _opts=None: SimpleNamespace(name=name)  # noqa: E731
            monkeypatch.setattr(mod, "open_backend", fake_open)
        if hasattr(mod, "Artifacts"):
            monkeypatch.setattr(mod, "Artifacts", NoArtifacts)
