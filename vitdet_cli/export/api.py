"""``vitdet export``: checkpoint → three stage graphs + metas, each verified after writing.

Each stage is fed what the previous stage gives for one sample image (PyTorch outputs, host
steps in numpy), so every graph is checked on realistic inputs: the RPN on real pyramid
features, the RoI graphs on real proposals and detections.

The folder is sealed by ``manifest.json``, written last: it is removed before anything else is
written, so an export killed midway leaves a folder that does not verify. Exporting some
``--stages`` into an existing folder is refused for another checkpoint and otherwise updates
the manifest.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable, Optional, Sequence

import cv2
import numpy as np

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.layout import (
    ATC,
    EXPORT,
    MANIFEST,
    MODEL_CONFIG,
    STAGE_GRAPHS,
    STAGES,
    TUNE,
    export_rel,
)
from vitdet_cli.artifacts.manifest import Manifest, write_manifest
from vitdet_cli.artifacts.meta import GraphMeta, StageMeta, parse_stages, write_stage_meta
from vitdet_cli.artifacts.model_config import write_model_config
from vitdet_cli.data.synth import sample_image as synthetic_sample
from vitdet_cli.errors import VitdetError
from vitdet_cli.export.onnx_export import (
    DEFAULT_OPSET,
    GraphCheck,
    check_graph,
    export_graph,
    run_module,
)
from vitdet_cli.export.stages import ROI_LEVELS, input_names, output_names, stage_modules
from vitdet_cli.metafile import sha256_file
from vitdet_cli.model.loading import TrainedModel, load_trained_model
from vitdet_cli.runtime.boxes import pad_rois
from vitdet_cli.runtime.host_config import HostConfig
from vitdet_cli.runtime.postprocess import bbox_postprocess, rpn_postprocess
from vitdet_cli.runtime.preprocess import preprocess

_VERSIONED = ("vitdet-cli", "torch", "onnx", "onnxruntime", "mmdet", "mmcv", "mmengine")


@dataclass
class ExportResult:
    """What ``export_artifacts`` wrote and verified."""

    out: Path
    metas: dict[str, StageMeta]
    checks: list[GraphCheck]
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.checker_ok and c.parity_ok and c.lint.get("ok", True) for c in self.checks)

    def to_dict(self) -> dict:
        return {
            "out": str(self.out),
            "ok": self.ok,
            "stages": {s: m.to_dict() for s, m in self.metas.items()},
            "checks": [c.to_dict() for c in self.checks],
            "seconds": self.seconds,
        }


def tool_versions() -> dict[str, str]:
    """Installed versions of the packages that shape an export."""
    found = {}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def sample_image(path: Optional[Path], size: int) -> np.ndarray:
    """The image export checks with: ``path``, or a built-in synthetic scene (BGR uint8)."""
    if path is not None:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise VitdetError(
                f"cannot read image {path}", hint="pass a JPEG or PNG file", code="bad_image"
            )
        return img

    return synthetic_sample(size)


def _lint(path: Path) -> dict:
    # deferred: loads onnx
    from vitdet_cli.export.lint import lint_model

    return lint_model(path).to_dict()


def _stage_inputs(trained: TrainedModel, host: HostConfig, image: np.ndarray):
    """Yield (stage, graph, module, inputs) in pipeline order, feeding each from the last."""
    modules = stage_modules(trained.model)
    x, meta = preprocess(image, host)
    (feats,) = yield "backbone", "model", modules["backbone", "model"], [x]
    (rpn_out,) = yield "rpn", "model", modules["rpn", "model"], list(feats)
    n = len(rpn_out) // 2
    props = rpn_postprocess(rpn_out[:n], rpn_out[n:], host, img_shape=meta.img_shape)
    rois = pad_rois(props.boxes, host.rpn_max_per_img)[0]
    roi_feats = list(feats[: len(ROI_LEVELS)])
    (box_out,) = yield "roi", "bbox", modules["roi", "bbox"], [*roi_feats, rois]
    # the padded rows are ignored; the mask stage's RoIs are the boxes in network coordinates
    _, boxes_net = bbox_postprocess(props.boxes, box_out[0], box_out[1], host, meta)
    mask_rois = pad_rois(boxes_net, host.rcnn_max_per_img)[0]
    yield "roi", "mask", modules["roi", "mask"], [*roi_feats, mask_rois]


def _previous(out: Path, stages: Sequence[str], sha256: str) -> Optional[Manifest]:
    """The manifest of the existing export at ``out`` whose other files are kept, after checking
    that it verifies and comes from the same checkpoint. A full export over a folder that does
    not qualify starts afresh (None); a partial one is refused."""
    full = set(stages) == set(STAGES)
    if not (out / MANIFEST).is_file():
        kept = [s for s in STAGES if s not in stages and (out / export_rel(s)).exists()]
        if kept:
            raise VitdetError(
                f"{out} holds stage(s) {', '.join(kept)} but no {MANIFEST} (an unfinished or "
                "older export): they cannot be checked",
                hint="export all stages (drop --stages), or use a new --out",
                code="artifacts_unsealed",
                exit_code=2,
            )
        return None
    try:
        art = Artifacts.open(out)
    except VitdetError:
        if full:
            return None
        raise
    if art.checkpoint["sha256"] != sha256:
        if full:
            return None
        raise VitdetError(
            f"{out} was exported from another checkpoint ({art.checkpoint.get('path')}, sha256 "
            f"{art.checkpoint['sha256'][:16]}…); mixing stages of two checkpoints is refused",
            hint="export all stages of this checkpoint into a new --out",
            code="checkpoint_differs",
            exit_code=2,
        )
    return art.manifest


def export_artifacts(
    checkpoint: str | Path,
    config: str | Path | None = None,
    out: str | Path = "artifacts/vitdet",
    stages: Optional[str | Sequence[str]] = None,
    opset: int = DEFAULT_OPSET,
    sample: Optional[Path] = None,
    on_step: Optional[Callable[[str], None]] = None,
) -> ExportResult:
    """Export the checkpoint's model as stage graphs under ``<out>/export`` and verify them."""
    stages = parse_stages(stages)
    if not 11 <= opset <= 18:
        raise VitdetError(
            f"opset {opset} is not supported",
            hint="use 11–18 (16 and up export RoIAlign exactly; CANN 8 documents up to 18)",
            code="bad_opset",
            exit_code=2,
        )
    step = on_step or (lambda _msg: None)
    out = Path(out)
    if not Path(checkpoint).is_file():
        raise VitdetError(
            f"{checkpoint}: checkpoint file not found",
            hint="pass --checkpoint a work_dir/iter_N.pth written by `vitdet train`",
            code="checkpoint_not_found",
        )
    previous = _previous(out, stages, sha256_file(checkpoint))
    step("loading checkpoint")
    trained = load_trained_model(checkpoint, config)
    if hasattr(trained.model.backbone, "bake_for_export"):
        trained.model.backbone.bake_for_export()
    host = HostConfig.from_mmdet(trained.model_dict, trained.img_size)
    (out / MANIFEST).unlink(missing_ok=True)  # from here until the end, the folder is unsealed
    # tune/ goes too: its choices were measured on the graphs being replaced
    for stale in [*(export_rel(s) for s in stages), TUNE] if previous else [EXPORT, ATC, TUNE]:
        shutil.rmtree(out / stale, ignore_errors=True)
    root = out / "export"
    root.mkdir(parents=True, exist_ok=True)
    write_model_config(out / MODEL_CONFIG, trained.config)
    graphs: dict[str, dict[str, GraphMeta]] = {s: {} for s in STAGES}
    checks, seconds = [], {}
    flow = _stage_inputs(trained, host, sample_image(sample, host.img_size))
    item = next(flow)
    while True:
        stage, graph, module, inputs = item
        t0 = time.perf_counter()
        names_in, names_out = input_names(stage, graph), output_names(stage, graph)
        path = root / stage / f"{graph}.onnx"
        if stage in stages:
            step(f"exporting {stage}/{graph}")
            gmeta, ref = export_graph(module, inputs, names_in, names_out, path, opset)
            step(f"checking {stage}/{graph}")
            check = check_graph(stage, graph, path, gmeta, inputs, ref)
            check.lint = _lint(path)
            checks.append(check)
            graphs[stage][graph] = gmeta
        else:
            ref = run_module(module, inputs)
        seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - t0
        try:
            item = flow.send((ref,))
        except StopIteration:
            break
    metas = {}
    ckpt = {"path": str(trained.checkpoint.resolve()), "sha256": trained.checkpoint_sha256}
    for stage in stages:
        assert set(graphs[stage]) == set(STAGE_GRAPHS[stage])
        metas[stage] = StageMeta(
            stage=stage,
            graphs=graphs[stage],
            opset=opset,
            host=host.to_dict(),
            class_names=list(trained.class_names),
            checkpoint=ckpt,
            versions=tool_versions(),
        )
        write_stage_meta(root / stage, metas[stage])
    refresh = [MODEL_CONFIG, *(export_rel(s) for s in stages)]
    write_manifest(out, ckpt, tool_versions(), previous, refresh)
    return ExportResult(out, metas, checks, seconds)
