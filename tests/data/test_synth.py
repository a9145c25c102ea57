"""The synthetic shapes dataset: deterministic, valid COCO, visible-part annotations."""

import json

import numpy as np
import pytest
from pycocotools.coco import COCO

from vitdet_cli.data import synth
from vitdet_cli.data.coco import segmentation_to_mask
from vitdet_cli.data.synth import (
    CLASS_NAMES,
    ShapeSpec,
    annotate,
    encode_mask,
    ensure_synthetic_dataset,
    make_synthetic_dataset,
    shape_mask,
    split_sizes,
    visible_masks,
)
from vitdet_cli.errors import VitdetError

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
SMALL = {"images": 6, "image_size": 96, "preview": False}


def _bytes(ds):
    return ds.train_ann.read_bytes(), ds.val_ann.read_bytes()


def test_same_seed_gives_identical_files_other_seed_differs(tmp_path):
    a = make_synthetic_dataset(tmp_path / "a", seed=5, **SMALL)
    b = make_synthetic_dataset(tmp_path / "b", seed=5, **SMALL)
    c = make_synthetic_dataset(tmp_path / "c", seed=6, **SMALL)
    assert _bytes(a) == _bytes(b)
    assert (a.train_img / "000000.jpg").read_bytes() == (b.train_img / "000000.jpg").read_bytes()
    assert _bytes(a)[0] != _bytes(c)[0]


