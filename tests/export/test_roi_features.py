"""The exported RoI extractor (``export.stages.RoiFeatures``) against mmdet's, with adaptive
sampling (ratio 0, the ViT-B/L/H presets'), where pooling a RoI off its own level is costly."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.mmcv


def _case(ratio: int):
    import torch
    from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor

    extractor = SingleRoIExtractor(
        roi_layer=dict(type="RoIAlign", output_size=7, sampling_ratio=ratio),
        out_channels=8,
        featmap_strides=[4, 8, 16, 32],
    )
    gen = torch.Generator().manual_seed(0)
    feats = [torch.randn(1, 8, 1024 // s, 1024 // s, generator=gen) for s in (4, 8, 16, 32)]
    side = torch.exp(1.4 + torch.rand(60, 1, generator=gen) * 5.4)  # 4 to 900 pixels
    aspect = torch.exp(torch.rand(60, 1, generator=gen) - 0.5)
    wh = torch.cat([side * aspect, side / aspect], 1).clamp(max=1000)
    xy = torch.rand(60, 2, generator=gen) * (1024 - wh)
    rois = torch.cat([torch.zeros(60, 1), xy, xy + wh], 1)
    return extractor, feats, rois


@pytest.mark.parametrize("ratio", [0, 2])
def test_roi_features_equal_mmdet_extractor_bit_for_bit(ratio):
    import torch

    from vitdet_cli.export.stages import RoiFeatures

    extractor, feats, rois = _case(ratio)
    ours = RoiFeatures(extractor)
    assert len(set(ours.levels(rois).tolist())) == 4  # every level has RoIs
    with torch.no_grad():
        torch.testing.assert_close(ours(feats, rois), extractor(feats, rois), rtol=0, atol=0)


def test_off_level_rois_are_pooled_as_one_pixel(monkeypatch):
    """Each level's RoiAlign gets the RoIs of other levels as one feature pixel at (0, 0),
    batch index kept, and its own RoIs unchanged."""
    import torch

    from vitdet_cli.export import stages

    extractor, feats, rois = _case(0)
    seen = []
    real = stages._RoiAlign.apply

    def spy(feat, boxes, *args):
        seen.append(boxes.clone())
        return real(feat, boxes, *args)

    monkeypatch.setattr(stages._RoiAlign, "apply", spy)
    module = stages.RoiFeatures(extractor)
    with torch.no_grad():
        module(feats, rois)
    lvl = module.levels(rois)
    assert len(seen) == 4
    for i, boxes in enumerate(seen):
        own = lvl == i
        torch.testing.assert_close(boxes[own], rois[own], rtol=0, atol=0)
        pixel = torch.tensor([0.0, 0.0, module.strides[i], module.strides[i]])
        assert (boxes[~own][:, 1:] == pixel).all()
        torch.testing.assert_close(boxes[:, 0], rois[:, 0], rtol=0, atol=0)


def test_exported_roi_features_run_finite_on_openvino(tmp_path):
    """The exported graph with adaptive sampling on OpenVINO equals ONNX Runtime (a zero-size
    off-level box made OpenVINO's RoiAlign return NaN for every RoI)."""
    import numpy as np
    import torch

    ov = pytest.importorskip("openvino")
    ort = pytest.importorskip("onnxruntime")
    from vitdet_cli.export.stages import RoiFeatures

    extractor, feats, rois = _case(0)
    module = RoiFeatures(extractor).eval()
    path = tmp_path / "roi.onnx"
    names = [f"p{i}" for i in range(4)]
    torch.onnx.export(module, (feats, rois), str(path), input_names=[*names, "rois"],
                      output_names=["out"], opset_version=16, dynamo=False)  # fmt: skip
    feed = {n: f.numpy() for n, f in zip(names, feats)} | {"rois": rois.numpy()}
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feed)[0]
    got = ov.Core().compile_model(str(path), "CPU")(feed)[0]
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
