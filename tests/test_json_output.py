"""The output contract: with ``--json`` every command writes exactly one JSON document on stdout,
whether it passes or fails — a result that fails (a check, a gate, a backend) carries its error
inside, in the shape of a top-level error. Heavy work is stubbed: these cases test the
commands' output ends, the libraries have their own tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parent / "robustness"))
from robust_helpers import coco, real_image, use_fake_model  # noqa: E402

ERROR_KEYS = {"code", "message", "hint"}


def one_document(stdout: str) -> dict:
    """The one JSON object ``stdout`` holds; fails on none, two, or anything around it."""
    text = stdout.strip()
    data, end = json.JSONDecoder().raw_decode(text)
    assert text[end:].strip() == "", f"more than one document on stdout:\n{stdout}"
    assert isinstance(data, dict)
    return data


def stub(**fields):
    """A result object whose ``to_dict`` is ``fields['data']``."""
    data = fields.pop("data")
    return SimpleNamespace(to_dict=lambda: dict(data), **fields)


class StubArtifacts:
    """``Artifacts.open``/``of`` without a folder, for the commands whose work is stubbed."""

    class_names = ["a", "b"]
    host = {}

    @classmethod
    def open(cls, path):
        return cls()

    of = open

    def require(self, *args) -> None:
        return None


def _parity(passed: bool):
    return stub(
        data={"passed": passed, "images": []},
        passed=passed,
        names=("onnxruntime", "mmdet"),
        gates=SimpleNamespace(name="fp32"),
        decided_by=[] if passed else ["boxes"],
        report_file=None,
    )


# Each case: (tmp_path, monkeypatch) → (argv after --json, expected exit status).


def config_show(tmp, mp, ok):
    path = tmp / "c.yaml"
    path.write_text("name: x\n" if ok else "trian: {}\n")
    return ["config", "show", str(path)], 0 if ok else 2


def data_check(tmp, mp, ok):
    ann, images, _ = coco(tmp)
    return ["data", "check", "--ann", str(ann if ok else tmp / "none.json"),
            "--images", str(images)], 0 if ok else 1  # fmt: skip


def data_subset(tmp, mp, ok):
    ann, _, _ = coco(tmp)
    source = ann if ok else tmp / "none.json"
    return ["data", "subset", "--ann", str(source), "--n", "1", "--out", str(tmp / "s.json")], (
        0 if ok else 1
    )


def data_synth(tmp, mp, ok):
    out = tmp / "synth"
    if not ok:
        out.write_text("a file")
    return ["data", "synth", "--out", str(out), "--images", "2", "--size", "64"], 0 if ok else 2


def env_check(tmp, mp, ok):
    from vitdet_cli.envcheck import checks

    found = [] if ok else [checks.Check("g", "thing", "fail", "no", "yes", "fix it")]
    mp.setattr(checks, "run_checks", lambda *a, **k: found)
    return ["env-check", "--device", "cpu"], 0 if ok else 1


def build_mmcv(tmp, mp, ok):
    return ["build-mmcv", "--target", "cpu" if ok else "tpu", "--dry-run"], 0 if ok else 2


def train(tmp, mp, ok):
    if not ok:
        return ["train", str(tmp / "none.yaml"), "--dry-run"], 2
    root = tmp / "shapes"
    sets = [f"data.root={root}", "data.synthetic.images=4", "data.synthetic.size=64",
            "data.num_workers=0", "train.max_iters=2", "model.img_size=64"]  # fmt: skip
    args = ["train", "configs/vitdet_tiny_shapes.yaml", "--dry-run", "--device", "cpu"]
    return args + [x for s in sets for x in ("--set", s)] + ["--work-dir", str(tmp / "w")], 0


def export(tmp, mp, ok):
    import vitdet_cli.export.api as api

    result = stub(data={"out": str(tmp / "arts"), "ok": ok, "checks": []}, ok=ok)
    mp.setattr(api, "export_artifacts", lambda *a, **k: result)
    ckpt = tmp / "c.pth"
    ckpt.write_bytes(b"x")
    return ["export", "--checkpoint", str(ckpt), "--out", str(tmp / "arts")], 0 if ok else 1


def infer(tmp, mp, ok):
    use_fake_model(mp, "vitdet_cli.runtime.infer")
    img = real_image(tmp / "a.jpg") if ok else tmp / "missing.jpg"
    args = ["infer", "--artifacts", str(tmp), "--img", str(img), "--out", str(tmp / "out")]
    return args, 0 if ok else 2


def compare(tmp, mp, ok):
    import vitdet_cli.compare.api as api

    mp.setattr(api, "compare", lambda *a, **k: _parity(ok))
    img = real_image(tmp / "a.jpg")
    return ["compare", "--artifacts", str(tmp), "--img", str(img)], 0 if ok else 1


def demo(tmp, mp, ok):
    import vitdet_cli.demo as lib

    result = stub(data={"work_dir": str(tmp / "demo"), "compare": {"passed": ok}},
                  compare=SimpleNamespace(passed=ok, report_file=None))  # fmt: skip
    mp.setattr(lib, "run_demo", lambda *a, **k: result)
    return ["demo", "--work-dir", str(tmp / "demo")], 0 if ok else 1


def atc(tmp, mp, ok):
    import vitdet_cli.artifacts as artifacts
    import vitdet_cli.atc.run as run

    if ok:
        mp.setattr(artifacts, "Artifacts", StubArtifacts)
        mp.setattr(run, "compile_artifacts", lambda *a, **k: stub(data={"results": []}))
    return ["atc", "--artifacts", str(tmp / "arts"), "--dry-run"], 0 if ok else 1


def eval_(tmp, mp, ok):
    import vitdet_cli.artifacts as artifacts
    import vitdet_cli.evaluation as evaluation

    ann, images, _ = coco(tmp)
    rows = [{"backend": "onnxruntime", "ok": True, "images": 2, "seconds": 0.1}]
    if not ok:
        rows.append({"backend": "om", "ok": False, **_error("backend_unavailable")})
    mp.setattr(artifacts, "Artifacts", StubArtifacts)
    mp.setattr(evaluation, "evaluate_backends", lambda *a, **k: rows)
    args = ["eval", "--artifacts", str(tmp), "--data", str(ann), "--images", str(images)]
    return args + ["--backend", "onnxruntime,om"], 0 if ok else 1


def bench(tmp, mp, ok):
    import vitdet_cli.artifacts as artifacts
    import vitdet_cli.bench as lib
    import vitdet_cli.runtime.host_config as host_config

    row = {"backend": "onnxruntime", "ok": ok}
    row.update({} if ok else _error("crash"))
    report = stub(data={"rows": [row]}, rows=[row])
    mp.setattr(artifacts, "Artifacts", StubArtifacts)
    mp.setattr(host_config.HostConfig, "from_dict", staticmethod(lambda d: SimpleNamespace(
        img_size=64)))  # fmt: skip
    mp.setattr(lib, "bench_images", lambda img, *a: ([img], str(img)))
    mp.setattr(lib, "bench", lambda *a, **k: report)
    img = real_image(tmp / "a.jpg")
    return ["bench", "--artifacts", str(tmp), "--img", str(img), "--backends", "onnxruntime"], (
        0 if ok else 1
    )


def tune(tmp, mp, ok):
    import vitdet_cli.artifacts as artifacts
    import vitdet_cli.tune as lib

    report = stub(
        data={"choices": {}, "trials": []},
        dry_run=True,
        candidates=[],
        sample="",
        notes=[],
        gate={},
        pipelines=[],
        tuning_file=None,
    )
    if ok:
        mp.setattr(artifacts, "Artifacts", StubArtifacts)
        mp.setattr(lib, "tune_artifacts", lambda *a, **k: report)
    return ["tune", str(tmp / "arts"), "--dry-run"], 0 if ok else 1


def verify(tmp, mp, ok):
    import vitdet_cli.artifacts as artifacts

    report = stub(data={"ok": ok, "rows": [], "problems": []}, ok=ok, rows=[], problems=[])
    mp.setattr(artifacts, "verify_folder", lambda path: report)
    return ["verify", str(tmp)], 0 if ok else 1


def _error(code: str) -> dict:
    from vitdet_cli.errors import VitdetError

    return VitdetError("it broke", hint="mend it", code=code).to_dict()


FAILED_RESULT_WITH_ERROR = {"export", "compare", "demo"}
"""A failing run still has a result: one document, the result with the error inside."""
FAILED_RESULT = {"env-check", "eval", "bench", "verify"}
"""A failing run is a result saying so (``ok: false``, failed rows), exit status 1."""

CASES = {
    "config show": config_show,
    "data check": data_check,
    "data subset": data_subset,
    "data synth": data_synth,
    "env-check": env_check,
    "build-mmcv": build_mmcv,
    "train": train,
    "export": export,
    "infer": infer,
    "compare": compare,
    "demo": demo,
    "atc": atc,
    "eval": eval_,
    "bench": bench,
    "tune": tune,
    "verify": verify,
}


def test_every_json_command_is_covered():
    from vitdet_cli.commands import COMMANDS

    covered = {name.split()[0] for name in CASES}
    assert covered == {name for name, _ in COMMANDS}


@pytest.mark.parametrize("ok", [True, False], ids=["passing", "failing"])
@pytest.mark.parametrize("name", list(CASES))
def test_one_json_document(cli, tmp_path, monkeypatch, name, ok):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # configs/ for `train`
    args, status = CASES[name](tmp_path, monkeypatch, ok)
    result = cli("--json", *args)
    data = one_document(result.stdout)
    assert result.exit_code == status, result.output
    if "error" in data:
        assert set(data["error"]) == ERROR_KEYS, data["error"]
    rows = data.get("rows", []) if name == "bench" else data.get("results", [])
    for row in rows if name in ("bench", "eval") else []:
        if not row["ok"]:
            assert set(row["error"]) == ERROR_KEYS, row  # a failed row: a top-level error
    if not ok and name in FAILED_RESULT_WITH_ERROR:
        assert set(data["error"]) == ERROR_KEYS and len(data) > 1  # the result, error inside
    elif not ok and name not in FAILED_RESULT:
        assert set(data) == {"error"}  # nothing came of it: the error alone
