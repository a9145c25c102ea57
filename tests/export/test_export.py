"""`vitdet export` on a random vit-tiny: graphs, metas, checks, and the bad-input errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.layout import STAGE_GRAPHS
from vitdet_cli.artifacts.meta import SCHEMA_VERSION
from vitdet_cli.artifacts.model_config import read_model_config
from vitdet_cli.config.presets import get_preset
from vitdet_cli.errors import VitdetError
from vitdet_cli.metafile import sha256_file

pytestmark = [pytest.mark.mmcv, pytest.mark.slow]


def test_every_stage_written_with_meta_and_checks(exported, tiny_checkpoint):
    out, result = exported
    assert result.ok, [c.to_dict() for c in result.checks if not (c.checker_ok and c.parity_ok)]
    art = Artifacts.open(out)
    metas = art.metas
    for stage, graphs in STAGE_GRAPHS.items():
        meta = metas[stage]
        assert set(meta.graphs) == set(graphs)
        assert meta.schema_version == SCHEMA_VERSION and meta.opset == 16
        assert meta.checkpoint["sha256"] == sha256_file(tiny_checkpoint)
        assert meta.class_names[0] == "circle" and len(meta.class_names) == 6
        assert meta.host["img_size"] == 192 and meta.host["pad_value"] == 114
        assert {"torch", "onnx", "mmdet"} <= set(meta.versions)
    image = metas["backbone"].graphs["model"].inputs[0]
    assert image.name == "image" and image.shape == (1, 3, 192, 192)
    bbox = metas["roi"].graphs["bbox"]
    test_proposals = get_preset("vit-tiny").rpn_test_proposals
    assert bbox.inputs[-1].shape == (test_proposals, 5)
    assert [o.shape for o in bbox.outputs] == [(test_proposals, 7), (test_proposals, 24)]
    assert metas["roi"].graphs["mask"].outputs[0].shape == (100, 6, 28, 28)
    config = art.model_config()
    assert config.img_size == 192 and config.class_names == metas["roi"].class_names
    assert art.checkpoint["sha256"] == sha256_file(tiny_checkpoint)
    assert sorted(p.name for p in (out / "export").iterdir()) == [
        "backbone", "model_config.json", "roi", "rpn"
    ]
    listed = set(art.manifest.files)
    assert {"export/model_config.json", "export/roi/mask.onnx"} <= listed
    assert all(row.ok for row in art.checks) and len(art.checks) == len(listed) == 8


def test_graphs_are_static_and_free_of_resize_and_einsum(exported):
    import onnx

    out, _ = exported
    for stage, graphs in STAGE_GRAPHS.items():
        for graph in graphs:
            model = onnx.load(str(out / "export" / stage / f"{graph}.onnx"))
            ops = {n.op_type for n in model.graph.node}
            assert not ops & {"Einsum", "Resize", "Upsample"}, (stage, graph, ops)
            for value in [*model.graph.input, *model.graph.output]:
                dims = value.type.tensor_type.shape.dim
                assert all(d.HasField("dim_value") for d in dims), (stage, value.name)
    roi_ops = {n.op_type for n in onnx.load(str(out / "export/roi/bbox.onnx")).graph.node}
    assert "RoiAlign" in roi_ops


def test_roi_graph_in_eager_equals_mmdet_bbox_forward(exported, tiny_checkpoint):
    """The exported RoI module (level masks + RoiAlign symbolic) computes what mmdet does."""
    import torch

    from vitdet_cli.export.stages import RoiBboxGraph
    from vitdet_cli.model.loading import load_trained_model

    out, _ = exported
    config = read_model_config(out / "export" / "model_config.json")
    model = load_trained_model(tiny_checkpoint, config).model
    gen = torch.Generator().manual_seed(0)
    feats = [torch.randn(1, 64, 256 // s, 256 // s, generator=gen) for s in (4, 8, 16, 32)]
    xy = torch.rand(50, 2, generator=gen) * 200
    wh = torch.rand(50, 2, generator=gen) * 150 + 2
    rois = torch.cat([torch.zeros(50, 1), xy, xy + wh], 1)
    with torch.no_grad():
        ours = RoiBboxGraph(model.roi_head)(*feats, rois)
        ref = model.roi_head._bbox_forward(feats, rois)
    torch.testing.assert_close(ours[0], ref["cls_score"], rtol=0, atol=1e-5)
    torch.testing.assert_close(ours[1], ref["bbox_pred"], rtol=0, atol=1e-5)


def test_staged_onnxruntime_matches_staged_torch(exported):
    from vitdet_cli.compare.detections import detection_parity
    from vitdet_cli.export.api import sample_image
    from vitdet_cli.runtime.backends import get_backend
    from vitdet_cli.runtime.staged import StagedModel
    from vitdet_cli.runtime.timing import StepTimer

    out, _ = exported
    image = sample_image(None, 256)
    timer, tensors = StepTimer(), {}
    with StagedModel(out, get_backend("onnxruntime")) as ort_model:
        a = ort_model(image, timer=timer, record=tensors)
    with StagedModel(out, get_backend("torch")) as torch_model:
        b = torch_model(image)
    assert len(b.scores) > 0
    parity = detection_parity(a, b)
    assert parity["passed"], parity["failures"]
    assert parity["frac_ref_matched_strict"] >= 0.99 and parity["mask_iou_mean"] > 0.99
    top = slice(0, 20)  # well-separated scores: same order
    np.testing.assert_array_equal(a.labels[top], b.labels[top])
    np.testing.assert_allclose(a.boxes[top], b.boxes[top], atol=0.05)
    assert set(tensors) == {
        ("backbone", "model"),
        ("rpn", "model"),
        ("roi", "bbox"),
        ("roi", "mask"),
    }
    assert all(timer.ms[k] > 0 for k in ("preprocess", "backbone", "rpn", "roi_bbox"))


def _copy(out, tmp_path):
    dst = tmp_path / "art"
    shutil.copytree(out, dst)
    return dst


def test_truncated_graph_is_refused(exported, tmp_path):
    art = _copy(exported[0], tmp_path)
    path = art / "export/rpn/model.onnx"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(VitdetError, match="differs from the manifest") as exc:
        Artifacts.open(art)
    assert "rpn/model.onnx" in exc.value.message and "vitdet verify" in exc.value.hint


def test_missing_graph_and_newer_schema_are_refused(exported, tmp_path, reseal):
    art = _copy(exported[0], tmp_path)
    (art / "export/roi/mask.onnx").unlink()
    with pytest.raises(VitdetError, match="mask.onnx is listed in the manifest but missing"):
        Artifacts.open(art)
    art = _copy(exported[0], tmp_path / "2")
    meta_file = art / "export/backbone/export_meta.json"
    data = json.loads(meta_file.read_text())
    data["schema_version"] = SCHEMA_VERSION + 1
    meta_file.write_text(json.dumps(data))
    with pytest.raises(VitdetError, match="schema_version") as exc:
        reseal(art)
    assert exc.value.code == "meta_newer"


def test_checkpoint_that_does_not_fit_the_config(tiny_checkpoint, tmp_path):
    from vitdet_cli.export.api import export_artifacts

    cfg = tmp_path / "b.yaml"
    cfg.write_text("model:\n  preset: vit-b\n  img_size: 256\n")
    with pytest.raises(VitdetError, match="does not fit config") as exc:
        export_artifacts(tiny_checkpoint, cfg, tmp_path / "out")
    assert "--config" in exc.value.hint
    assert not (tmp_path / "out" / "export" / "backbone" / "export_meta.json").exists()


def test_unknown_stage_is_refused_before_any_work(tmp_path):
    from vitdet_cli.export.api import export_artifacts

    with pytest.raises(VitdetError) as info:
        export_artifacts(tmp_path / "absent.pth", stages="backbone,neck", out=tmp_path / "out")
    assert info.value.code == "bad_stage" and "neck" in info.value.message
    assert not (tmp_path / "out").exists()
