"""`vitdet tune --target npu`: OM candidates per atc precision mode, through the fake atc and a
fake ais_bench (tests/atc/atc_test_helpers.py: the OM names its mode, the runner behaves as
that mode did in the source document)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "atc"))

from atc_test_helpers import (  # noqa: E402
    OnnxOmSession,
    install_fake_ais,
    read_fake_om,
    write_fake_atc,
)

from vitdet_cli.artifacts import Artifacts, verify_folder  # noqa: E402
from vitdet_cli.artifacts.layout import STAGE_GRAPHS, STAGES  # noqa: E402
from vitdet_cli.artifacts.tuning import StageChoice  # noqa: E402
from vitdet_cli.atc.argv import keep_dtype_text  # noqa: E402
from vitdet_cli.atc.run import compile_artifacts  # noqa: E402
from vitdet_cli.compare.gates import gates_for  # noqa: E402
from vitdet_cli.data.resolve import from_annotations  # noqa: E402
from vitdet_cli.errors import VitdetError  # noqa: E402
from vitdet_cli.platform import cann  # noqa: E402
from vitdet_cli.runtime.backends.tuned import TunedBackend, backend_label, open_backend  # noqa: E402
from vitdet_cli.runtime.detections import Detections  # noqa: E402
from vitdet_cli.runtime.staged import StagedModel  # noqa: E402
from vitdet_cli.tune import Gate, tune_artifacts  # noqa: E402
from vitdet_cli.tune.candidates import Candidate  # noqa: E402
from vitdet_cli.tune.npu import OM_MODES, NpuOptions  # noqa: E402
from vitdet_cli.tune.table import candidates_table  # noqa: E402

pytest.importorskip("onnxruntime")
SOC = NpuOptions(soc_version="Ascend910B3")


@pytest.fixture
def npu(tmp_path, monkeypatch):
    """The fake atc on PATH (its argv recorded), the fake ais_bench importable, no CANN env.
    The runner's fp32 slowdown is raised from the document's ~12% (and 40 ms added per run) so
    that the tiny graphs' lowered OMs are faster beyond a busy machine's timing noise."""
    for var in (*cann.SOC_ENV_VARS, *cann.HOME_ENV_VARS, "FAKE_ATC_MODE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(cann, "run_npu_smi", lambda *a, **k: None)
    monkeypatch.setattr(cann, "toolkit_home", lambda environ=None: None)
    exe = write_fake_atc(tmp_path / "bin")
    record = tmp_path / "atc_calls.jsonl"
    monkeypatch.setenv("PATH", f"{exe.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ATC_RECORD", str(record))
    slower = {"fp32_slowdown": 3.0, "fp32_extra_s": 0.04}
    session = type("Session", (OnnxOmSession,), {"loaded": [], "devices": [], **slower})
    install_fake_ais(monkeypatch, session)

    def calls() -> list[list[str]]:
        text = record.read_text() if record.is_file() else ""
        return [json.loads(line) for line in text.splitlines() if line != '["--version"]']

    return SimpleNamespace(session=session, calls=calls, atc=exe)


def _modes(calls) -> list[str]:
    return [next(a.split("=", 1)[1] for a in c if a.startswith("--precision_mode")) for c in calls]


def _image(tmp_path) -> Path:
    img = tmp_path / "img.png"
    cv2.imwrite(str(img), np.full((48, 64, 3), 128, np.uint8))
    return img


def test_fp32_compiles_only_the_exact_mode_and_runs_the_sealed_oms(folder, npu, tmp_path):
    report = tune_artifacts(folder, target="npu", npu=SOC, repeat=1)
    assert report.candidates == [Candidate("om")]
    calls = npu.calls()
    assert len(calls) == 4 and set(_modes(calls)) == {"must_keep_origin_dtype"}
    assert not any(a.startswith("--keep_dtype") for c in calls for a in c)
    assert all("--soc_version=Ascend910B3" in c for c in calls)
    assert verify_folder(folder).ok
    art = Artifacts.open(folder)
    files = set()
    for stage, choice in art.tuning.stages.items():
        assert (choice.backend, choice.precision) == ("om", "fp32")
        assert choice.atc_mode == "must_keep_origin_dtype"
        assert set(choice.files) == set(STAGE_GRAPHS[stage])
        for rel in choice.files.values():
            assert rel.startswith(f"tune/om/{stage}/") and rel in art.manifest.files
            files.add(str(folder / rel))
        assert f"tune/om/{stage}/atc_meta.json" in art.manifest.files
    assert art.tuning.machine["soc_version"] == "Ascend910B3"

    npu.session.loaded.clear()
    backend = open_backend(art)  # auto → the tuning → the sealed OMs through ais_bench
    assert isinstance(backend, TunedBackend)
    with StagedModel(art, backend) as model:
        assert isinstance(model(cv2.imread(str(_image(tmp_path)))), Detections)
    assert {path for path, _ in npu.session.loaded} == files
    assert {mode for _, mode in npu.session.loaded} == {"must_keep_origin_dtype"}

    Path(next(iter(files))).write_bytes(b"FAKE-OM tampered")
    assert not verify_folder(folder).ok
    with pytest.raises(VitdetError) as err:
        Artifacts.open(folder)
    assert err.value.code == "artifacts_tampered"


@pytest.mark.parametrize("collapse", [False, True])
def test_auto_compiles_every_mode_and_the_gate_rejects_a_collapsed_backbone(
    folder, synth_val, npu, collapse
):
    """The source document's collapse (ViT+FPN under allow_mix_precision on a 910B3) made on
    demand: the same gate that admits the lowered backbone rejects it once it collapses, while
    the fp16-rounded heads pass (random weights: the gate's verdict is bookkeeping only)."""
    if collapse:
        npu.session.collapse = frozenset({"backbone"})
    ann, images = synth_val
    data = from_annotations(ann, images, 2)
    gate = Gate(min_frac_matched=0.9, map_max_points=0.5)  # compare's fp16 thresholds
    report = tune_artifacts(folder, "auto", data=data, repeat=2, gate=gate, target="npu", npu=SOC)
    calls = npu.calls()
    assert len(calls) == 3 * 4  # every graph once per mode
    for call, mode in zip(calls, _modes(calls)):
        keep = [a for a in call if a.startswith("--keep_dtype=")]
        assert bool(keep) == (mode == "allow_mix_precision")
    for oms in report.om.sets.values():  # what atc read: the fake OM's header
        assert oms.keep == (keep_dtype_text() if oms.precision == "mixed" else "")
    assert sorted(set(_modes(calls))) == sorted(m for m, _ in OM_MODES.values())

    backbone = report.choices["backbone"].candidate
    runs = report.gate["runs"]
    rejected = [t for t in report.trials if t.stage == "backbone" and not t.candidate.exact]
    if collapse:
        assert backbone == Candidate("om") and len(rejected) == 2
        assert all(t.status == "rejected" and t.why.startswith("gate: ") for t in rejected)
        assert all(not r["passed"] for r in runs if r["stage"] == "backbone")
    else:
        assert backbone.precision in ("mixed", "fp16")
    heads = {s: report.choices[s].candidate.precision for s in ("rpn", "roi")}
    assert set(heads.values()) <= {"mixed", "fp16"}  # fp16-rounded heads pass this gate
    assert {r["stage"] for r in runs if not r["passed"]} == ({"backbone"} if collapse else set())
    for stage in STAGES:  # one lowered mode per stage at most reaches the gate once admitted
        ran = [r for r in runs if r["stage"] == stage and r["passed"]]
        assert len(ran) <= 1

    art = Artifacts.open(folder)
    tuning = art.current_tuning()
    for stage, trial in report.choices.items():
        choice = tuning.stages[stage]
        assert choice.precision == trial.candidate.precision
        assert choice.atc_mode == OM_MODES[choice.precision][0]
        header = read_fake_om(folder / next(iter(choice.files.values())))[0]
        assert header["precision_mode"] == choice.atc_mode
        assert header["keep_dtype"] == (keep_dtype_text() if choice.precision == "mixed" else None)
    gates = gates_for(art, backend_label(open_backend(art)))  # compare picks the fp16 set
    assert gates.name == "fp16"
    assert all(f"{s}: om {p}" in gates.reason for s, p in heads.items())


def test_atc_folders_compiled_the_same_way_are_reused(folder, npu):
    compile_artifacts(folder, soc_version="Ascend910B3")  # must_keep_origin_dtype
    before = len(npu.calls())
    tune_artifacts(folder, target="npu", npu=SOC, repeat=1)
    assert len(npu.calls()) == before  # nothing recompiled
    art = Artifacts.open(folder)
    for stage, choice in art.tuning.stages.items():
        assert all(rel.startswith(f"atc/{stage}/") for rel in choice.files.values())
    assert not (folder / "tune" / "om").exists()
    assert isinstance(open_backend(art), TunedBackend)

    compile_artifacts(folder, soc_version="Ascend910B3", precision_mode="force_fp16")
    with pytest.raises(VitdetError) as err:
        open_backend(Artifacts.open(folder))
    assert err.value.code == "tuning_stale" and "force_fp16" in err.value.message


def test_cli_npu_dry_run_tune_and_infer(cli, cli_json, folder, npu, tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # where the gate's built-in dataset would be generated
    _, dry = cli_json("tune", str(folder), "--target", "npu", "--precision", "auto",
                      "--soc-version", "Ascend910B3", "--dry-run")  # fmt: skip
    assert dry["target"] == "npu" and dry["candidates"] == ["om fp32", "om mixed", "om fp16"]
    assert len(dry["om_sets"]) == 9 and not npu.calls() and not (folder / "tune").exists()
    assert list(cwd.iterdir()) == []  # --dry-run writes nothing, no gate dataset either
    mixed = [o for o in dry["om_sets"] if o["atc_mode"] == "allow_mix_precision"]
    assert all("--keep_dtype=" in c for o in mixed for c in o["commands"])
    table = cli("tune", str(folder), "--target", "npu", "--soc-version", "Ascend910B3",
                "--dry-run")  # fmt: skip
    assert table.exit_code == 0 and "--precision_mode=must_keep_origin_dtype" in table.output

    _, data = cli_json("tune", str(folder), "--target", "npu", "--soc-version", "Ascend910B3",
                       "--repeat", "1")  # fmt: skip
    assert {c["atc_mode"] for c in data["choices"].values()} == {"must_keep_origin_dtype"}
    npu.session.loaded.clear()
    infer = ("infer", "--artifacts", str(folder), "--img", str(_image(tmp_path)), "--out")
    _, out = cli_json(*infer, str(tmp_path / "o"))
    assert out["backend"].startswith("tuned (backbone: om fp32")
    assert {Path(p).parent.parent.name for p, _ in npu.session.loaded} == {"om"}
    npu.session.devices.clear()
    cli_json(*infer, str(tmp_path / "d"), "--device-id", "3")  # reaches the tuned om stages
    assert set(npu.session.devices) == {3}


def test_npu_without_runner_or_atc_is_refused_before_writing(cli, folder, tmp_path, monkeypatch):
    monkeypatch.setattr(cann, "run_npu_smi", lambda *a, **k: None)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no atc
    before = (folder / "manifest.json").read_bytes()
    args = ("--json", "tune", str(folder), "--target", "npu", "--soc-version", "Ascend910B3")
    result = cli(*args)
    assert result.exit_code != 0 and json.loads(result.stdout)["error"]["code"] == (
        "om_runner_missing"
    )
    install_fake_ais(monkeypatch, OnnxOmSession)
    result = cli(*args)
    error = json.loads(result.stdout)["error"]
    assert result.exit_code != 0 and error["code"] == "atc_missing" and "atc" in error["message"]
    assert not (folder / "tune").exists()
    assert (folder / "manifest.json").read_bytes() == before
    bad = cli("--json", "tune", str(folder), "--target", "gpu")
    assert bad.exit_code == 2 and json.loads(bad.stdout)["error"]["code"] == "bad_target"


def _choice(**kw) -> dict:
    base = {"backend": "om", "precision": "mixed", "graphs": {"model": "a" * 64}}
    return {**base, "atc_mode": "allow_mix_precision", "files": {"model": "tune/om/rpn/m.om"}, **kw}


def test_om_choices_in_tuning_json_are_checked() -> None:
    choice = StageChoice.from_dict(_choice())
    assert choice.label == "om mixed (allow_mix_precision)" and not choice.exact
    atc = StageChoice.from_dict(_choice(files={"model": "atc/rpn/model.om"}))
    assert atc.files["model"].startswith("atc/")
    bad = [
        _choice(atc_mode=""),  # which mode compiled it
        _choice(files={}),  # an om stage runs files
        _choice(files={"model": "export/rpn/model.onnx"}),  # only tune/ or atc/
        _choice(files={"model": "../x.om"}),
        _choice(precision="fp32"),  # fp32 is must_keep_origin_dtype's label only
        _choice(atc_mode="must_keep_origin_dtype"),
    ]
    for data in bad:
        with pytest.raises((ValueError, VitdetError)):
            StageChoice.from_dict(data)
    old = {"backend": "onnxruntime", "precision": "fp32", "graphs": {"model": "a" * 64}}
    assert StageChoice.from_dict(old).atc_mode == ""  # a schema 1 choice still reads


def test_the_candidate_table_is_readable_at_80_columns() -> None:
    from rich.console import Console

    why = "gate: 0.0% of 300 detections matched at IoU ≥ 0.9 (need 90%); bbox mAP -12.00 points"
    trials = [
        {"stage": "backbone", "backend": b, "precision": p, "median_ms": ms, "max_abs": 1e-3,
         "max_rel": 2e-2, "status": st, "why": w}
        for b, p, ms, st, w in (
            ("om", "fp32", 30.0, "chosen", ""),
            ("om", "mixed", 9.0, "rejected", why),
            ("onnxruntime", "int8", 12.0, "failed", "quantization failed: " + "x" * 90),
        )
    ]  # fmt: skip
    console = Console(width=80, record=True, force_terminal=False)
    console.print(candidates_table({"reference": "onnxruntime fp32", "trials": trials}, 80))
    lines = console.export_text().splitlines()
    assert all(len(line) <= 80 for line in lines)
    row = next(i for i, line in enumerate(lines) if "om mixed" in line)
    assert lines[row].split()[:1] == ["om"] and lines[row].rstrip().endswith("rejected")
    assert lines[row + 1].strip().startswith("gate: 0.0% of 300") and "-12.00" in lines[row + 2]
    assert lines[row - 1].split()[:3] == ["backbone", "om", "fp32"]
    assert lines[-1].strip().startswith("x") and "int8" in lines[-3]
