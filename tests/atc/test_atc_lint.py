"""The atc lint on small ONNX graphs built here."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from vitdet_cli.errors import VitdetError
from vitdet_cli.export.lint import lint_model, supported_ops


def _model(nodes, opset=13, domains=()):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph(nodes, "g", [x], [y])
    imports = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    return helper.make_model(graph, opset_imports=imports)


def test_data_file_is_sourced_and_has_the_detector_ops():
    known = supported_ops()
    assert known.cann_version and "hiascend.com" in known.source
    assert {"Conv", "RoiAlign", "NonMaxSuppression", "TopK", "Einsum"} <= known.ops
    assert {"ScatterND", "GridSample", "LayerNormalization", "Softmax"} <= known.ops
    assert known.opset_min == 11 and known.opset_max >= 15


def test_supported_graph_is_ok():
    model = _model([helper.make_node("Relu", ["x"], ["y"], name="act")])
    report = lint_model(model)
    assert report.ok and report.opset == 13 and report.opset_ok and report.offenders == []
    assert "ok" in report.summary() and report.nodes == 1
    assert report.to_dict()["ok"] is True


def test_unsupported_ops_are_named_with_their_nodes():
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="act"),
        helper.make_node("Unique", ["a"], ["b"], name="uniq"),  # real ONNX op, not in CANN's list
        helper.make_node("MadeUpOp", ["b"], ["c"], name="made_up"),
        helper.make_node("Fancy", ["c"], ["y"], name="", domain="com.example"),
    ]
    report = lint_model(_model(nodes, domains=("com.example",)))
    assert not report.ok and report.opset_ok
    assert report.offenders == [
        ("uniq", "Unique"),
        ("made_up", "MadeUpOp"),
        ("<Fancy#3>", "com.example::Fancy"),
    ]
    text = report.summary()
    assert "3 node(s)" in text and "Unique" in text and "made_up" in text
    assert report.to_dict()["offenders"][0] == {"node": "uniq", "op": "Unique"}


@pytest.mark.parametrize("opset, ok", [(9, False), (11, True), (13, True), (17, True), (21, False)])
def test_opset_range(opset, ok):
    report = lint_model(_model([helper.make_node("Relu", ["x"], ["y"])], opset=opset))
    assert report.opset == opset and report.opset_ok is ok and report.ok is ok
    if not ok:
        assert f"opset {opset} is outside" in report.summary()


def test_custom_op_list_and_range():
    model = _model([helper.make_node("Relu", ["x"], ["y"], name="act")], opset=13)
    report = lint_model(model, ops={"Sigmoid"}, opset_range=(11, 12))
    assert report.offenders == [("act", "Relu")] and not report.opset_ok


def test_ops_inside_if_branches_are_checked():
    then_g = helper.make_graph(
        [helper.make_node("Unique", ["x"], ["t"], name="inner")],
        "then",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, [1, 4])],
    )
    else_g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["e"], name="inner_ok")],
        "else",
        [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, [1, 4])],
    )
    cond = helper.make_node(
        "Constant", [], ["c"], name="cond", value=helper.make_tensor("v", TensorProto.BOOL, [], [1])
    )
    node = helper.make_node(
        "If", ["c"], ["y"], name="branch", then_branch=then_g, else_branch=else_g
    )
    report = lint_model(_model([cond, node]))
    assert report.offenders == [("branch/then_branch/inner", "Unique")] and report.nodes == 4


def test_lint_from_path_and_missing_file(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(_model([helper.make_node("Relu", ["x"], ["y"])]), str(path))
    assert lint_model(path).ok
    with pytest.raises(VitdetError) as err:
        lint_model(tmp_path / "nope.onnx")
    assert err.value.code == "onnx_missing"
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(VitdetError) as err:
        lint_model(tmp_path / "bad.onnx")
    assert err.value.code == "onnx_invalid"
