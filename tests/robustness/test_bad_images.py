"""Bad images and output paths for infer, compare, eval and bench (no model needed: every one
of these is refused before the artifacts are opened)."""

from __future__ import annotations

import os

import pytest
from robust_helpers import coco, fifo, png_declaring, real_image, write_json

ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def arts(tmp_path):
    """An artifacts folder that is never reached: the inputs are refused first."""
    return str(tmp_path / "artifacts")


def _infer(tmp_path, arts, img, *extra):
    return ("infer", "--artifacts", arts, "--img", str(img), "--out", str(tmp_path / "o"), *extra)


def test_infer_png_declaring_60000_squared_is_refused_by_header(bad, tmp_path, arts):
    img = png_declaring(tmp_path / "bomb.png", 60000, 60000)
    r = bad(*_infer(tmp_path, arts, img), culprit="bomb.png", code="image_too_large", json_out=True)
    assert "60000x60000" in r.stdout and "100,000,000" in r.stdout
    assert not (tmp_path / "o").exists()


def test_infer_30000_squared_png_is_refused_before_decoding(bad, tmp_path, arts):
    img = png_declaring(tmp_path / "big.png", 30000, 30000)
    bad(*_infer(tmp_path, arts, img), culprit="900,000,000 pixels", timeout=10)


def test_infer_max_pixels_lowers_the_limit(bad, tmp_path, arts):
    img = real_image(tmp_path / "small.jpg", 32)
    bad(*_infer(tmp_path, arts, img, "--max-pixels", "100"), culprit="over the limit of 100")


def test_infer_max_pixels_must_be_positive(bad, tmp_path, arts):
    img = real_image(tmp_path / "small.jpg")
    bad(*_infer(tmp_path, arts, img, "--max-pixels", "0"), culprit="--max-pixels", exit_code=2)


def test_infer_fifo_named_jpg_does_not_hang(bad, tmp_path, arts):
    pipe = fifo(tmp_path / "x.jpg")
    bad(*_infer(tmp_path, arts, pipe), culprit="x.jpg", exit_code=2, timeout=10)


def test_infer_folder_holding_a_fifo_is_refused(bad, tmp_path, arts):
    folder = tmp_path / "imgs"
    folder.mkdir()
    real_image(folder / "a.jpg")
    fifo(folder / "b.jpg")
    bad(*_infer(tmp_path, arts, folder), culprit="b.jpg", timeout=10)


def test_infer_text_file_named_jpg(bad, tmp_path, arts):
    img = tmp_path / "notes.jpg"
    img.write_text("not an image")
    bad(*_infer(tmp_path, arts, img), culprit="notes.jpg", code="bad_image", json_out=True)


def test_infer_png_with_a_damaged_header(bad, tmp_path, arts):
    img = tmp_path / "cut.png"
    img.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0")
    bad(*_infer(tmp_path, arts, img), culprit="cut.png")


def test_infer_empty_image_file(bad, tmp_path, arts):
    img = tmp_path / "empty.jpg"
    img.write_bytes(b"")
    bad(*_infer(tmp_path, arts, img), culprit="empty.jpg")


def test_infer_image_missing(bad, tmp_path, arts):
    bad(*_infer(tmp_path, arts, tmp_path / "nope.jpg"), culprit="nope.jpg", exit_code=2)


def test_infer_folder_without_images(bad, tmp_path, arts):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "readme.txt").write_text("x")
    bad(*_infer(tmp_path, arts, tmp_path / "imgs"), culprit="no images", exit_code=2)


def test_infer_out_is_a_file(bad, tmp_path, arts):
    img = real_image(tmp_path / "a.jpg")
    out = tmp_path / "out.txt"
    out.write_text("keep me")
    args = ("infer", "--artifacts", arts, "--img", str(img), "--out", str(out))
    bad(*args, culprit="out.txt", code="out_not_dir", json_out=True)


