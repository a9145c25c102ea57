"""COCO layout checks (each problem names the file and has a hint) and deterministic subsets."""

import json

import pytest

from vitdet_cli.data import coco as coco_mod
from vitdet_cli.data.coco import check_coco_layout, subset_coco
from vitdet_cli.errors import VitdetError


def _dataset(tmp_path, n_images=3):
    """A minimal valid COCO file with image files on disk: image k has k annotations."""
    img_dir = tmp_path / "imgs"
    img_dir.mkdir()
    images, anns = [], []
    for k in range(n_images):
        name = f"sub/{k:03d}.jpg" if k == 0 else f"{k:03d}.jpg"
        (img_dir / name).parent.mkdir(exist_ok=True)
        (img_dir / name).write_bytes(b"jpg")
        images.append({"id": 10 + k, "file_name": name, "height": 8, "width": 8})
        for _ in range(k):
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": 10 + k,
                    "category_id": 1 + k % 2,
                    "bbox": [0, 0, 2, 2],
                    "area": 4.0,
                    "iscrowd": 0,
                    "segmentation": [[0, 0, 2, 0, 2, 2]],
                }
            )
    data = {
        "info": {"v": 1},
        "images": images,
        "annotations": anns,
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps(data))
    return ann, img_dir, data


def test_valid_layout_is_summarised(tmp_path):
    ann, img_dir, _ = _dataset(tmp_path)
    s = check_coco_layout(ann, img_dir)
    assert (s.images, s.annotations, s.categories) == (3, 3, 2)
    assert s.class_names == ["cat", "dog"] and s.instances_per_class == {"cat": 2, "dog": 1}
    assert s.images_without_annotations == 1 and s.checked_images == 3 and s.missing_images == 0


def _break(tmp_path, case):
    """Damage a valid dataset in one way; returns (ann_file, img_dir, expected code, name)."""
    ann, img_dir, data = _dataset(tmp_path)
    name = str(ann)
    if case == "missing_file":
        ann.unlink()
        return ann, img_dir, "data_ann_missing", name
    if case == "invalid_json":
        ann.write_text(ann.read_text()[:40])
        return ann, img_dir, "data_ann_invalid_json", name
    if case == "missing_key":
        del data["categories"]
        code = "data_ann_missing_keys"
    elif case == "no_categories":
        data["categories"] = []
        code = "data_no_categories"
    elif case == "img_dir_missing":
        return ann, tmp_path / "nope", "data_img_dir_missing", str(tmp_path / "nope")
    elif case == "images_absent":
        (img_dir / "002.jpg").unlink()
        return ann, img_dir, "data_images_missing", "002.jpg"
    elif case == "unknown_image":
        data["annotations"][0]["image_id"] = 999
        code = "data_unknown_image"
    elif case == "unknown_category":
        data["annotations"][-1]["category_id"] = 7
        code = "data_unknown_category"
    ann.write_text(json.dumps(data))
    return ann, img_dir, code, name


CASES = [
    "missing_file",
    "invalid_json",
    "missing_key",
    "no_categories",
    "img_dir_missing",
    "images_absent",
    "unknown_image",
    "unknown_category",
]


@pytest.mark.parametrize("case", CASES)
def test_each_problem_is_a_user_error_naming_the_file(tmp_path, case):
    ann, img_dir, code, name = _break(tmp_path, case)
    with pytest.raises(VitdetError) as err:
        check_coco_layout(ann, img_dir)
    assert err.value.code == code
    assert name in err.value.message and err.value.hint


def test_missing_images_counted_when_not_strict_and_sampled(tmp_path, monkeypatch):
    ann, img_dir, _ = _dataset(tmp_path, n_images=5)
    (img_dir / "004.jpg").unlink()
    s = check_coco_layout(ann, img_dir, strict=False)
    assert s.missing_images == 1 and s.missing_examples == ["004.jpg"]
    monkeypatch.setattr(coco_mod, "SAMPLE_SIZE", 2)
    s = check_coco_layout(ann, img_dir, check_images="sample", strict=False)
    assert s.checked_images == 2 and s.missing_images == 1  # the sample spans first..last
    assert check_coco_layout(ann, img_dir, check_images=False).checked_images == 0


def test_subset_is_deterministic_and_self_consistent(small_synth, tmp_path):
    src = json.loads(small_synth.train_ann.read_text())
    a = subset_coco(small_synth.train_ann, 3, tmp_path / "a.json", seed=0)
    subset_coco(small_synth.train_ann, 3, tmp_path / "b.json", seed=0)
    c = subset_coco(small_synth.train_ann, 3, tmp_path / "c.json", seed=4)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert a.image_ids != c.image_ids
    out = json.loads((tmp_path / "a.json").read_text())
    ids = {im["id"] for im in out["images"]}
    assert len(ids) == 3 and ids == set(a.image_ids)
    assert out["categories"] == src["categories"]
    assert out["annotations"] == [x for x in src["annotations"] if x["image_id"] in ids]
    assert a.annotations == len(out["annotations"]) > 0


def test_subset_skips_unannotated_images_and_rejects_bad_n(tmp_path):
    ann, _, _ = _dataset(tmp_path, n_images=4)  # image 10 has no annotations
    for seed in range(5):
        picked = subset_coco(ann, 3, tmp_path / "s.json", seed=seed).image_ids
        assert sorted(picked) == [11, 12, 13]
    for n in (0, 4):
        with pytest.raises(VitdetError) as err:
            subset_coco(ann, n, tmp_path / "s.json")
        assert str(ann) in err.value.message