def test_annotations_are_valid_coco_and_match_their_masks(small_synth):
    seen = {"polygon": 0, "rle": 0}
    ann_ids = []
    for ann_file in (small_synth.train_ann, small_synth.val_ann):
        coco = COCO(str(ann_file))
        assert [c["id"] for c in coco.loadCats(coco.getCatIds())] == list(range(1, 7))
        assert [c["name"] for c in coco.dataset["categories"]] == list(CLASS_NAMES)
        for img_id in coco.getImgIds():
            assert 1 <= len(coco.getAnnIds(imgIds=img_id)) <= 6
        for ann in coco.dataset["annotations"]:
            ann_ids.append(ann["id"])
            seen["polygon" if isinstance(ann["segmentation"], list) else "rle"] += 1
            assert ann["iscrowd"] == 0
            m = coco.annToMask(ann)
            assert m.sum() == ann["area"] > 0
            ys, xs = np.nonzero(m)
            box = [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
            assert np.abs(np.array(box) - np.array(ann["bbox"])).max() <= 1
    assert seen["polygon"] > 0 and seen["rle"] > 0
    assert len(set(ann_ids)) == len(ann_ids)


def test_masks_in_one_image_never_overlap(small_synth):
    coco = COCO(str(small_synth.train_ann))
    for img_id in coco.getImgIds():
        stack = sum(coco.annToMask(a).astype(int) for a in coco.loadAnns(coco.getAnnIds(img_id)))
        assert stack.max() == 1


def test_occluded_instance_keeps_only_its_visible_part():
    h = w = 100
    square = ShapeSpec("rectangle", (50, 50), 60)  # covers x, y in [20, 80)
    cover = ShapeSpec("rectangle", (20, 50), 40, ratio=2.0)  # x in [0, 40), y in [10, 90)
    hidden = ShapeSpec("circle", (50, 50), 10)  # drawn first, then fully covered by the square
    specs = [hidden, square, cover]
    masks = [shape_mask(s, h, w) for s in specs]
    vis = visible_masks(masks, min_area=10, min_fraction=0.3)
    assert vis[0] is None
    assert vis[1].sum() == masks[1].sum() - (masks[1] & masks[2]).sum() < masks[1].sum()
    anns = annotate(vis, specs, np.random.default_rng(0), rle_fraction=0.0)
    assert [a["category_id"] for a in anns] == [2, 2]
    sq = anns[0]
    assert sq["bbox"][0] >= 39 and sq["bbox"][2] <= 42  # starts where the cover ends
    assert sq["area"] == vis[1].sum()
    assert np.array_equal(segmentation_to_mask(sq["segmentation"], h, w), vis[1])


def test_encode_mask_polygons_for_pieces_rle_for_holes():
    two = np.zeros((64, 64), bool)
    two[5:20, 5:20] = True
    two[40:60, 30:50] = True
    polys = encode_mask(two)
    assert isinstance(polys, list) and len(polys) == 2
    ring = shape_mask(ShapeSpec("ring", (32, 32), 50, ratio=0.5), 64, 64).astype(bool)
    rle = encode_mask(ring)
    assert isinstance(rle, dict) and isinstance(rle["counts"], str)
    for segm, m in ((polys, two), (rle, ring), (encode_mask(two, prefer_rle=True), two)):
        assert np.array_equal(segmentation_to_mask(segm, 64, 64).astype(bool), m)


def test_every_class_draws_a_plausible_shape():
    for cls in CLASS_NAMES:
        m = shape_mask(ShapeSpec(cls, (50, 50), 60, ratio=0.5), 100, 100)
        assert 300 < m.sum() < 60 * 60, cls
    with pytest.raises(ValueError):
        shape_mask(ShapeSpec("blob", (5, 5), 4), 10, 10)


def test_split_sizes_and_files_on_disk(small_synth):
    assert split_sizes(10, 0.2) == (8, 2)
    assert split_sizes(2, 0.05) == (1, 1)
    assert split_sizes(5, 0.0) == (5, 0)
    assert small_synth.num_images == {"train": 8, "val": 2}
    ids = {}
    for split, ann_file, folder in (
        ("train", small_synth.train_ann, small_synth.train_img),
        ("val", small_synth.val_ann, small_synth.val_img),
    ):
        data = json.loads(ann_file.read_text())
        names = sorted(im["file_name"] for im in data["images"])
        assert names == sorted(p.name for p in folder.iterdir())
        assert len(names) == small_synth.num_images[split]
        ids[split] = {im["id"] for im in data["images"]}
        per_class = {n: 0 for n in CLASS_NAMES}
        for a in data["annotations"]:
            per_class[CLASS_NAMES[a["category_id"] - 1]] += 1
        assert per_class == small_synth.instances[split]
    assert not ids["train"] & ids["val"]


def test_ensure_reuses_then_regenerates_on_new_params_or_damage(tmp_path, monkeypatch):
    root = tmp_path / "shapes"
    first = ensure_synthetic_dataset(root, **SMALL)
    assert first.generated
    calls = []
    real = synth.make_synthetic_dataset
    monkeypatch.setattr(
        synth, "make_synthetic_dataset", lambda *a, **k: calls.append(k) or real(*a, **k)
    )
    again = ensure_synthetic_dataset(root, **SMALL)
    assert not again.generated and calls == []
    assert again.params == first.params and again.instances == first.instances

    other = ensure_synthetic_dataset(root, seed=1, **SMALL)
    assert other.generated and other.params["seed"] == 1 and len(calls) == 1

    (other.train_img / "000000.jpg").unlink()
    assert ensure_synthetic_dataset(root, seed=1, **SMALL).generated and len(calls) == 2


def test_regenerating_smaller_removes_stale_images(tmp_path):
    root = tmp_path / "ds"
    make_synthetic_dataset(root, **SMALL)
    small = make_synthetic_dataset(root, images=3, image_size=96, preview=False)
    assert sorted(p.name for p in small.train_img.iterdir()) == ["000000.jpg", "000001.jpg"]
    assert sorted(p.name for p in small.val_img.iterdir()) == ["000002.jpg"]


def test_refuses_a_foreign_non_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(VitdetError) as err:
        make_synthetic_dataset(tmp_path, **SMALL)
    assert err.value.code == "data_out_not_empty" and str(tmp_path) in err.value.message
    with pytest.raises(VitdetError):
        ensure_synthetic_dataset(tmp_path, **SMALL)
    assert make_synthetic_dataset(tmp_path, force=True, **SMALL).num_images["train"] == 5
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_bad_params_are_user_errors(tmp_path):
    for kw in ({"images": 0}, {"val_fraction": 1.0}, {"image_size": 8}, {"image_format": "gif"}):
        with pytest.raises(VitdetError) as err:
            make_synthetic_dataset(tmp_path / "x", **{**SMALL, **kw})
        assert err.value.exit_code == 2
