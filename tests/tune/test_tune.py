"""`vitdet tune`: candidates timed and checked per stage, the choice sealed and used by default."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from vitdet_cli.artifacts import Artifacts, verify_folder
from vitdet_cli.artifacts.layout import STAGE_GRAPHS, STAGES, TUNING
from vitdet_cli.artifacts.manifest import read_manifest, write_manifest
from vitdet_cli.compare.tensors import tensor_parity
from vitdet_cli.data.resolve import from_annotations
from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.backends.tuned import TunedBackend, backend_label, open_backend
from vitdet_cli.runtime.detections import Detections
from vitdet_cli.runtime.staged import StagedModel
from vitdet_cli.tune import Gate, tune_artifacts
from vitdet_cli.tune.api import choose_exact
from vitdet_cli.tune.candidates import Candidate, available_runtimes
from vitdet_cli.tune.gate import PipelineRun, judge
from vitdet_cli.tune.measure import Trial, measure_stage

pytest.importorskip("onnxruntime")
BOTH = not any(available_runtimes().values())
needs_both = pytest.mark.skipif(not BOTH, reason="needs onnxruntime and openvino")


def test_fp32_tuning_is_sealed_verified_and_used_by_default(folder) -> None:
    report = tune_artifacts(folder, warmup=1, repeat=2)
    assert set(report.choices) == set(STAGES)
    assert all(t.candidate.exact for t in report.choices.values())
    assert (folder / TUNING).is_file() and report.tuning_file == folder / TUNING
    assert verify_folder(folder).ok
    art = Artifacts.open(folder)
    assert {s: c.backend for s, c in art.tuning.stages.items()} == {
        s: t.candidate.backend for s, t in report.choices.items()
    }
    for stage, choice in art.tuning.stages.items():
        for graph, sha in choice.graphs.items():
            assert sha == art.graph(stage, graph).sha256
    backend = open_backend(art)  # auto → the tuning
    assert isinstance(backend, TunedBackend)
    assert backend_label(backend).startswith("tuned (backbone: ")
    assert open_backend(art, "onnxruntime").name == "onnxruntime"  # --backend forces one


def test_every_candidate_is_timed_and_diffed(folder) -> None:
    report = tune_artifacts(folder, warmup=1, repeat=3)
    data = report.to_dict()
    assert len(data["trials"]) == len(STAGES) * len(report.candidates)
    for trial in data["trials"]:
        assert len(trial["times_ms"]) == 3 and trial["median_ms"] > 0
        assert trial["tensors"] and trial["max_abs"] < 1e-3  # fp32 runtimes agree
        assert trial["status"] in ("chosen", "accepted")
        if (trial["backend"], trial["precision"]) == ("onnxruntime", "fp32"):
            assert trial["max_abs"] == 0.0  # the reference itself
    assert sum(t["status"] == "chosen" for t in data["trials"]) == len(STAGES)


def _roi_recorded() -> dict:
    """Feeds and reference outputs of the constant folder's roi graphs (mask off by 0.25)."""
    feeds = {
        ("roi", "bbox"): {"p2": np.zeros((1, 4, 2, 2), np.float32), "rois": np.zeros((4, 5))},
        ("roi", "mask"): {"p2": np.zeros((1, 4, 2, 2), np.float32), "rois": np.zeros((2, 5))},
    }
    ref = {
        ("roi", "bbox"): [np.full((4, 3), 0.5, np.float32), np.full((4, 8), 0.5, np.float32)],
        ("roi", "mask"): [np.full((2, 2, 4, 4), 0.75, np.float32)],
    }
    return {k: (feeds[k], ref[k]) for k in feeds}


