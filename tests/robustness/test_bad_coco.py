"""Bad COCO files: `data check` lists every problem with its count; eval, compare and subset
refuse them before any work, naming the file."""

from __future__ import annotations

import math

import pytest
from robust_helpers import coco, write_json


def _set(field: str, value):
    def damage(data):
        kind, key = field.split(".")
        data[kind][0][key] = value

    return damage


def _drop(field: str):
    def damage(data):
        kind, key = field.split(".")
        del data[kind][0][key]

    return damage


def _duplicate(kind: str):
    def damage(data):
        data[kind][1]["id"] = data[kind][0]["id"]

    return damage


def _add_category(data):
    data["categories"].append({"id": 9, "name": data["categories"][0]["name"]})


# (damage, words of the problem row)
PROBLEMS = {
    "negative_box": (_set("annotations.bbox", [2, 2, -5, -5]), "bbox width or height"),
    "zero_box": (_set("annotations.bbox", [2, 2, 0, 4]), "bbox width or height"),
    "missing_bbox": (_drop("annotations.bbox"), "bbox missing or not four"),
    "bbox_text": (_set("annotations.bbox", "abc"), "bbox missing or not four"),
    "bbox_three": (_set("annotations.bbox", [1, 2, 3]), "bbox missing or not four"),
    "bbox_nan": (_set("annotations.bbox", [1, 2, math.nan, 3]), "bbox missing or not four"),
    "bbox_bool": (_set("annotations.bbox", [True, 2, 3, 3]), "bbox missing or not four"),
    "segm_empty": (_set("annotations.segmentation", []), "segmentation is an empty list"),
    "polygon_two_points": (_set("annotations.segmentation", [[1, 1, 5, 5]]), "no polygon of 3"),
    "one_short_polygon": (
        _set("annotations.segmentation", [[1, 1, 5, 1, 5, 5], [1, 1, 2, 2]]),
        "polygon has fewer than 3 points",
    ),
    "polygon_odd": (_set("annotations.segmentation", [[1, 1, 5, 5, 6]]), "flat list"),
    "rle_bad_size": (
        _set("annotations.segmentation", {"size": "x", "counts": "abc"}),
        "RLE size",
    ),
    "rle_bad_counts": (
        _set("annotations.segmentation", {"size": [4, 4], "counts": [3, 3]}),
        "RLE counts",
    ),
    "segm_number": (_set("annotations.segmentation", 7), "neither polygons nor RLE"),
    "ann_id_list": (_set("annotations.id", [1]), "annotation id missing or not an integer"),
    "ann_id_dup": (_duplicate("annotations"), "annotation id used twice"),
    "image_id_text": (_set("images.id", "one"), "image id missing or not an integer"),
    "image_id_dup": (_duplicate("images"), "image id used twice"),
    "file_name_absolute": (_set("images.file_name", "/etc/passwd"), "outside the image folder"),
    "file_name_parent": (_set("images.file_name", "../0.jpg"), "outside the image folder"),
    "file_name_number": (_set("images.file_name", 5), "file_name missing"),
    "width_missing": (_drop("images.width"), "width missing"),
    "category_name_dup": (_add_category, "category name used twice"),
    "category_no_name": (_drop("categories.name"), "category name missing"),
    "unknown_category": (_set("annotations.category_id", 42), "category_id not in"),
    "unknown_image": (_set("annotations.image_id", 99), "image_id not in"),
    "area_missing": (_drop("annotations.area"), "area missing"),
}


def _broken(tmp_path, case):
    ann, img_dir, data = coco(tmp_path)
    damage, words = PROBLEMS[case]
    damage(data)
    write_json(ann, data)
    return ann, img_dir, words


@pytest.mark.parametrize("case", sorted(PROBLEMS))
def test_data_check_lists_the_problem(bad, tmp_path, case):
    ann, img_dir, words = _broken(tmp_path, case)
    r = bad("data", "check", "--ann", str(ann), "--images", str(img_dir), culprit=words)
    assert str(ann) in r.output and "1" in r.output  # the file, and how often


def test_data_check_counts_each_problem(bad, tmp_path):
    ann, img_dir, data = coco(tmp_path, n_images=3)
    for a in data["annotations"]:
        a["bbox"] = [0, 0, -1, 4]
    data["annotations"][0]["segmentation"] = []
    write_json(ann, data)
    r = bad("data", "check", "--ann", str(ann), "--images", str(img_dir), culprit="bbox width")
    assert "4 problem(s)" in r.output
    assert any(line.split()[:1] == ["3"] and "bbox width" in line for line in r.output.splitlines())


