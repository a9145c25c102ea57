"""run_pipeline: stages plugged in as callables; end to end against mmdet's MaskRCNN.predict."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vitdet_cli.runtime.host import HostConfig, preprocess, rpn_postprocess, run_pipeline
from vitdet_cli.runtime.timing import HOST_STEPS, STEPS, StepTimer

F32 = np.float32
CFG = HostConfig(img_size=128)


class FakeStages:
    """Numpy stand-ins for the exported stages that record what they were given."""

    def __init__(self, rng, num_classes=4, background=0.0):
        self.rng, self.c, self.bg = rng, num_classes, background
        self.calls = {}

    def rpn(self, x):
        self.calls["rpn"] = x.shape
        sizes = CFG.featmap_sizes()
        cls = [self.rng.standard_normal((1, 3, h, w)).astype(F32) for h, w in sizes]
        reg = [(self.rng.standard_normal((1, 12, h, w)) * 0.2).astype(F32) for h, w in sizes]
        self.rpn_out = cls, reg
        return cls, reg

    def box(self, rois):
        self.calls["box"] = rois.shape
        cls = self.rng.standard_normal((len(rois), self.c + 1)).astype(F32)
        cls[:, -1] += self.bg
        return cls, (self.rng.standard_normal((len(rois), 4 * self.c)) * 0.1).astype(F32)

    def mask(self, rois):
        self.calls["mask"] = rois.shape
        return self.rng.standard_normal((len(rois), self.c, 28, 28)).astype(F32)


def test_pipeline_shapes_timings_and_policies(rng):
    image = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    stages = FakeStages(rng)
    timer = StepTimer()
    res = run_pipeline(
        image,
        CFG,
        stages.rpn,
        stages.box,
        stages.mask,
        roi_batch=CFG.rpn_max_per_img,
        mask_batch=CFG.rcnn_max_per_img,
        score_thr=0.3,
        dedup="keep_top1_per_label",
        timer=timer,
    )
    assert stages.calls == {"rpn": (1, 3, 128, 128), "box": (1000, 5), "mask": (100, 5)}
    assert list(timer.ms) == list(STEPS)
    assert all(timer.ms[k] > 0 for k in HOST_STEPS)
    # the stage callables time their own graphs: the pipeline labels none of them
    assert all(timer.ms[k] == 0.0 for k in STEPS if k not in HOST_STEPS)
    assert len(res.raw) > len(res.boxes) > 0 and res.raw.counts is None
    assert len(set(res.labels.tolist())) == len(res.labels)  # one per label
    assert (res.scores >= 0.3).all()
    assert res.counts["raw_count"] == len(res.raw)
    assert res.counts["after_score_thr"] == len(res.boxes)
    masks = res.masks.full()
    assert masks.shape == (len(res.boxes), 90, 120) and masks.dtype == bool


def test_pipeline_dynamic_batches_and_no_mask_stage(rng):
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    stages = FakeStages(rng)
    timer = StepTimer()
    res = run_pipeline(image, CFG, stages.rpn, stages.box, timer=timer)
    proposals = rpn_postprocess(*stages.rpn_out, CFG, preprocess(image, CFG)[1].img_shape)
    assert stages.calls["box"] == (len(proposals), 5)
    assert res.masks is None and timer.ms["mask_post"] == 0.0


def test_pipeline_rejects_bad_policy_before_running_stages(rng):
    from vitdet_cli.errors import VitdetError

    stages = FakeStages(rng)
    with pytest.raises(VitdetError):
        run_pipeline(np.zeros((8, 8, 3), np.uint8), CFG, stages.rpn, stages.box, dedup="x")
    assert stages.calls == {}


def test_pipeline_without_detections(rng):
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    stages = FakeStages(rng, background=50.0)  # background wins everywhere
    res = run_pipeline(image, CFG, stages.rpn, stages.box, stages.mask)
    assert len(res.boxes) == 0 and "mask" not in stages.calls
    assert res.masks.full().shape == (0, 64, 64)
    assert res.counts["raw_count"] == 0


@pytest.mark.mmcv
@pytest.mark.slow
def test_end_to_end_matches_mmdet_predict(tmp_path, rng):
    """A random-init vit-tiny Mask R-CNN: mmdet's predict vs. its modules as our three stages."""
    pytest.importorskip("mmcv.ops")
    import torch
    from mmcv.transforms import Compose
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    from vitdet_cli.config.schema import ExperimentConfig
    from vitdet_cli.model import register_modules
    from vitdet_cli.model.config_builder import model_cfg, pipelines

    register_all_modules()
    register_modules()
    torch.manual_seed(0)
    model_dict = model_cfg(ExperimentConfig(model={"preset": "vit-tiny"}), 3)
    model = MODELS.build(Config(dict(model=model_dict)).model).eval()
    for layer in (model.rpn_head.rpn_cls, model.roi_head.bbox_head.fc_cls):
        torch.nn.init.normal_(layer.weight, std=0.5)  # spread the scores: no ties to order

    # square image: a random model also predicts boxes in the padding, where mmdet's own
    # mask paste fails (torch.arange with start > end)
    path = tmp_path / "img.png"
    cv2.imwrite(
        str(path), cv2.GaussianBlur(rng.integers(0, 256, (240, 240, 3), np.uint8), (0, 0), 3)
    )
    _, test_pipe = pipelines(256, (0.1, 2.0))
    packed = Compose([t for t in test_pipe if t["type"] != "LoadAnnotations"])(
        dict(img_path=str(path), img_id=0)
    )
    with torch.no_grad():
        data = model.data_preprocessor(
            dict(inputs=[packed["inputs"]], data_samples=[packed["data_samples"]]), False
        )
        ref = model.predict(data["inputs"], data["data_samples"])[0].pred_instances

    feats = {}

    def rpn_stage(x):
        with torch.no_grad():
            feats["x"] = model.extract_feat(torch.from_numpy(x))
            cls, reg = model.rpn_head(feats["x"])
        return [c.numpy() for c in cls], [r.numpy() for r in reg]

    def box_stage(rois):
        with torch.no_grad():
            out = model.roi_head._bbox_forward(feats["x"], torch.from_numpy(rois))
        return out["cls_score"].numpy(), out["bbox_pred"].numpy()

    def mask_stage(rois):
        with torch.no_grad():
            return model.roi_head._mask_forward(feats["x"], torch.from_numpy(rois))[
                "mask_preds"
            ].numpy()

    res = run_pipeline(
        cv2.imread(str(path)),
        HostConfig.from_mmdet(model_dict, 256),
        rpn_stage,
        box_stage,
        mask_stage,
    )
    assert len(res.boxes) == len(ref.bboxes) == 100
    np.testing.assert_array_equal(res.labels, ref.labels.numpy())
    np.testing.assert_allclose(res.boxes, ref.bboxes.numpy(), rtol=0, atol=1e-3)
    np.testing.assert_allclose(res.scores, ref.scores.numpy(), rtol=0, atol=1e-5)
    masks = res.masks.full()
    assert (masks != ref.masks.numpy()).sum() <= 5
