"""A synthetic shapes dataset for instance segmentation, written in real COCO layout.

Why: a tiny model must be able to learn something in minutes on a CPU, with no download, so the
whole train → export → deploy flow can be exercised anywhere. The class is the shape (circle,
rectangle, ...); colours, sizes, positions and backgrounds are random, so the model has to look
at shape. Later shapes occlude earlier ones; every annotation describes the *visible* part.

Layout under ``out_dir``::

    train/000000.jpg ...            val/000240.jpg ...
    annotations/instances_train.json annotations/instances_val.json
    preview.jpg                      vitdet_synth.json  (marker: generator params, written last)
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import cv2
import numpy as np

from vitdet_cli.atomic import write_bytes_atomic, write_json_atomic
from vitdet_cli.data.coco import segmentation_to_mask
from vitdet_cli.data.preview import write_preview
from vitdet_cli.errors import VitdetError

CLASS_NAMES: tuple[str, ...] = ("circle", "rectangle", "triangle", "ellipse", "star", "ring")
GENERATOR = "vitdet_cli.data.synth"
GENERATOR_VERSION = 1
MARKER = "vitdet_synth.json"
TRAIN_IMG, VAL_IMG = "train", "val"
TRAIN_ANN = "annotations/instances_train.json"
VAL_ANN = "annotations/instances_val.json"
_IMAGE_NAME = re.compile(r"^\d{6}\.(jpg|png)$")
_UPSCALE = 4  # polygons are traced on a 4x upscaled mask so they follow pixel edges

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class SynthParams:
    """Everything that decides the dataset's content; equal params give byte-identical JSON."""

    images: int = 300
    seed: int = 0
    image_size: tuple[int, int] = (320, 320)
    val_fraction: float = 0.2
    max_instances: int = 6
    size_range: tuple[float, float] = (0.075, 0.45)
    rle_fraction: float = 0.25
    image_format: str = "jpg"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["image_size"], d["size_range"] = list(self.image_size), list(self.size_range)
        return {"generator_version": GENERATOR_VERSION, **d}


@dataclass(frozen=True)
class ShapeSpec:
    """One shape to draw. ``size`` is its extent in px, ``ratio`` its class-specific proportion
    (rectangle h/w, ellipse minor/major, star and ring inner/outer radius)."""

    cls: str
    center: tuple[float, float]
    size: float
    angle: float = 0.0
    ratio: float = 1.0
    jitter: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass
class SyntheticDataset:
    """Where a generated dataset lives and what is in it."""

    root: Path
    params: dict
    num_images: dict[str, int]
    instances: dict[str, dict[str, int]]
    class_names: tuple[str, ...] = CLASS_NAMES
    preview: Path | None = None
    generated: bool = True
    seconds: float = 0.0
    train_img: Path = field(init=False)
    val_img: Path = field(init=False)
    train_ann: Path = field(init=False)
    val_ann: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.train_img, self.val_img = self.root / TRAIN_IMG, self.root / VAL_IMG
        self.train_ann, self.val_ann = self.root / TRAIN_ANN, self.root / VAL_ANN

    def to_dict(self) -> dict:
        return {
            "root": str(self.root),
            "train_img": str(self.train_img),
            "val_img": str(self.val_img),
            "train_ann": str(self.train_ann),
            "val_ann": str(self.val_ann),
            "class_names": list(self.class_names),
            "num_images": self.num_images,
            "instances": self.instances,
            "params": self.params,
            "preview": str(self.preview) if self.preview else None,
            "generated": self.generated,
            "seconds": round(self.seconds, 3),
        }


# ---------------------------------------------------------------- shapes and scenes


def _ring_points(
    cx: float,
    cy: float,
    rx: float,
    ry: float,
    angle: float,
    n: int = 72,
    radii: np.ndarray | None = None,
) -> np.ndarray:
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    r = 1.0 if radii is None else radii
    x, y = rx * r * np.cos(t), ry * r * np.sin(t)
    a = math.radians(angle)
    return np.stack(
        [cx + x * math.cos(a) - y * math.sin(a), cy + x * math.sin(a) + y * math.cos(a)], axis=1
    )