def test_candidates_of_a_stage_are_timed_in_interleaved_rounds(constant_folder, monkeypatch):
    from vitdet_cli.tune import measure

    calls = []

    def spy(runners, rounds, warmup):
        calls.append((list(runners), rounds, warmup))
        return real(runners, rounds, warmup)

    real = measure.interleaved
    monkeypatch.setattr(measure, "interleaved", spy)
    art = Artifacts.open(constant_folder)
    bad = Candidate("onnxruntime", "bf16")  # no such candidate: fails to open
    good = [Candidate(name) for name, why in available_runtimes().items() if not why]
    trials = measure.measure_candidates(art, "roi", [bad, *good], _roi_recorded(), 3, 4)
    assert calls == [(good, 4, 2)]  # one call for all, the failed candidate left out
    assert [t.candidate for t in trials] == [bad, *good]
    assert trials[0].status == "failed" and trials[0].times_ms == [] and trials[0].error
    assert all(len(t.times_ms) == 4 and not t.error for t in trials[1:])


def test_measure_stage_times_all_graphs_of_the_stage(constant_folder) -> None:
    art = Artifacts.open(constant_folder)
    recorded = _roi_recorded()
    trial = measure_stage(art, "roi", Candidate("onnxruntime"), recorded, repeat=2)
    assert not trial.error and len(trial.times_ms) == 2
    assert [g for g, _ in trial.parity] == ["bbox", "bbox", "mask"]
    assert [p.within_tol for _, p in trial.parity] == [True, True, False]
    assert trial.max_abs == pytest.approx(0.25) and not trial.tensors_ok


def test_dry_run_writes_nothing(constant_folder) -> None:
    before = read_manifest(constant_folder).files
    report = tune_artifacts(constant_folder, dry_run=True)
    assert report.trials == [] and report.tuning_file is None
    assert not (constant_folder / "tune").exists()
    assert read_manifest(constant_folder).files == before


def test_tampered_or_unsealed_tuning_is_refused(folder) -> None:
    tune_artifacts(folder, repeat=1)
    path = folder / TUNING
    data = json.loads(path.read_text())
    data["stages"]["backbone"]["backend"] = "torch"
    path.write_text(json.dumps(data))
    assert not verify_folder(folder).ok
    with pytest.raises(VitdetError) as err:
        Artifacts.open(folder)
    assert err.value.code == "artifacts_tampered"

    tune_artifacts(Artifacts.open(folder, verify=False), repeat=1)  # rewrites and reseals
    assert verify_folder(folder).ok
    (folder / "tune" / "extra.onnx").write_bytes(b"x")
    with pytest.raises(VitdetError) as err:
        Artifacts.open(folder)
    assert err.value.code == "artifacts_tampered" and "extra.onnx" in err.value.message


def test_bad_values_and_stale_tuning_are_refused(folder) -> None:
    tune_artifacts(folder, repeat=1)
    manifest = read_manifest(folder)

    def reseal():
        write_manifest(folder, manifest.checkpoint, manifest.versions, None, ["export", "tune"])

    path = folder / TUNING
    good = json.loads(path.read_text())
    bad = json.loads(path.read_text())
    bad["stages"]["rpn"]["precision"] = "fp4"
    path.write_text(json.dumps(bad))
    reseal()
    with pytest.raises(VitdetError) as err:
        Artifacts.open(folder)
    assert err.value.code == "tuning_invalid" and "fp4" in err.value.message

    good["stages"]["roi"]["graphs"]["mask"] = "0" * 64  # measured on another graph
    path.write_text(json.dumps(good))
    reseal()
    art = Artifacts.open(folder)
    for name in ("auto", "tuned"):
        with pytest.raises(VitdetError) as err:
            open_backend(art, name)
        assert err.value.code == "tuning_stale" and "roi/mask" in err.value.message
    assert open_backend(art, "onnxruntime").name == "onnxruntime"


def test_without_tuning_auto_is_onnxruntime_and_tuned_is_refused(constant_folder) -> None:
    art = Artifacts.open(constant_folder)
    assert art.tuning is None
    assert open_backend(art).name == "onnxruntime"
    with pytest.raises(VitdetError) as err:
        open_backend(art, "tuned")
    assert err.value.code == "tuning_missing" and "vitdet tune" in err.value.hint