@pytest.mark.parametrize("case", ["missing_bbox", "bbox_text", "segm_empty", "ann_id_list"])
def test_eval_refuses_a_bad_file_before_any_work(bad, tmp_path, case):
    ann, img_dir, words = _broken(tmp_path, case)
    ckpt = tmp_path / "model.pth"
    ckpt.write_bytes(b"never read")
    args = ("eval", "--checkpoint", str(ckpt), "--data", str(ann), "--images", str(img_dir))
    bad(*args, culprit=words, code="data_ann_invalid", json_out=True)


@pytest.mark.parametrize("case", ["polygon_two_points", "file_name_parent", "image_id_dup"])
def test_compare_refuses_a_bad_file(bad, tmp_path, case):
    ann, img_dir, words = _broken(tmp_path, case)
    args = ("compare", "--artifacts", str(tmp_path / "a"), "--data", str(ann))
    bad(*args, "--images", str(img_dir), "--out", str(tmp_path / "o"), culprit=words)


def test_evaluation_takes_degenerate_boxes_but_not_crashing_fields(tmp_path):
    from vitdet_cli.data.validate import validate_coco

    _, _, data = coco(tmp_path)
    data["annotations"][0]["bbox"] = [1, 1, -3, 4]
    report = validate_coco(data, "x.json")
    assert report.blocking() and not report.blocking(for_eval=True)
    data["annotations"][1]["segmentation"] = []
    assert [p.what for p in validate_coco(data, "x.json").blocking(for_eval=True)] == [
        "segmentation is an empty list"
    ]


def test_data_check_not_json(bad, tmp_path):
    ann = tmp_path / "a.json"
    ann.write_text('{"images": [')
    bad("data", "check", "--ann", str(ann), "--images", str(tmp_path), culprit="not valid JSON")


def test_data_check_json_list(bad, tmp_path):
    ann = write_json(tmp_path / "a.json", [1, 2])
    bad("data", "check", "--ann", str(ann), "--images", str(tmp_path), culprit="JSON list")


def test_data_check_results_file_instead_of_instances(bad, tmp_path):
    ann = write_json(tmp_path / "res.json", {"annotations": []})
    bad("data", "check", "--ann", str(ann), "--images", str(tmp_path), culprit="images")


def test_data_check_image_folder_missing(bad, tmp_path):
    ann, _, _ = coco(tmp_path)
    args = ("data", "check", "--ann", str(ann), "--images", str(tmp_path / "nope"))
    bad(*args, culprit="nope")


def test_data_check_binary_file(bad, tmp_path):
    ann = tmp_path / "a.json"
    ann.write_bytes(b"\xff\xfe\x00garbage")
    bad("data", "check", "--ann", str(ann), "--images", str(tmp_path), culprit="a.json")


def test_subset_refuses_to_overwrite_its_input(bad, tmp_path):
    ann, _, _ = coco(tmp_path, n_images=4)
    args = ("data", "subset", "--ann", str(ann), "--n", "2", "--out", str(ann))
    bad(*args, culprit="destroy the input", exit_code=2)


def test_subset_refuses_its_input_by_another_path(bad, tmp_path, monkeypatch):
    ann, _, _ = coco(tmp_path, n_images=4)
    (tmp_path / "sub").mkdir()
    other = tmp_path / "sub" / ".." / ann.name
    args = ("data", "subset", "--ann", str(ann), "--n", "2", "--out", str(other))
    bad(*args, culprit="destroy the input", code="out_is_input", json_out=True)


def test_subset_out_is_a_folder(bad, tmp_path):
    ann, _, _ = coco(tmp_path, n_images=4)
    args = ("data", "subset", "--ann", str(ann), "--n", "2", "--out", str(tmp_path))
    bad(*args, culprit="is a folder", exit_code=2)


def test_subset_too_many_images(bad, tmp_path):
    ann, _, _ = coco(tmp_path, n_images=2)
    args = ("data", "subset", "--ann", str(ann), "--n", "5", "--out", str(tmp_path / "s.json"))
    bad(*args, culprit="cannot pick 5", exit_code=2)


def test_subset_bad_ids(bad, tmp_path):
    ann, _, data = coco(tmp_path, n_images=3)
    data["images"][0]["id"] = [1]
    write_json(ann, data)
    args = ("data", "subset", "--ann", str(ann), "--n", "1", "--out", str(tmp_path / "s.json"))
    bad(*args, culprit="image id missing or not an integer")
    assert not (tmp_path / "s.json").exists()


def test_synth_out_is_a_file(bad, tmp_path):
    (tmp_path / "ds").write_text("keep")
    bad("data", "synth", "--out", str(tmp_path / "ds"), "--images", "2", culprit="ds")