def _fill(mask: np.ndarray, pts: np.ndarray, value: int = 1) -> None:
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], value, cv2.LINE_8, 4)


def shape_mask(spec: ShapeSpec, height: int, width: int) -> np.ndarray:
    """Rasterise ``spec`` into a 0/1 uint8 mask of the image size (clipped at the borders)."""
    m = np.zeros((height, width), np.uint8)
    (cx, cy), r, s = spec.center, spec.size / 2.0, spec.cls
    if s in ("circle", "ring"):
        _fill(m, _ring_points(cx, cy, r, r, 0.0))
        if s == "ring":
            _fill(m, _ring_points(cx, cy, r * spec.ratio, r * spec.ratio, 0.0), 0)
    elif s == "ellipse":
        _fill(m, _ring_points(cx, cy, r, r * spec.ratio, spec.angle))
    elif s == "rectangle":
        box = cv2.boxPoints(((cx, cy), (spec.size, spec.size * spec.ratio), spec.angle))
        _fill(m, box.astype(np.float64))
    elif s == "triangle":
        t = np.radians(spec.angle + np.array([90.0, 210.0, 330.0]) + np.array(spec.jitter))
        _fill(m, np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1))
    elif s == "star":
        radii = np.tile([1.0, spec.ratio], 5)
        _fill(m, _ring_points(cx, cy, r, r, spec.angle - 90.0, n=10, radii=radii))
    else:
        raise ValueError(f"unknown shape class {s!r}; known: {', '.join(CLASS_NAMES)}")
    return m


_RATIO = {
    "circle": (1.0, 1.0),
    "rectangle": (0.5, 1.0),
    "triangle": (1.0, 1.0),
    "ellipse": (0.38, 0.55),
    "star": (0.4, 0.5),
    "ring": (0.45, 0.62),
}


def sample_shape(
    rng: np.random.Generator, cls: str, height: int, width: int, size_range: tuple[float, float]
) -> ShapeSpec:
    """A random ``cls`` shape: size a fraction of the shorter side, centre mostly inside."""
    short = min(height, width)
    size = float(rng.uniform(*size_range)) * short
    margin = 0.3 * size
    center = (
        float(rng.uniform(margin, width - margin)),
        float(rng.uniform(margin, height - margin)),
    )
    return ShapeSpec(
        cls=cls,
        center=center,
        size=size,
        angle=float(rng.uniform(0, 360)),
        ratio=float(rng.uniform(*_RATIO[cls])),
        jitter=tuple(float(j) for j in rng.uniform(-15, 15, 3)),
    )


def visible_masks(
    masks: Sequence[np.ndarray], min_area: int = 1, min_fraction: float = 0.0
) -> list[np.ndarray | None]:
    """The visible part of each mask when later masks are painted over earlier ones.

    An instance whose visible area is below ``min_area`` px or below ``min_fraction`` of its
    own area becomes ``None`` (dropped: too little of it is left to be recognisable).
    """
    if not masks:
        return []
    owner = np.full(masks[0].shape, -1, np.int16)
    for k, m in enumerate(masks):
        owner[m > 0] = k
    out: list[np.ndarray | None] = []
    for k, m in enumerate(masks):
        vis = owner == k
        area = int(vis.sum())
        keep = area >= max(min_area, 1) and area >= min_fraction * int((m > 0).sum())
        out.append(vis if keep else None)
    return out


def _min_area(short: int) -> int:
    return max(12, int((0.04 * short) ** 2))