def test_a_candidate_that_cannot_run_is_a_failed_row(constant_folder) -> None:
    art = Artifacts.open(constant_folder)
    trial = measure_stage(art, "rpn", Candidate("onnxruntime", "bf16"), {}, repeat=1)
    assert trial.status == "failed" and "onnxruntime" in trial.error


def _trial(stage, backend, ms, err) -> Trial:
    ref = np.ones(4, np.float32)
    trial = Trial(stage, Candidate(backend), [ms])
    trial.parity = [("model", tensor_parity(ref + err, ref, "y", 1e-3, 0.0))]
    return trial


def test_the_fastest_candidate_loses_when_its_outputs_differ() -> None:
    fast_wrong, slow_right = _trial("rpn", "openvino", 1.0, 0.5), _trial("rpn", "x", 9.0, 0.0)
    assert choose_exact([fast_wrong, slow_right]) is slow_right
    assert fast_wrong.status == "rejected" and "tolerance" in fast_wrong.why
    with pytest.raises(VitdetError) as err:
        choose_exact([_trial("rpn", "openvino", 1.0, 0.5)])
    assert err.value.code == "tune_failed"


def _dets(shift: float, n: int = 10) -> Detections:
    boxes = np.array([[10.0 * i, 0, 10.0 * i + 8, 8] for i in range(n)], np.float32)
    return Detections(boxes + [shift, 0, shift, 0], np.full(n, 0.9), np.zeros(n))


def _run(shift: float, bbox: float) -> PipelineRun:
    coco = {"bbox": {"mAP": bbox}, "segm": {"mAP": 0.4}}
    return PipelineRun({"backbone": ("openvino", "bf16")}, [_dets(shift)], coco)


def test_gate_verdicts() -> None:
    exact, gate = _run(0.0, 0.5), Gate()
    assert judge(_run(0.0, 0.5), exact, gate)["passed"]
    assert judge(_run(0.0, 0.5025), exact, gate)["passed"]  # +0.25 points
    moved = judge(_run(1.0, 0.5), exact, gate)  # 8 px boxes moved 1 px: IoU 0.78
    assert not moved["passed"] and moved["matched_frac"] == 0.0
    assert "matched at IoU" in moved["failures"][0]
    worse = judge(_run(0.0, 0.496), exact, gate)  # -0.4 points
    assert not worse["passed"] and "bbox mAP -0.40" in worse["failures"][0]


def test_bad_precision_is_a_usage_error(constant_folder) -> None:
    with pytest.raises(VitdetError) as err:
        tune_artifacts(constant_folder, precision="int4")
    assert err.value.code == "bad_precision" and err.value.exit_code == 2


def test_cli_tune_then_infer_runs_the_tuned_pipeline(cli, cli_json, folder, tmp_path) -> None:
    _, dry = cli_json("tune", str(folder), "--dry-run")
    assert dry["dry_run"] and dry["trials"] == [] and not (folder / "tune").exists()
    _, data = cli_json("tune", str(folder), "--repeat", "1")
    assert set(data["choices"]) == set(STAGES) and data["tuning_file"]
    table = cli("tune", str(folder), "--repeat", "1")
    assert table.exit_code == 0 and "every candidate" in table.output
    assert "chosen: backbone: " in table.output
    img = tmp_path / "img.png"
    cv2.imwrite(str(img), np.full((16, 16, 3), 128, np.uint8))
    infer = ("infer", "--artifacts", str(folder), "--img", str(img), "--out")
    assert cli_json(*infer, str(tmp_path / "o"))[1]["backend"].startswith("tuned (")
    _, forced = cli_json(*infer, str(tmp_path / "p"), "--backend", "onnxruntime")
    assert forced["backend"] == "onnxruntime"


