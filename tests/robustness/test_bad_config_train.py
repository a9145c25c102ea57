"""Bad configs, work dirs and resume checkpoints (`config show`, `train --dry-run`)."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
import torch

from vitdet_cli.data.synth import make_synthetic_dataset

TINY = str(Path(__file__).resolve().parents[2] / "configs" / "vitdet_tiny_shapes.yaml")

ALIAS_BOMB = "\n".join(
    [
        'a: &a ["x","x","x","x","x","x","x","x","x"]',
        *(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")),
        "train:\n  lr: *i",
    ]
)


def _config(tmp_path, text: str, name: str = "c.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_empty_config_is_an_error(bad, tmp_path):
    bad("config", "show", _config(tmp_path, ""), culprit="empty", exit_code=2)


def test_comment_only_config_is_an_error(bad, tmp_path):
    bad("config", "show", _config(tmp_path, "# nothing\n"), culprit="c.yaml", exit_code=2)


def test_alias_bomb_is_refused_quickly(bad, tmp_path):
    r = bad("config", "show", _config(tmp_path, ALIAS_BOMB), culprit="c.yaml", timeout=10)
    assert len(r.output) < 1000


def test_huge_value_is_shown_as_an_excerpt(bad, tmp_path):
    text = "train:\n  lr: [" + ", ".join(["123456789"] * 20000) + "]\n"
    r = bad("config", "show", _config(tmp_path, text), culprit="train.lr", exit_code=2)
    assert len(r.output) < 1000


def test_huge_string_is_shown_as_an_excerpt(bad, tmp_path):
    text = "train:\n  lr: '" + "z" * 100000 + "'\n"
    r = bad("config", "show", _config(tmp_path, text), culprit="train.lr", exit_code=2)
    assert len(r.output) < 1000


def test_unknown_key_suggests(bad, tmp_path):
    bad("config", "show", _config(tmp_path, "trian: {}\n"), culprit="did you mean", exit_code=2)


def test_invalid_yaml(bad, tmp_path):
    bad("config", "show", _config(tmp_path, "a: [\n"), culprit="invalid YAML", exit_code=2)


def test_binary_config(bad, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\xff\xfe\xfa\x00")
    bad("config", "show", str(path), culprit="not a text file", exit_code=2)


def test_config_is_a_list(bad, tmp_path):
    bad("config", "show", _config(tmp_path, "- 1\n- 2\n"), culprit="mapping", exit_code=2)


def test_config_missing(bad, tmp_path):
    bad("config", "show", str(tmp_path / "no.yaml"), culprit="no.yaml", exit_code=2)


def test_bad_override(bad):
    bad("config", "show", TINY, "--set", "train.lr", culprit="KEY=VALUE", exit_code=2)


def test_py_config_syntax_error_says_why(bad, tmp_path):
    cfg = _config(tmp_path, "model = dict(\n", "bad.py")
    bad("train", cfg, "--dry-run", culprit="SyntaxError", exit_code=2)


def test_py_config_empty_exception_says_why(bad, tmp_path):
    cfg = _config(tmp_path, "assert False\n", "bad.py")
    bad("train", cfg, "--dry-run", culprit="AssertionError", exit_code=2)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    make_synthetic_dataset(root, images=6, seed=0, image_size=64, preview=False)
    return root


def _train(shapes, work_dir, *extra):
    sets = [f"data.root={shapes}", "data.synthetic=null", "model.img_size=64"]
    args = ["train", TINY, "--dry-run", "--work-dir", str(work_dir)]
    for s in sets:
        args += ["--set", s]
    return (*args, *extra)


def test_work_dir_is_a_file(bad, tmp_path, shapes):
    (tmp_path / "wd").write_text("x")
    bad(*_train(shapes, tmp_path / "wd"), culprit="--work-dir", exit_code=2)


def test_resume_without_checkpoints(bad, tmp_path, shapes):
    bad(*_train(shapes, tmp_path / "wd", "--resume"), culprit="no loadable checkpoint")


def _training_ckpt(path: Path, it: int) -> Path:
    meta = {"epoch": 0, "iter": it}
    torch.save({"meta": meta, "state_dict": {"w": torch.ones(2)}, "message_hub": {}}, path)
    return path


def _garbage_pickle(path: Path, like: Path) -> Path:
    """A valid zip with torch's layout whose data.pkl is garbage."""
    with zipfile.ZipFile(like) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, b"\x80\x05garbage" if item.filename.endswith("data.pkl") else data)
    return path