def sample_scene(
    rng: np.random.Generator,
    height: int,
    width: int,
    max_instances: int,
    size_range: tuple[float, float],
    max_occlusion: float = 0.5,
    tries: int = 25,
) -> tuple[list[ShapeSpec], list[np.ndarray]]:
    """Random shapes in painting order, placed so none loses more than ``max_occlusion``."""
    min_area = _min_area(min(height, width))
    specs: list[ShapeSpec] = []
    masks: list[np.ndarray] = []
    visible: list[np.ndarray] = []
    full: list[int] = []
    for _ in range(int(rng.integers(1, max_instances + 1))):
        cls = CLASS_NAMES[int(rng.integers(len(CLASS_NAMES)))]
        for _ in range(tries):
            spec = sample_shape(rng, cls, height, width, size_range)
            m = shape_mask(spec, height, width).astype(bool)
            if m.sum() < min_area:
                continue
            left = [int((v & ~m).sum()) for v in visible]
            if all(n >= max(min_area, (1 - max_occlusion) * f) for n, f in zip(left, full)):
                visible = [v & ~m for v in visible] + [m]
                specs.append(spec)
                masks.append(m.astype(np.uint8))
                full.append(int(m.sum()))
                break
    return specs, masks


# ---------------------------------------------------------------- pixels


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Gradient + low-frequency blotches + fine grain + distractor lines (float32, BGR)."""
    c0, c1 = rng.uniform(0, 255, (2, 3))
    a = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = xx * math.cos(a) + yy * math.sin(a)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    img = c0 + (c1 - c0) * t[..., None]
    blotch = rng.normal(0, 35, (int(rng.integers(3, 7)), int(rng.integers(3, 7)), 3))
    img += cv2.resize(blotch.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 14, (max(h // 4, 1), max(w // 4, 1), 3)).astype(np.float32)
    img += cv2.resize(grain, (w, h), interpolation=cv2.INTER_LINEAR)
    img = np.ascontiguousarray(img, dtype=np.float32)
    for _ in range(int(rng.integers(2, 8))):
        p0 = tuple(int(v) for v in rng.integers(0, [w, h]))
        p1 = tuple(int(v) for v in rng.integers(0, [w, h]))
        cv2.line(
            img,
            p0,
            p1,
            tuple(float(c) for c in rng.uniform(0, 255, 3)),
            int(rng.integers(1, 3)),
            cv2.LINE_AA,
        )
    return img


def _paint(rng: np.random.Generator, img: np.ndarray, m: np.ndarray) -> None:
    """Fill mask ``m`` with a random colour far from what lies beneath, plus a soft shading."""
    under = img[m > 0].mean(axis=0)
    best, best_d = None, -1.0
    for _ in range(20):
        c = rng.uniform(0, 255, 3)
        d = float(np.linalg.norm(c - under))
        if d > best_d:
            best, best_d = c, d
        if d >= 110:
            break
    ys, xs = np.nonzero(m)
    a = rng.uniform(0, 2 * np.pi)
    proj = xs * math.cos(a) + ys * math.sin(a)
    proj = (proj - proj.mean()) / max(float(np.ptp(proj)), 1.0)
    img[ys, xs] = best + proj[:, None] * rng.uniform(-60, 60)


def render_image(
    rng: np.random.Generator, masks: Sequence[np.ndarray], h: int, w: int
) -> np.ndarray:
    """Background, then each mask painted in order (later ones occlude), blur and noise: uint8."""
    img = _background(rng, h, w)
    for m in masks:
        _paint(rng, img, m)
    img = cv2.GaussianBlur(img, (3, 3), 0.7)
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- annotations


def _polygons(vis: np.ndarray) -> list[list[float]] | None:
    """Polygons following the pixel edges of ``vis``; None when it has holes (use RLE)."""
    ys, xs = np.nonzero(vis)
    y0, x0 = max(int(ys.min()) - 1, 0), max(int(xs.min()) - 1, 0)
    crop = vis[y0 : int(ys.max()) + 2, x0 : int(xs.max()) + 2].astype(np.uint8)
    up = cv2.resize(crop, None, fx=_UPSCALE, fy=_UPSCALE, interpolation=cv2.INTER_NEAREST)
    contours, hier = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hier is None or (hier[0][:, 3] >= 0).any():
        return None
    polys = []
    for c in contours:
        c = cv2.approxPolyDP(c, 1.0, True).reshape(-1, 2).astype(np.float64)
        if len(c) < 3:
            return None
        pts = (c + 0.5) / _UPSCALE + (x0, y0)
        polys.append([round(float(v), 3) for v in pts.ravel()])
    return polys


def _rle(vis: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(vis.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def encode_mask(vis: np.ndarray, prefer_rle: bool = False) -> dict | list:
    """COCO segmentation for a visible mask: polygons when they reproduce it exactly, else RLE."""
    if not prefer_rle:
        polys = _polygons(vis)
        if polys is not None:
            decoded = segmentation_to_mask(polys, *vis.shape)
            if np.array_equal(decoded.astype(bool), vis.astype(bool)):
                return polys
    return _rle(vis)


def mask_bbox(vis: np.ndarray) -> list[float]:
    """Tight COCO box ``[x, y, w, h]`` of a mask's pixels."""
    ys, xs = np.nonzero(vis)
    x0, y0 = int(xs.min()), int(ys.min())
    return [float(x0), float(y0), float(xs.max() - x0 + 1), float(ys.max() - y0 + 1)]


