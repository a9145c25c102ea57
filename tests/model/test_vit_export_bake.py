"""bake_for_export: same outputs, and the traced graph loses the Resize/Gather it replaces."""

from __future__ import annotations

import io
import re
import warnings

import pytest
import torch
from model_test_helpers import randomise_rel_pos, tiny_vit


def _graph(model, x) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return str(torch.jit.trace(model, x, check_trace=False).inlined_graph)


def test_bake_gives_identical_outputs_and_constant_graph():
    model = tiny_vit()
    randomise_rel_pos(model)
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)
    plain_graph = _graph(model, x)
    assert "upsample_bicubic2d" in plain_graph  # 7x7 pre-train grid resized to 4x4
    assert re.search(r"aten::index\b", plain_graph)  # relative-position table gather

    model.bake_for_export((4, 4))
    assert model.is_baked
    with torch.no_grad():
        baked = model(x)
    torch.testing.assert_close(baked, ref, rtol=0, atol=1e-6)
    graph = _graph(model, x)
    assert "upsample_bicubic2d" not in graph
    assert not re.search(r"aten::index\b", graph)
    assert "einsum" not in graph and "einsum" not in plain_graph
    # The cache is not part of the checkpoint format.
    assert not any("baked" in k for k in model.state_dict())


def test_bake_cache_ignored_for_other_sizes_and_dropped_by_train():
    model = tiny_vit()
    randomise_rel_pos(model)
    model.eval().bake_for_export()  # default grid: img_size / patch = 4x4
    assert model.baked_grid == (4, 4)
    x = torch.randn(1, 3, 80, 48)  # 5x3 tokens: computed, not taken from the cache
    with torch.no_grad():
        baked = model(x)
        ref = model.unbake()(x)
    torch.testing.assert_close(baked, ref)
    model.bake_for_export()
    model.train()
    assert not model.is_baked
    assert all(b.attn.baked_hw is None for b in model.blocks)


def test_baked_backbone_exports_to_onnx_without_resize_or_einsum():
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = tiny_vit()
    randomise_rel_pos(model)
    model.eval().bake_for_export()
    x = torch.randn(1, 3, 64, 64)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (x,),
            buffer,
            dynamo=False,
            opset_version=17,
            input_names=["image"],
            output_names=["feature"],
        )
    ops = {node.op_type for node in onnx.load_from_string(buffer.getvalue()).graph.node}
    assert not ops & {"Resize", "Einsum"}, ops
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"image": x.numpy()})
    with torch.no_grad():
        ref = model(x).numpy()
    assert got.shape == ref.shape
    assert abs(got - ref).max() < 1e-4


def test_baked_window_block_projects_only_real_tokens_with_the_same_result():
    """MMDetection runs qkv/proj on the zero padding too; the baked blocks do not, and a
    padded token still attends as the qkv bias (what a zero token projects to)."""
    model = tiny_vit()
    randomise_rel_pos(model)
    with torch.no_grad():
        for block in model.blocks:
            block.attn.qkv.bias.normal_(0, 1.0)  # padding keys/values = the bias: must count
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    rows: list[int] = []
    window_proj = model.blocks[0].attn.proj
    hook = window_proj.register_forward_hook(lambda m, i, o: rows.append(i[0][..., 0].numel()))
    with torch.no_grad():
        ref = model(x)
        baked = model.bake_for_export()(x)
    hook.remove()
    assert rows == [6 * 6, 4 * 4]  # 4x4 tokens padded to 6x6 for window 3; baked: real only
    torch.testing.assert_close(baked, ref, rtol=0, atol=1e-6)
