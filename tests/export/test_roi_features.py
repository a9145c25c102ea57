"""The RoI extractor of the exported graphs (``export.stages.RoiFeatures``) against mmdet's,
eager and exported, with adaptive sampling (ratio 0, the ViT-B/L/H presets') and fixed."""

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


def _export(module, feats, rois, path, opset: int = 16):
    import torch

    names = [f"p{i}" for i in range(4)]
    torch.onnx.export(module, (feats, rois), str(path), input_names=[*names, "rois"],
                      output_names=["out"], opset_version=opset, dynamo=False)  # fmt: skip
    return {n: f.numpy() for n, f in zip(names, feats)} | {"rois": rois.numpy()}


@pytest.mark.parametrize("ratio", [0, 2])
def test_exported_roi_features_pool_once_from_the_level_stack(tmp_path, ratio):
    """The exported graph has one RoiAlign (no per-level pooling and masking) and gives
    mmdet's features on ONNX Runtime, RoIs touching the image's right and bottom edges (where
    RoiAlign clamps to the last pixel) included."""
    import numpy as np
    import onnx
    import torch

    ort = pytest.importorskip("onnxruntime")
    from vitdet_cli.export.stages import RoiFeatures

    extractor, feats, rois = _case(ratio)
    rois[:4, 3:] = 1024.0  # clipped at the far edges, one per level
    rois[:4, 1:3] = torch.tensor([[990.0, 1000.0], [900.0, 920.0], [800.0, 700.0], [300, 200]])
    module = RoiFeatures(extractor).eval()
    assert len(set(module.levels(rois[:4]).tolist())) == 4
    path = tmp_path / "roi.onnx"
    feed = _export(module, feats, rois, path)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count("RoiAlign") == 1
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feed)[0]
    with torch.no_grad():
        want = extractor(feats, rois).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_level_stack_repeats_the_far_edge_and_zeros_the_rest():
    import torch

    from vitdet_cli.export.stages import level_stack

    big, small = torch.randn(1, 2, 4, 4), torch.randn(1, 2, 2, 2)
    stacked = level_stack([big, small])
    assert stacked.shape == (2, 2, 5, 5)
    torch.testing.assert_close(stacked[0, :, :4, :4], big[0])
    torch.testing.assert_close(stacked[0, :, 4, :4], big[0, :, 3])
    torch.testing.assert_close(stacked[0, :, :4, 4], big[0, :, :, 3])
    torch.testing.assert_close(stacked[1, :, 2, :2], small[0, :, 1])
    assert stacked[1, :, 3:].abs().sum() == 0 and stacked[1, :, :, 3:].abs().sum() == 0


def test_exported_roi_features_run_finite_on_openvino(tmp_path):
    """The exported graph with adaptive sampling on OpenVINO equals mmdet's extractor (a
    zero-size box once made OpenVINO's RoiAlign return NaN for every RoI)."""
    import numpy as np
    import torch

    ov = pytest.importorskip("openvino")
    from vitdet_cli.export.stages import RoiFeatures

    extractor, feats, rois = _case(0)
    path = tmp_path / "roi.onnx"
    feed = _export(RoiFeatures(extractor).eval(), feats, rois, path)
    got = ov.Core().compile_model(str(path), "CPU")(feed)[0]
    assert np.isfinite(got).all()
    with torch.no_grad():
        want = extractor(feats, rois).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