def annotate(
    visible: Sequence[np.ndarray | None],
    specs: Sequence[ShapeSpec],
    rng: np.random.Generator,
    rle_fraction: float,
) -> list[dict]:
    """COCO annotation dicts (without ids) for the kept visible masks."""
    anns = []
    for vis, spec in zip(visible, specs):
        if vis is None:
            continue
        prefer_rle = bool(rng.random() < rle_fraction)
        anns.append(
            {
                "category_id": CLASS_NAMES.index(spec.cls) + 1,
                "segmentation": encode_mask(vis, prefer_rle),
                "area": float(vis.sum()),
                "bbox": mask_bbox(vis),
                "iscrowd": 0,
            }
        )
    return anns


def generate_sample(params: SynthParams, index: int) -> tuple[np.ndarray, list[dict]]:
    """Image ``index`` of the dataset (independent of the total count) and its annotations.

    Geometry and pixels draw from separate streams, so the annotations depend only on integer
    rasterisation, not on how OpenCV blurs or resizes the background.
    """
    h, w = params.image_size
    rng = np.random.default_rng([params.seed, index, 0])
    while True:
        specs, masks = sample_scene(rng, h, w, params.max_instances, params.size_range)
        visible = visible_masks(masks, _min_area(min(h, w)), 0.35)
        if any(v is not None for v in visible):
            break
    anns = annotate(visible, specs, rng, params.rle_fraction)
    image = render_image(np.random.default_rng([params.seed, index, 1]), masks, h, w)
    return image, anns


def sample_image(size: int) -> np.ndarray:
    """One fixed synthetic scene (BGR uint8) about ``size`` px across: what export checks its
    graphs with and what bench times when it has no other image."""
    side = max(64, int(size * 0.8))
    return generate_sample(SynthParams(seed=7, image_size=(side, int(side * 1.25))), 0)[0]


# ---------------------------------------------------------------- dataset on disk


def _categories() -> list[dict]:
    return [{"id": i + 1, "name": n, "supercategory": "shape"} for i, n in enumerate(CLASS_NAMES)]


def split_sizes(images: int, val_fraction: float) -> tuple[int, int]:
    """(train, val): at least one of each when there are two or more images and a val share."""
    n_val = round(images * val_fraction)
    if val_fraction > 0 and images >= 2:
        n_val = min(max(n_val, 1), images - 1)
    return images - n_val, n_val