@needs_both
def test_auto_precision_gate_on_a_real_export(exported, synth_val, tmp_path) -> None:
    """The gate runs the whole pipeline on data; with random weights its verdict means nothing
    for accuracy, so only its bookkeeping is checked."""
    root = Path(shutil.copytree(exported[0], tmp_path / "auto"))  # the session's export stays
    ann, images = synth_val
    report = tune_artifacts(root, "auto", data=from_annotations(ann, images, 3), repeat=1)
    lowered = [t for t in report.trials if not t.candidate.exact]
    for trial in lowered:
        assert trial.status in ("chosen", "rejected", "failed") and (trial.why or trial.error)
    if report.gate.get("judged"):
        assert report.gate["images"] == 3 and report.gate["gate"]["iou"] == 0.9
    tuning = Artifacts.open(root).current_tuning()
    assert tuning.mode == "auto"
    chosen_low = {t.stage for t in lowered if t.status == "chosen"}
    assert {s for s, c in tuning.stages.items() if not c.exact} == chosen_low


def test_chosen_int8_graphs_are_sealed_and_run(folder, synth_val, monkeypatch) -> None:
    """int8 forced through: its trials reported fastest, the gate made permissive (the gate's
    own verdicts are tested above); the quantized graphs must then be sealed and used."""
    from vitdet_cli.tune import api

    real = api.measure_candidates

    def fast_int8(*args, **kw):
        trials = real(*args, **kw)
        for trial in trials:
            if trial.candidate.precision == "int8" and not trial.error:
                trial.times_ms = [1e-3]
        return trials

    monkeypatch.setattr(api, "measure_candidates", fast_int8)
    monkeypatch.setattr(
        api,
        "candidates",
        lambda _p: ([Candidate("onnxruntime"), Candidate("onnxruntime", "int8")], []),
    )
    ann, images = synth_val
    anything = Gate(iou=0.0, min_frac_matched=0.0, map_max_points=100.0)
    data = from_annotations(ann, images, 2)
    report = tune_artifacts(folder, "auto", data=data, repeat=1, gate=anything)
    int8 = {s for s, t in report.choices.items() if t.candidate.precision == "int8"}
    assert int8, report.to_dict()["trials"]
    assert verify_folder(folder).ok
    art = Artifacts.open(folder)
    for stage in int8:
        choice = art.tuning.stages[stage]
        assert choice.files and all(rel.startswith("tune/") for rel in choice.files.values())
        assert all(rel in art.manifest.files for rel in choice.files.values())
    with StagedModel(art, open_backend(art)) as model:
        infos = model.backend_info()
        res = model(cv2.imread(str(next(images.iterdir()))))
    assert {k.split("/")[0] for k, v in infos.items() if v["tuned_precision"] == "int8"} == int8
    assert isinstance(res, Detections)
    rel = next(iter(art.tuning.stages[next(iter(int8))].files.values()))
    (folder / rel).write_bytes(b"not a graph")
    with pytest.raises(VitdetError) as err:
        Artifacts.open(folder)
    assert err.value.code == "artifacts_tampered"


def _mixed_report():
    """Per-stage trials where OpenVINO wins the backbone alone: the choices mix runtimes."""
    from vitdet_cli.tune import api

    trials = [
        _trial(s, b, ms, 0.0) for s in STAGES for b, ms in (("onnxruntime", 5), ("openvino", 9))
    ]
    trials[1].times_ms = [1.0]  # openvino fastest on the backbone alone
    cands = [Candidate("onnxruntime"), Candidate("openvino")]
    report = api.TuneReport(Path("x"), "fp32", cands, [], "", 1, 1, trials=trials)
    for stage in STAGES:
        report.choices[stage] = choose_exact([t for t in trials if t.stage == stage])
    assert report.choices["backbone"].candidate.backend == "openvino"
    return report


