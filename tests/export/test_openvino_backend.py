"""The openvino backend on the tiny exported model, against ONNX Runtime."""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pytest

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.errors import VitdetError

pytestmark = [pytest.mark.mmcv, pytest.mark.slow]

REL_TOL = 1e-4
"""Per output: max |openvino - onnxruntime| <= REL_TOL * max |onnxruntime| (measured: about
1.5e-6 at f32; bf16 gives about 1e-2)."""


@pytest.fixture
def ov():
    return pytest.importorskip("openvino")


def _backend(cache_dir):
    from vitdet_cli.runtime.backends import get_backend

    return get_backend("openvino", cache_dir=cache_dir)


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_openvino_matches_onnxruntime_per_stage_and_in_detections(ov, exported, tmp_path):
    from vitdet_cli.compare.detections import detection_parity
    from vitdet_cli.export.api import sample_image
    from vitdet_cli.runtime.backends import get_backend
    from vitdet_cli.runtime.staged import StagedModel

    art = Artifacts.open(exported[0])
    image = sample_image(None, 256)
    recorded = {}
    with StagedModel(art, get_backend("onnxruntime")) as ort_model:
        ref = ort_model(image, record=recorded)
    with StagedModel(art, _backend(tmp_path)) as ov_model:
        got = ov_model(image)
        assert {(s.device, s.precision) for s in ov_model.sessions.values()} == {("cpu", "f32")}
        assert set(recorded) == set(ov_model.sessions)
        for key, (feeds, outs) in recorded.items():  # identical inputs, stage by stage
            for name, want, have in zip(
                ov_model.sessions[key].meta.output_names, outs, ov_model.sessions[key].run(feeds)
            ):
                assert have.shape == want.shape and have.dtype == want.dtype, (key, name)
                err = float(np.abs(have - want).max())
                assert err <= REL_TOL * float(np.abs(want).max()), (key, name, err)
    assert len(ref.scores) > 0
    parity = detection_parity(got, ref)
    assert parity["passed"], parity["failures"]
    assert parity["frac_ref_matched_strict"] >= 0.99 and parity["mask_iou_mean"] > 0.99
    top = slice(0, 20)
    np.testing.assert_array_equal(got.labels[top], ref.labels[top])
    np.testing.assert_allclose(got.boxes[top], ref.boxes[top], atol=0.05)


def test_second_open_loads_from_cache_and_a_reexport_does_not(ov, exported, tmp_path, reseal):
    import onnx

    art_dir = _copy(exported[0], tmp_path / "art")
    cache = tmp_path / "cache"
    first = _backend(cache).open(Artifacts.open(art_dir), "rpn", "model")
    blobs = sorted(cache.rglob("*.blob"))
    again = _backend(cache).open(Artifacts.open(art_dir), "rpn", "model")  # a fresh Core
    assert (first.from_cache, again.from_cache) == (False, True)
    assert sorted(cache.rglob("*.blob")) == blobs and len(blobs) == 1

    # Same path, size and mtime, other weights (a re-export copied in with `cp -p` or `rsync
    # -a`): OpenVINO keys a file by path, size and mtime, ours by content: no stale blob.
    graph = art_dir / "export/rpn/model.onnx"
    stat = graph.stat()
    model = onnx.load(str(graph))
    weight = max(model.graph.initializer, key=lambda t: np.prod(t.dims))
    values = onnx.numpy_helper.to_array(weight) * 2
    weight.CopyFrom(onnx.numpy_helper.from_array(values, weight.name))
    onnx.save(model, str(graph))
    os.utime(graph, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert graph.stat().st_size == stat.st_size
    changed = reseal(art_dir)
    fresh = _backend(cache).open(changed, "rpn", "model")
    assert not fresh.from_cache
    feeds = {s.name: np.ones(s.shape, np.float32) for s in fresh.meta.inputs}
    old, new = first.run(feeds), fresh.run(feeds)
    assert any(not np.allclose(a, b) for a, b in zip(old, new))


def test_tampered_graph_is_refused_before_openvino_reads_it(ov, exported, tmp_path, monkeypatch):
    from vitdet_cli.runtime.staged import StagedModel

    art_dir = _copy(exported[0], tmp_path / "art")
    graph = art_dir / "export/backbone/model.onnx"
    graph.write_bytes(graph.read_bytes() + b"\0")
    read = []
    monkeypatch.setattr(ov.Core, "compile_model", lambda *a, **k: read.append(a))
    monkeypatch.setattr(ov.Core, "read_model", lambda *a, **k: read.append(a))
    with pytest.raises(VitdetError, match="differs from the manifest") as exc:
        StagedModel(art_dir, _backend(tmp_path / "cache"))
    assert "backbone/model.onnx" in exc.value.message and read == []


def test_swapped_graph_fails_the_meta_signature_check(ov, exported, tmp_path, reseal):
    art_dir = _copy(exported[0], tmp_path / "art")
    shutil.copy(art_dir / "export/roi/mask.onnx", art_dir / "export/roi/bbox.onnx")
    swapped = r"inputs differ from its export_meta.json \(#4: .*'rois', shape=\(100, 5\)"
    with pytest.raises(VitdetError, match=swapped) as exc:
        _backend(tmp_path / "cache").open(reseal(art_dir), "roi", "bbox")
    assert exc.value.code == "graph_mismatch"


def test_infer_cli_runs_openvino(ov, cli_json, exported, tmp_path, monkeypatch):
    import cv2

    from vitdet_cli.export.api import sample_image

    monkeypatch.setenv("VITDET_CACHE_DIR", str(tmp_path / "cache"))
    img = tmp_path / "im.png"
    cv2.imwrite(str(img), sample_image(None, 200))
    result, data = cli_json(
        "infer", "--artifacts", str(exported[0]), "--img", str(img), "--out", str(tmp_path / "o"),
        "--backend", "openvino",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert data["backend"] == "openvino" and data["detections"] > 0
    assert list((tmp_path / "cache/openvino").rglob("*.blob"))


def test_infer_cli_without_openvino_says_so(cli, exported, tmp_path, monkeypatch):
    import cv2

    from vitdet_cli.export.api import sample_image

    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino -> ImportError
    img = tmp_path / "im.png"
    cv2.imwrite(str(img), sample_image(None, 200))
    result = cli(
        "infer", "--artifacts", str(exported[0]), "--img", str(img), "--out", str(tmp_path / "o"),
        "--backend", "openvino",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "backend 'openvino' is not usable here" in result.output
    assert "pip install openvino" in result.output and "Traceback" not in result.output


def test_bench_row_reports_device_precision_and_cache(ov, exported, tmp_path):
    import cv2

    from vitdet_cli.bench.worker import measure
    from vitdet_cli.export.api import sample_image

    img = tmp_path / "im.png"
    cv2.imwrite(str(img), sample_image(None, 200))
    options = {"cache_dir": tmp_path / "cache"}
    first = measure(exported[0], "openvino", [img], 0, 1, options)
    again = measure(exported[0], "openvino", [img], 0, 1, options)
    graphs = {"backbone/model", "rpn/model", "roi/bbox", "roi/mask"}
    assert set(first["backend_info"]) == graphs and first["peak_mb"] > 0
    for row, cached in ((first, False), (again, True)):
        for info in row["backend_info"].values():
            assert info == {"device": "cpu", "precision": "f32", "from_cache": cached}
