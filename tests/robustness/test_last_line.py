"""The CLI boundary (any exception → one error in the usual shape), env-check's visible-device
variables, and the write paths a kill or a full disk can hit."""

from __future__ import annotations

import errno
import json

import pytest
import torch

from vitdet_cli.errors import VitdetError


@pytest.fixture
def exploding(monkeypatch):
    """Make `config show` raise ``exc`` from deep inside."""
    import vitdet_cli.config as config

    def use(exc: BaseException) -> None:
        def boom(*args, **kwargs):
            raise exc

        monkeypatch.setattr(config, "load_config", boom)

    return use


def test_unexpected_exception_is_one_error(bad, tmp_path, exploding):
    exploding(TypeError("unsupported operand type(s) for +: 'int' and 'str'"))
    bad("config", "show", "x.yaml", culprit="TypeError", exit_code=1)


def test_unexpected_exception_with_json_is_an_error_object(bad, exploding):
    exploding(KeyError("epoch"))
    r = bad("config", "show", "x.yaml", culprit="KeyError", json_out=True, code="internal_error")
    assert set(json.loads(r.stdout)["error"]) == {"code", "message", "hint"}


def test_verbose_adds_the_traceback(cli, exploding):
    exploding(ValueError("deep"))
    result = cli("--verbose", "config", "show", "x.yaml")
    assert result.exit_code == 1 and "Traceback" in result.output and "deep" in result.output


def test_disk_full_names_the_path(bad, exploding):
    exploding(OSError(errno.ENOSPC, "No space left on device", "/data/out/results.json"))
    bad(
        "config",
        "show",
        "x.yaml",
        culprit="/data/out/results.json",
        code="io_enospc",
        json_out=True,
    )


def test_name_too_long_names_the_path(bad, exploding):
    exploding(OSError(errno.ENAMETOOLONG, "File name too long", "/x/" + "a" * 300))
    bad("config", "show", "x.yaml", culprit="file name too long", exit_code=1)


def test_refused_pickle_deep_inside_never_advises_weights_only(bad, tmp_path, exploding):
    import fractions

    path = tmp_path / "x.pth"
    torch.save({"f": fractions.Fraction(1, 3)}, path)
    try:
        torch.load(path, weights_only=True)
    except Exception as exc:  # torch's own refusal, raised again from inside a command
        exploding(exc)
    r = bad("config", "show", "x.yaml", culprit="fractions.Fraction", exit_code=1)
    assert "asks to run code" in r.output and "weights_only" not in r.output


def test_env_check_flags_garbage_visible_devices(cli, monkeypatch):
    monkeypatch.setenv("ASCEND_RT_VISIBLE_DEVICES", "zero;one")
    result = cli("--json", "env-check", "--device", "cpu")
    checks = json.loads(result.stdout)["checks"]
    (vis,) = [c for c in checks if c["name"] == "visible devices"]
    assert vis["status"] == "warn" and "ASCEND_RT_VISIBLE_DEVICES" in vis["hint"]


def test_env_check_bad_device(bad):
    bad("env-check", "--device", "tpu", culprit="tpu", exit_code=2)


def test_build_mmcv_bad_target(bad):
    bad("build-mmcv", "--target", "tpu", "--dry-run", culprit="tpu")


def test_export_out_is_a_file(bad, tmp_path):
    (tmp_path / "arts").write_text("x")
    ckpt = tmp_path / "c.pth"
    ckpt.write_bytes(b"x")
    args = ("export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "arts"))
    bad(*args, culprit="arts", exit_code=2)


def test_atc_artifacts_missing(bad, tmp_path):
    bad("atc", "--artifacts", str(tmp_path / "none"), "--dry-run", culprit="none")


def test_disk_full_during_an_atomic_write_leaves_nothing(tmp_path, monkeypatch):
    from vitdet_cli import atomic

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(VitdetError) as err:
        atomic.write_json_atomic(tmp_path / "results.json", {"a": 1})
    assert "no space left" in err.value.message and "results.json" in err.value.message
    assert list(tmp_path.iterdir()) == []


def test_torch_save_failure_names_the_checkpoint(tmp_path, monkeypatch):
    from vitdet_cli.model import shims

    def fail(obj, fh):
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0")

    monkeypatch.setattr(torch, "save", fail)
    with pytest.raises(VitdetError) as err:
        shims.atomic_torch_save({"x": 1}, tmp_path / "iter_8.pth")
    assert "iter_8.pth" in err.value.message
    assert list(tmp_path.iterdir()) == []


def test_killed_save_temps_are_removed_at_the_next_start(tmp_path):
    from vitdet_cli.training.checkpoints import remove_save_temps

    (tmp_path / ".iter_8.pth.ab12cd34.tmp").write_bytes(b"x" * 100)
    (tmp_path / "iter_4.pth").write_bytes(b"keep")
    (tmp_path / ".notes.tmp").write_bytes(b"not ours")
    removed = remove_save_temps(tmp_path)
    assert [p.name for p in removed] == [".iter_8.pth.ab12cd34.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".notes.tmp", "iter_4.pth"]


def test_metrics_after_resume_have_no_repeated_iterations(tmp_path):
    from vitdet_cli.training.hooks import keep_rows_up_to

    metrics = tmp_path / "metrics.jsonl"
    rows = [{"mode": "train", "iter": i} for i in (10, 20, 30)] + [{"mode": "val", "iter": 20}]
    metrics.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"mode": "tra')
    keep_rows_up_to(metrics, 20)
    kept = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [(r["mode"], r["iter"]) for r in kept] == [("train", 10), ("train", 20), ("val", 20)]


def test_longest_legal_name_writes_atomically(tmp_path):
    from vitdet_cli.atomic import write_bytes_atomic

    target = tmp_path / ("r" * 250 + ".json")
    write_bytes_atomic(target, b"{}")
    assert target.read_bytes() == b"{}" and len(list(tmp_path.iterdir())) == 1


def test_demo_work_dir_is_a_file(bad, tmp_path):
    (tmp_path / "demo").write_text("x")
    bad("demo", "--work-dir", str(tmp_path / "demo"), culprit="--work-dir", exit_code=2)


def test_usage_error_with_json_is_an_error_object(bad, tmp_path):
    args = ("infer", "--img", str(tmp_path / "a.jpg"), "--score-thr", "high")
    r = bad(*args, culprit="--score-thr", json_out=True, code="usage", exit_code=2)
    assert r.stdout.lstrip().startswith("{")
