"""Bad inputs with real artifacts (the cheap cases live in tests/robustness/)."""

from __future__ import annotations

import json

import cv2
import pytest

pytestmark = [pytest.mark.mmcv, pytest.mark.slow]


def _image(path, size=96):
    from vitdet_cli.export.api import sample_image

    cv2.imwrite(str(path), sample_image(None, size))
    return path


def test_same_stem_and_longest_name_keep_every_picture(cli_json, exported, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("same.jpg", "same.png", "n" * 250 + ".png"):
        _image(folder / name)
    out = tmp_path / "o"
    result, data = cli_json(
        "infer", "--artifacts", str(exported[0]), "--img", str(folder), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert data["images"] == 3 and len(set(data["pictures"])) == 3
    assert len(list((out / "vis").iterdir())) == 3
    files = {e["file_name"] for e in json.loads((out / "results.json").read_text())}
    assert files <= {"same.jpg", "same.png", "n" * 250 + ".png"}


def test_compare_data_with_other_classes_is_refused(cli, exported, tmp_path):
    img_dir = tmp_path / "val"
    img_dir.mkdir()
    _image(img_dir / "a.jpg")
    ann = tmp_path / "instances.json"
    ann.write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "a.jpg", "width": 96, "height": 96}],
                "annotations": [],
                "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
            }
        )
    )
    result = cli(
        "compare", "--artifacts", str(exported[0]), "--data", str(ann), "--images",
        str(img_dir), "--out", str(tmp_path / "c"),
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "2 categories" in result.output and "PASSED" not in result.output
    assert not (tmp_path / "c" / "compare.json").exists()