def test_resume_garbage_checkpoint(bad, tmp_path, shapes):
    good = _training_ckpt(tmp_path / "good.pth", 2)
    ckpt = _garbage_pickle(tmp_path / "iter_4.pth", good)
    bad(*_train(shapes, tmp_path / "wd", "--resume", str(ckpt)), culprit="iter_4.pth")


def test_resume_foreign_checkpoint(bad, tmp_path, shapes):
    ckpt = tmp_path / "weights.pth"
    torch.save({"model": {"w": torch.ones(2)}}, ckpt)
    r = bad(*_train(shapes, tmp_path / "wd", "--resume", str(ckpt)), culprit="weights.pth")
    assert "not a training checkpoint" in r.output and "KeyError" not in r.output


def test_resume_malicious_checkpoint(bad, tmp_path, shapes):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    ckpt = tmp_path / "evil.pth"
    torch.save({"meta": Evil()}, ckpt)
    r = bad(*_train(shapes, tmp_path / "wd", "--resume", str(ckpt)), culprit="asks to run code")
    assert "system" in r.output and "weights_only" not in r.output


def test_load_from_malicious_checkpoint(bad, tmp_path, shapes):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    ckpt = tmp_path / "evil.pth"
    torch.save({"state_dict": Evil()}, ckpt)
    r = bad(*_train(shapes, tmp_path / "wd", "--load-from", str(ckpt)), culprit="evil.pth")
    assert "asks to run code" in r.output and "weights_only" not in r.output


def test_load_from_truncated_checkpoint(bad, tmp_path, shapes):
    good = _training_ckpt(tmp_path / "good.pth", 2)
    ckpt = tmp_path / "cut.pth"
    ckpt.write_bytes(good.read_bytes()[:200])
    bad(*_train(shapes, tmp_path / "wd", "--load-from", str(ckpt)), culprit="cut.pth")


def test_resume_falls_back_to_an_older_loadable_checkpoint(cli, tmp_path, shapes):
    wd = tmp_path / "wd"
    wd.mkdir()
    good = _training_ckpt(wd / "iter_2.pth", 2)
    _garbage_pickle(wd / "iter_4.pth", good)
    result = cli("--json", *_train(shapes, wd, "--resume"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["resume_from"].endswith("iter_2.pth")


def test_resume_missing_file(bad, tmp_path, shapes):
    args = _train(shapes, tmp_path / "wd", "--resume", str(tmp_path / "gone.pth"))
    bad(*args, culprit="gone.pth")


def test_load_from_missing(bad, tmp_path, shapes):
    args = _train(shapes, tmp_path / "wd", "--load-from", str(tmp_path / "w.pth"))
    bad(*args, culprit="w.pth", exit_code=2)


def test_devices_garbage(bad, tmp_path, shapes):
    bad(*_train(shapes, tmp_path / "wd", "--devices", "0,x"), culprit="'x'", exit_code=2)


def _damage_train_annotations(shapes: Path, damage) -> Path:
    root = shapes.parent / f"{shapes.name}_bad_{damage.__name__}"
    if not root.exists():
        import shutil

        shutil.copytree(shapes, root)
        ann = root / "annotations" / "instances_train.json"
        data = json.loads(ann.read_text())
        damage(data["annotations"])
        ann.write_text(json.dumps(data))
    return root


def _all_negative(anns):
    for a in anns:
        a["bbox"][2] = -a["bbox"][2]


def _first_negative(anns):
    anns[0]["bbox"][2] = -5


def test_training_refuses_when_every_annotation_is_bad(bad, tmp_path, shapes):
    root = _damage_train_annotations(shapes, _all_negative)
    bad(*_train(root, tmp_path / "wd"), culprit="bbox width or height not positive")


def test_training_warns_and_drops_bad_annotations(cli, tmp_path, shapes):
    root = _damage_train_annotations(shapes, _first_negative)
    result = cli(*_train(root, tmp_path / "wd"))
    assert result.exit_code == 0, result.output
    assert "dropping 1 of" in result.output and "bbox width or height" in result.output
    clean = json.loads((tmp_path / "wd" / "data" / "train_valid.json").read_text())
    assert all(a["bbox"][2] > 0 for a in clean["annotations"])