def _read_marker(root: Path) -> dict | None:
    try:
        data = json.loads((root / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("generator") == GENERATOR else None


def is_synthetic_dataset(root: str | Path) -> bool:
    """True when ``root`` holds (or held, partially written) a dataset made by this module."""
    return _read_marker(Path(root)) is not None


def load_synthetic_dataset(root: str | Path) -> SyntheticDataset | None:
    """The complete dataset at ``root``, or None if absent, partial or missing files."""
    root = Path(root)
    marker = _read_marker(root)
    if not marker or not marker.get("complete"):
        return None
    try:
        params = marker["params"]
        n_train, n_val = marker["num_images"]["train"], marker["num_images"]["val"]
        ext = params["image_format"]
        instances, class_names = marker["instances"], tuple(marker["class_names"])
    except (KeyError, TypeError):
        return None
    expected = [root / TRAIN_IMG / f"{i:06d}.{ext}" for i in range(n_train)]
    expected += [root / VAL_IMG / f"{i:06d}.{ext}" for i in range(n_train, n_train + n_val)]
    if not (root / TRAIN_ANN).is_file() or not (root / VAL_ANN).is_file():
        return None
    if not all(p.is_file() for p in expected):
        return None
    preview = root / "preview.jpg"
    return SyntheticDataset(
        root,
        params,
        {"train": n_train, "val": n_val},
        instances,
        class_names,
        preview if preview.is_file() else None,
        generated=False,
    )


def _coerce(p: SynthParams) -> SynthParams:
    """Plain ints, floats and tuples (an int image_size means square), so params compare equal
    to what the marker file reads back."""
    size = (p.image_size, p.image_size) if isinstance(p.image_size, int) else p.image_size
    return SynthParams(
        int(p.images),
        int(p.seed),
        (int(size[0]), int(size[1])),
        float(p.val_fraction),
        int(p.max_instances),
        (float(p.size_range[0]), float(p.size_range[1])),
        float(p.rle_fraction),
        str(p.image_format),
    )


def _validate(p: SynthParams) -> None:
    def bad(msg: str, hint: str) -> VitdetError:
        return VitdetError(msg, hint=hint, code="bad_synth_params", exit_code=2)

    if p.images < 1:
        raise bad(f"images must be at least 1, got {p.images}", "Pass e.g. --images 300.")
    if not 0.0 <= p.val_fraction < 1.0:
        raise bad(f"val_fraction must be in [0, 1), got {p.val_fraction}", "Use e.g. 0.2.")
    if min(p.image_size) < 64 or max(p.image_size) > 4096:
        raise bad(f"image_size must be within 64..4096 px, got {p.image_size}", "Use e.g. 320.")
    if p.image_format not in ("jpg", "png"):
        raise bad(f"image_format must be jpg or png, got {p.image_format!r}", "Use jpg or png.")
    if p.max_instances < 1 or not 0 < p.size_range[0] <= p.size_range[1] <= 1:
        raise bad(
            f"bad max_instances/size_range: {p.max_instances}, {p.size_range}",
            "max_instances >= 1; size_range fractions of the shorter side in (0, 1].",
        )


def _prepare_dir(root: Path, force: bool) -> dict | None:
    """Refuse a non-empty folder that is not ours (unless forced); return the old marker."""
    if root.exists() and not root.is_dir():
        raise VitdetError(
            f"{root} exists and is not a folder",
            hint="Choose a folder path.",
            code="data_out_not_dir",
            exit_code=2,
        )
    old = _read_marker(root)
    if old is None and root.is_dir() and any(root.iterdir()) and not force:
        raise VitdetError(
            f"{root} is not empty and is not a synthetic dataset made by vitdet",
            hint="Choose an empty or new folder, or pass --force to write into it anyway.",
            code="data_out_not_empty",
            exit_code=2,
        )
    return old


def _remove_stale(root: Path, keep: set[Path]) -> None:
    for split in (TRAIN_IMG, VAL_IMG):
        d = root / split
        if d.is_dir():
            for p in d.iterdir():
                if _IMAGE_NAME.match(p.name) and p not in keep:
                    p.unlink()


def make_synthetic_dataset(
    out_dir: str | Path,
    images: int = SynthParams.images,
    seed: int = SynthParams.seed,
    image_size: int | tuple[int, int] = SynthParams.image_size,
    val_fraction: float = SynthParams.val_fraction,
    *,
    max_instances: int = SynthParams.max_instances,
    size_range: tuple[float, float] = SynthParams.size_range,
    rle_fraction: float = SynthParams.rle_fraction,
    image_format: str = SynthParams.image_format,
    preview: bool = True,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> SyntheticDataset:
    """Generate the shapes dataset under ``out_dir`` (see the module docstring for the layout).

    ``image_size`` is ``(height, width)`` or one int; ``size_range`` is the object extent as a
    fraction of the shorter side (0.075-0.45 ≈ 24-144 px at 320). A folder holding a previous
    synthetic dataset is overwritten; any other non-empty folder needs ``force=True``.
    ``progress(done, total)`` is called after each image.
    """
    start = time.monotonic()
    p = _coerce(
        SynthParams(
            images,
            seed,
            image_size,
            val_fraction,
            max_instances,
            size_range,
            rle_fraction,
            image_format,
        )
    )
    _validate(p)
    root = Path(out_dir)
    old = _prepare_dir(root, force)
    root.mkdir(parents=True, exist_ok=True)
    marker = {"generator": GENERATOR, "complete": False, "params": p.to_dict()}
    write_json_atomic(root / MARKER, marker, indent=2)

    n_train, n_val = split_sizes(p.images, p.val_fraction)
    splits = {"train": (TRAIN_IMG, range(n_train)), "val": (VAL_IMG, range(n_train, p.images))}
    paths = {
        i: root / (TRAIN_IMG if i < n_train else VAL_IMG) / f"{i:06d}.{p.image_format}"
        for i in range(p.images)
    }
    if old is not None:
        _remove_stale(root, set(paths.values()))
    instances: dict[str, dict[str, int]] = {}
    ann_id, done = 1, 0
    for split, (folder, indices) in splits.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        info = {"description": "vitdet synthetic shapes", "version": str(GENERATOR_VERSION)}
        coco = {
            "info": info,
            "licenses": [],
            "images": [],
            "annotations": [],
            "categories": _categories(),
        }
        counts = dict.fromkeys(CLASS_NAMES, 0)
        for i in indices:
            image, anns = generate_sample(p, i)
            _write_image(paths[i], image)
            coco["images"].append(
                {
                    "id": i + 1,
                    "file_name": paths[i].name,
                    "height": p.image_size[0],
                    "width": p.image_size[1],
                }
            )
            for a in anns:
                coco["annotations"].append({"id": ann_id, "image_id": i + 1, **a})
                counts[CLASS_NAMES[a["category_id"] - 1]] += 1
                ann_id += 1
            done += 1
            if progress is not None:
                progress(done, p.images)
        write_json_atomic(root / (TRAIN_ANN if split == "train" else VAL_ANN), coco)
        instances[split] = counts

    preview_path = None
    if preview:
        preview_path = write_preview(root / TRAIN_ANN, root / TRAIN_IMG, root / "preview.jpg")
    num_images = {"train": n_train, "val": n_val}
    marker.update(
        complete=True, num_images=num_images, instances=instances, class_names=list(CLASS_NAMES)
    )
    write_json_atomic(root / MARKER, marker, indent=2)
    return SyntheticDataset(
        root,
        p.to_dict(),
        num_images,
        instances,
        CLASS_NAMES,
        preview_path,
        generated=True,
        seconds=time.monotonic() - start,
    )


def _write_image(path: Path, image: np.ndarray) -> None:
    ext = path.suffix
    flags = [cv2.IMWRITE_JPEG_QUALITY, 92] if ext == ".jpg" else []
    ok, buf = cv2.imencode(ext, image, flags)
    if not ok:
        raise VitdetError(f"could not encode {path}", code="image_encode_failed")
    write_bytes_atomic(path, buf.tobytes(), fsync=False)


@contextlib.contextmanager
def _lock(root: Path) -> Iterator[None]:
    """Serialise generation of one folder across processes (e.g. ranks of one training job)."""
    try:
        # deferred: optional dependency (fcntl, POSIX only)
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock
        yield
        return
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_synthetic_dataset(root: str | Path, **kw) -> SyntheticDataset:
    """Return the dataset at ``root``, generating it first if absent, partial or made with
    other params. Takes :func:`make_synthetic_dataset`'s keyword arguments."""
    root = Path(root)
    names = {f.name for f in fields(SynthParams)}
    wanted = _coerce(SynthParams(**{k: v for k, v in kw.items() if k in names})).to_dict()
    with _lock(root):
        existing = load_synthetic_dataset(root)
        if existing is not None and existing.params == wanted:
            return existing
        return make_synthetic_dataset(root, **kw)
