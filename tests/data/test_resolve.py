"""data/resolve.py: every way a command names its images, and every bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vitdet_cli.data import resolve
from vitdet_cli.data.resolve import (
    BUILTIN_ROOT,
    builtin_dataset,
    from_folder,
    guess_image_dir,
    resolve_dataset,
)
from vitdet_cli.data.synth import CLASS_NAMES, TRAIN_ANN, VAL_ANN, make_synthetic_dataset
from vitdet_cli.errors import VitdetError

ROOT = Path(__file__).resolve().parents[2]


def listed(ann: Path) -> list[str]:
    return [im["file_name"] for im in json.loads(ann.read_text())["images"]]


def error(code: str, *names: str, **kw) -> VitdetError:
    with pytest.raises(VitdetError) as info:
        resolve_dataset(**kw)
    err = info.value
    assert err.code == code, err.to_dict()
    assert err.exit_code == 2 and err.hint
    for name in names:
        assert name in err.message, err.message
    return err


def test_annotations_with_images(small_synth) -> None:
    ds = resolve_dataset(small_synth.train_ann, small_synth.train_img, limit=3)
    assert ds.source == "annotations" and ds.ann_file == small_synth.train_ann
    assert ds.image_dir == small_synth.train_img and not ds.generated
    assert [p.name for p in ds.images] == listed(small_synth.train_ann)[:3]
    assert all(p.parent == small_synth.train_img for p in ds.images)
    assert "3 image(s) of" in ds.describe()


def test_annotations_alone_guess_the_split_folder(small_synth) -> None:
    ds = resolve_dataset(small_synth.train_ann)  # <root>/annotations/instances_train.json
    assert ds.image_dir == small_synth.root / "train"
    assert len(ds.images) == len(listed(small_synth.train_ann))
    assert resolve_dataset(small_synth.val_ann).image_dir == small_synth.root / "val"


def test_annotations_alone_fall_back_to_val(small_synth, tmp_path) -> None:
    """compare's old guess, ``<root>/val``, still holds when ``<root>/<split>`` is absent."""
    (tmp_path / "annotations").mkdir()
    ann = shutil.copy(small_synth.val_ann, tmp_path / "annotations" / "mine.json")
    shutil.copytree(small_synth.val_img, tmp_path / "val")
    assert guess_image_dir(Path(ann)) == tmp_path / "val"
    ds = resolve_dataset(Path(ann))
    assert ds.image_dir == tmp_path / "val" and len(ds.images) == len(listed(Path(ann)))


def test_guess_without_a_folder_is_one_error(small_synth, tmp_path) -> None:
    (tmp_path / "annotations").mkdir()
    ann = Path(shutil.copy(small_synth.val_ann, tmp_path / "annotations" / "instances_x.json"))
    err = error("images_missing", str(tmp_path / "x"), str(tmp_path / "val"), "--data", data=ann)
    assert "--images" in err.message and "--images" in err.hint


def test_a_folder_or_one_image(small_synth) -> None:
    ds = resolve_dataset(img=small_synth.val_img, takes_img=True)
    assert ds.source == "folder" and ds.ann_file is None and ds.image_dir == small_synth.val_img
    assert [p.name for p in ds.images] == sorted(p.name for p in small_synth.val_img.iterdir())
    one = from_folder(ds.images[0])
    assert one.images == ds.images[:1] and one.image_dir == small_synth.val_img
    assert len(from_folder(small_synth.train_img, limit=2).images) == 2
    assert "from" in one.describe()


def test_nothing_uses_an_existing_builtin_set(small_synth) -> None:
    ds = resolve_dataset(builtin_for=CLASS_NAMES, root=small_synth.root, on_generate=pytest.fail)
    assert ds.source == "builtin" and not ds.generated
    assert ds.ann_file == small_synth.val_ann and ds.image_dir == small_synth.val_img
    assert [p.name for p in ds.images] == listed(small_synth.val_ann)
    assert "built-in synthetic shapes val split (found)" in ds.describe()