@pytest.mark.parametrize(
    "alone_ms, replaced",
    [(20.0, True), (29.0, False)],  # a third faster alone: replaced; 3% faster: noise
    ids=["clearly-faster-alone", "within-the-margin"],
)
def test_a_single_runtime_replaces_the_mix_only_when_clearly_faster(
    monkeypatch, alone_ms, replaced
) -> None:
    from vitdet_cli.tune import api

    report = _mixed_report()
    whole = {"tuned": 30.0, "onnxruntime": alone_ms, "openvino": 40.0}
    seen = {}

    def time_pipelines(_art, configs, _image, _warmup, rounds, *_):
        seen.update(configs)
        return {name: [whole[name]] * rounds for name in configs}

    monkeypatch.setattr(api, "time_pipelines", time_pipelines)
    assert 1 - 29.0 / 30.0 < api.CONFIRM_MARGIN < 1 - 20.0 / 30.0
    api.confirm_pipeline(None, report, None, 1, 3, 0, lambda _m: None)
    assert list(seen) == ["tuned", "onnxruntime", "openvino"]  # all timed in one call
    assert seen["tuned"]["backbone"] == ("openvino", "fp32")
    assert [p["pipeline"] for p in report.pipelines] == ["tuned", "onnxruntime", "openvino"]
    assert report.pipelines[1]["runs_ms"] == [alone_ms] * 3
    backbone = report.trials[1]  # openvino on the backbone
    if replaced:
        assert {t.candidate.backend for t in report.choices.values()} == {"onnxruntime"}
        assert backbone.status == "accepted" and "whole pipeline" in backbone.why
    else:
        assert report.choices["backbone"] is backbone and backbone.status == "chosen"


@needs_both
def test_pipelines_share_one_session_per_stage_graph_and_runtime(folder) -> None:
    from vitdet_cli.tune.api import sample_for
    from vitdet_cli.tune.pipelines import SessionPool, time_pipelines

    art = Artifacts.open(folder)
    alone = {r: {s: (r, "fp32") for s in STAGES} for r in ("onnxruntime", "openvino")}
    mix = {**alone["onnxruntime"], "backbone": ("openvino", "fp32")}
    image = sample_for(art, None)[0]
    with SessionPool(art) as pool:
        models = {"tuned": pool.model(mix), **{r: pool.model(c) for r, c in alone.items()}}
        graphs = [(s, g) for s in STAGES for g in STAGE_GRAPHS[s]]
        assert len(pool._sessions) == 2 * len(graphs)  # not one copy per configuration
        for stage, graph in graphs:
            runtime = mix[stage][0]
            lent = models["tuned"].sessions[stage, graph]
            assert lent.inner is models[runtime].sessions[stage, graph].inner
        want = models["onnxruntime"](image)
        models["onnxruntime"].close()  # a configuration closing leaves the shared sessions open
        got = models["tuned"](image)
        np.testing.assert_allclose(got.boxes, want.boxes, atol=1e-2)
    runs = time_pipelines(art, {"tuned": mix, **alone}, image, warmup=1, rounds=2)
    assert {n: len(t) for n, t in runs.items()} == {"tuned": 2, "onnxruntime": 2, "openvino": 2}


def test_the_tuner_loads_no_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, vitdet_cli.tune.api, vitdet_cli.commands.tune;"
        "import vitdet_cli.runtime.backends.tuned;"
        "print(sorted(m for m in ('torch', 'mmdet', 'mmcv', 'onnx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_re_export_drops_the_tuning(folder, tiny_checkpoint) -> None:
    """The choice was measured on graphs the export replaces: it must not survive them."""
    from eval_test_helpers import export_helpers

    from vitdet_cli.export.api import export_artifacts

    tune_artifacts(folder, repeat=1)
    assert Artifacts.open(folder).tuning is not None
    export_artifacts(tiny_checkpoint, export_helpers().TINY_CONFIG, folder, stages="rpn")
    assert not (folder / "tune").exists() and verify_folder(folder).ok
    assert Artifacts.open(folder).tuning is None