def test_infer_out_below_a_file(bad, tmp_path, arts):
    img = real_image(tmp_path / "a.jpg")
    (tmp_path / "f").write_text("x")
    args = ("infer", "--artifacts", arts, "--img", str(img), "--out", str(tmp_path / "f" / "o"))
    bad(*args, culprit="is a file, not a folder")


@pytest.mark.skipif(ROOT_USER, reason="root may write anywhere")
def test_infer_out_not_writable(bad, tmp_path, arts):
    img = real_image(tmp_path / "a.jpg")
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    args = ("infer", "--artifacts", arts, "--img", str(img), "--out", str(ro / "o"))
    bad(*args, culprit="permission denied")


def test_infer_artifacts_missing(bad, tmp_path, arts):
    img = real_image(tmp_path / "a.jpg")
    bad(*_infer(tmp_path, arts, img), culprit="artifacts")


def test_compare_without_input(bad, arts):
    bad("compare", "--artifacts", arts, culprit="--img", exit_code=2)


def test_compare_image_too_large(bad, tmp_path, arts):
    img = png_declaring(tmp_path / "huge.png", 20000, 20000)
    args = ("compare", "--artifacts", arts, "--img", str(img), "--out", str(tmp_path / "o"))
    bad(*args, culprit="huge.png")


def test_compare_out_is_a_file(bad, tmp_path, arts):
    img = real_image(tmp_path / "a.jpg")
    (tmp_path / "report").write_text("x")
    args = ("compare", "--artifacts", arts, "--img", str(img), "--out", str(tmp_path / "report"))
    bad(*args, culprit="report", code="out_not_dir", json_out=True)


def test_compare_data_image_is_a_fifo(bad, tmp_path, arts):
    ann, img_dir, _ = coco(tmp_path)
    (img_dir / "1.jpg").unlink()
    fifo(img_dir / "1.jpg")
    args = ("compare", "--artifacts", arts, "--data", str(ann), "--images", str(img_dir))
    bad(*args, "--out", str(tmp_path / "o"), culprit="1.jpg", timeout=10)


def test_compare_data_images_missing(bad, tmp_path, arts):
    ann, img_dir, _ = coco(tmp_path)
    (img_dir / "0.jpg").unlink()
    args = ("compare", "--artifacts", arts, "--data", str(ann), "--images", str(img_dir))
    bad(*args, "--out", str(tmp_path / "o"), culprit="0.jpg", exit_code=2)


def test_eval_data_image_declares_too_many_pixels(bad, tmp_path):
    ann, img_dir, data = coco(tmp_path)
    png_declaring(img_dir / "big.png", 50000, 50000)
    data["images"][0]["file_name"] = "big.png"
    write_json(ann, data)
    ckpt = tmp_path / "model.pth"
    ckpt.write_bytes(b"never read")
    args = ("eval", "--checkpoint", str(ckpt), "--data", str(ann), "--images", str(img_dir))
    bad(*args, culprit="big.png")


def test_eval_needs_one_source(bad):
    bad("eval", culprit="--artifacts", exit_code=2)


def test_eval_backend_with_checkpoint(bad, tmp_path):
    args = ("eval", "--checkpoint", str(tmp_path / "c.pth"), "--backend", "onnxruntime")
    bad(*args, culprit="--backend", exit_code=2)


def test_bench_artifacts_missing(bad, tmp_path):
    bad("bench", "--artifacts", str(tmp_path / "nowhere"), culprit="nowhere")


def test_max_pixels_reaches_worker_processes(tmp_path, monkeypatch):
    import subprocess
    import sys

    from vitdet_cli.runtime.images import set_max_pixels

    set_max_pixels(100)
    img = real_image(tmp_path / "a.jpg", 32)
    code = "import sys; from vitdet_cli.runtime.images import read_image; read_image(sys.argv[1])"
    proc = subprocess.run([sys.executable, "-c", code, str(img)], capture_output=True, text=True)
    assert proc.returncode != 0 and "over the limit of 100" in proc.stderr