def test_nothing_generates_the_builtin_set_on_first_use(tmp_path, monkeypatch) -> None:
    made = []

    def small(root):  # the defaults (300 images) take too long for a unit test
        made.append(root)
        return make_synthetic_dataset(root, images=4, seed=1, image_size=64, preview=False)

    monkeypatch.setattr(resolve, "ensure_synthetic_dataset", small)
    seen = []
    root = tmp_path / "shapes"
    ds = resolve_dataset(builtin_for=list(CLASS_NAMES), root=root, on_generate=seen.append)
    assert seen == [root] == made and ds.generated and ds.source == "builtin"
    assert ds.ann_file == root / VAL_ANN and ds.images and "generated now" in ds.describe()
    assert builtin_dataset(root, generate=False).generated is False  # found the second time
    assert builtin_dataset(tmp_path / "none", generate=False) is None
    assert not (tmp_path / "none").exists()


def test_builtin_root_holding_something_else_is_refused(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(VitdetError) as info:
        resolve_dataset(builtin_for=CLASS_NAMES, root=tmp_path)
    assert str(tmp_path) in info.value.message and info.value.code == "data_out_not_empty"
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_nothing_without_the_builtin_set_is_one_error(tmp_path) -> None:
    err = error("no_dataset", "--data", builtin_for=["cat", "dog"], root=tmp_path)
    assert "2 other classes" in err.message and not any(tmp_path.iterdir())
    err = error("no_input", "--img PATH or --data ANN_JSON", takes_img=True, root=tmp_path)
    assert str(tmp_path / VAL_ANN) in err.hint
    error("no_dataset", "--data")


@pytest.mark.parametrize(
    "kw, code, names",
    [
        ({"data": "ANN", "img": "IMG"}, "bad_usage", ("--img", "--data")),
        ({"images": "IMG"}, "bad_usage", ("--images", "--data")),
        ({"data": "ANN", "limit": 0}, "bad_usage", ("--limit 0",)),
        ({"img": "IMG", "limit": -1}, "bad_usage", ("--limit -1",)),
        ({"data": "missing.json", "images": "IMG"}, "data_ann_missing", ("missing.json",)),
        ({"data": "ANN", "images": "nowhere"}, "images_missing", ("--images", "nowhere")),
        ({"img": "nowhere.jpg"}, "image_missing", ("nowhere.jpg",)),
        ({"img": "EMPTY"}, "no_images", ("empty",)),
    ],
)
def test_each_bad_input_is_one_clear_error(small_synth, tmp_path, kw, code, names) -> None:
    (tmp_path / "empty").mkdir()
    real = {
        "ANN": small_synth.val_ann,
        "IMG": small_synth.val_img,
        "EMPTY": tmp_path / "empty",
    }
    kw = {k: real.get(v, tmp_path / v) if isinstance(v, str) else v for k, v in kw.items()}
    with pytest.raises(VitdetError) as info:
        resolve_dataset(**kw)
    assert info.value.code == code, info.value.to_dict()
    for name in names:
        assert name in info.value.message, info.value.message


def test_images_the_file_lists_must_be_there(small_synth) -> None:
    """The train annotations against the val folder: named, with the option that fixes it."""
    with pytest.raises(VitdetError) as info:
        resolve_dataset(small_synth.train_ann, small_synth.val_img)
    err = info.value
    assert err.code == "images_missing" and str(small_synth.val_img) in err.message
    assert "--images" in err.hint


def test_the_shipped_config_uses_the_builtin_set() -> None:
    """Generated on first use with the defaults, the set is what the demo config trains on."""
    from dataclasses import fields

    from vitdet_cli.config.loader import load_config
    from vitdet_cli.data.synth import SynthParams

    exp = load_config(ROOT / "configs" / "vitdet_tiny_shapes.yaml", [])
    assert exp.data.root == BUILTIN_ROOT
    assert (str(exp.data.val_ann), str(exp.data.train_ann)) == (VAL_ANN, TRAIN_ANN)
    s, p = exp.data.synthetic, SynthParams()
    given = {
        "images": s.images,
        "seed": s.seed,
        "image_size": (s.size, s.size),
        "val_fraction": s.val_fraction,
        "max_instances": s.max_instances,
        "size_range": tuple(s.size_range),
    }
    assert given == {f.name: getattr(p, f.name) for f in fields(p) if f.name in given}


def test_the_resolver_loads_no_torch() -> None:
    """data/ is a foundation: resolving a dataset never pulls in the training stack."""
    import subprocess
    import sys

    heavy = ("torch", "torchvision", "mmcv", "mmdet", "mmengine", "onnx", "onnxruntime")
    code = (
        "import sys, vitdet_cli.data.resolve, vitdet_cli.data.images; "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
