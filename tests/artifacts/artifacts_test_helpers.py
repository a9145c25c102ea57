"""Builders of a small sealed artifacts folder from tiny ONNX graphs (no torch, no mmcv)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vitdet_cli.artifacts.layout import MODEL_CONFIG
from vitdet_cli.artifacts.manifest import write_manifest
from vitdet_cli.artifacts.meta import GraphMeta, StageMeta, TensorSpec, write_stage_meta
from vitdet_cli.artifacts.model_config import ModelConfig, write_model_config
from vitdet_cli.metafile import sha256_file
from vitdet_cli.runtime.host_config import HostConfig

CHECKPOINT = {"path": "/nowhere/iter_1.pth", "sha256": "1" * 64}
CLASSES = ["circle", "square"]
# (stage, graph) → (inputs, outputs): names and shapes as export writes them, 2 classes.
GRAPHS = {
    ("backbone", "model"): ([("image", (1, 3, 8, 8))], [("p2", (1, 4, 2, 2))]),
    ("rpn", "model"): (
        [("p2", (1, 4, 2, 2))],
        [("rpn_cls_0", (1, 3, 2, 2)), ("rpn_reg_0", (1, 12, 2, 2))],
    ),
    ("roi", "bbox"): (
        [("p2", (1, 4, 2, 2)), ("rois", (4, 5))],
        [("cls_score", (4, 3)), ("bbox_pred", (4, 8))],
    ),
    ("roi", "mask"): ([("p2", (1, 4, 2, 2)), ("rois", (2, 5))], [("mask_pred", (2, 2, 4, 4))]),
}


def constant_graph(path: Path, inputs, outputs, external: bool = False) -> Path:
    """An ONNX graph whose outputs are stored weights (one initializer per output); with
    ``external`` the weights live in ``<stem>.weights`` beside it, as large exports do."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def info(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))

    weights = [
        numpy_helper.from_array(np.full(shape, 0.5, np.float32), name=f"w_{name}")
        for name, shape in outputs
    ]
    nodes = [helper.make_node("Identity", [f"w_{n}"], [n]) for n, _ in outputs]
    graph = helper.make_graph(
        nodes, "g", [info(*t) for t in inputs], [info(*t) for t in outputs], weights
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    if external:
        onnx.save(
            model,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=f"{path.stem}.weights",
            size_threshold=0,
        )
    else:
        onnx.save(model, str(path))
    return path


def specs(pairs) -> tuple[TensorSpec, ...]:
    return tuple(TensorSpec(n, tuple(s), "float32") for n, s in pairs)


def build_folder(root: Path, external: bool = False) -> Path:
    """Export-shaped folder: graphs, metas, model config, manifest (written last)."""
    stages: dict[str, dict[str, GraphMeta]] = {}
    for (stage, graph), (inputs, outputs) in GRAPHS.items():
        path = constant_graph(root / "export" / stage / f"{graph}.onnx", inputs, outputs, external)
        gmeta = GraphMeta(path.name, sha256_file(path), specs(inputs), specs(outputs))
        stages.setdefault(stage, {})[graph] = gmeta
    host = HostConfig(img_size=8).to_dict()
    for stage, graphs in stages.items():
        meta = StageMeta(stage, graphs, 16, host, CLASSES, CHECKPOINT)
        write_stage_meta(root / "export" / stage, meta)
    write_model_config(root / MODEL_CONFIG, ModelConfig({"type": "MaskRCNN"}, 8, CLASSES))
    write_manifest(root, CHECKPOINT, {"vitdet-cli": "test"}, None, ["export"])
    return root
