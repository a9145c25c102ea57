"""Cases that get past the input checks (a stand-in model): pictures keyed per input, results
kept when pictures fail, each image decoded once, damaged pixels, class mismatches."""

from __future__ import annotations

import errno
import json

import cv2
import pytest
from robust_helpers import coco, png_declaring, real_image, use_fake_model


@pytest.fixture
def fake(monkeypatch):
    use_fake_model(monkeypatch, "vitdet_cli.runtime.infer", "vitdet_cli.compare.api")


def _infer(tmp_path, img):
    out = tmp_path / "out"
    return ("infer", "--artifacts", str(tmp_path / "a"), "--img", str(img), "--out", str(out))


def test_same_stem_images_get_their_own_pictures(cli, tmp_path, fake):
    folder = tmp_path / "imgs"
    folder.mkdir()
    real_image(folder / "same.jpg")
    real_image(folder / "same.png")
    result = cli("--json", *_infer(tmp_path, folder))
    assert result.exit_code == 0, result.output
    pictures = json.loads(result.stdout)["pictures"]
    assert len(pictures) == len(set(pictures)) == 2
    assert sorted(p.name for p in (tmp_path / "out" / "vis").iterdir()) == [
        "same.jpg",
        "same_png.jpg",
    ]


def test_longest_legal_image_name_keeps_its_results(cli, tmp_path, fake):
    img = real_image(tmp_path / ("n" * 250 + ".png"))
    result = cli(*_infer(tmp_path, img))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "results.json").is_file()
    assert len(list((tmp_path / "out" / "vis").iterdir())) == 1


def test_disk_full_while_drawing_keeps_results(bad, tmp_path, fake, monkeypatch):
    import vitdet_cli.report.pictures as pictures

    def full(path, data, fsync=True):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pictures, "write_bytes_atomic", full)
    img = real_image(tmp_path / "a.jpg")
    r = bad(*_infer(tmp_path, img), culprit="no space left", exit_code=1)
    assert "results were written" in r.output
    assert json.loads((tmp_path / "out" / "results.json").read_text()) == []


def test_each_image_is_decoded_once(cli, tmp_path, fake, monkeypatch):
    import vitdet_cli.runtime.images as images

    calls = []
    real = cv2.imread
    monkeypatch.setattr(images.cv2, "imread", lambda *a: calls.append(a[0]) or real(*a))
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg", "c.png"):
        real_image(folder / name)
    assert cli(*_infer(tmp_path, folder)).exit_code == 0
    assert len(calls) == 3


def test_pixels_opencv_cannot_decode(bad, tmp_path, fake):
    img = png_declaring(tmp_path / "broken.png", 8, 8)  # header fine, pixel data garbage
    bad(*_infer(tmp_path, img), culprit="broken.png", exit_code=1)
    assert not (tmp_path / "out" / "results.json").exists()


def test_compare_refuses_a_class_mismatch_like_eval(bad, tmp_path, monkeypatch):
    use_fake_model(monkeypatch, "vitdet_cli.compare.api", class_names=("a", "b", "c"))
    ann, img_dir, _ = coco(tmp_path, classes=("a", "b", "c", "d", "e", "f"))
    args = ("compare", "--artifacts", str(tmp_path / "a"), "--data", str(ann), "--out")
    r = bad(*args, str(tmp_path / "o"), "--images", str(img_dir), culprit="3", exit_code=2)
    assert "predicts 3 classes" in r.output
    assert "6 categories" in r.output and "PASSED" not in r.output


def test_a_failure_mid_run_leaves_no_partial_pictures(bad, tmp_path, fake):
    folder = tmp_path / "imgs"
    folder.mkdir()
    real_image(folder / "a.jpg")
    png_declaring(folder / "b.png", 8, 8)  # its pixels fail after a.jpg's picture is saved
    bad(*_infer(tmp_path, folder), culprit="b.png", exit_code=1)
    vis = tmp_path / "out" / "vis"
    assert not (tmp_path / "out" / "results.json").exists()
    assert not vis.exists() or not list(vis.iterdir())
