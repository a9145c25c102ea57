"""ExperimentConfig → mmengine Config: recipe values, scaling, and that mmdet builds it."""

import pytest

from tests.training.conftest import TINY
from vitdet_cli.config import load_config
from vitdet_cli.model.config_builder import RunShape, build_mmdet_config, effective_lr, max_iters
from vitdet_cli.training.dataset import resolve_data


def _build(overrides, tmp_path, shape=RunShape("cpu", 1), config=TINY):
    exp = load_config(config, overrides)
    paths = resolve_data(exp, tmp_path)
    return exp, paths, build_mmdet_config(exp, paths, shape, tmp_path)


def test_tiny_config_values(tiny_overrides, tmp_path):
    exp, paths, cfg = _build(tiny_overrides(iters=10) + ["train.lr_steps=[0.5,0.8]"], tmp_path)
    assert cfg.model.backbone.type == "ViT" and cfg.model.neck.type == "SimpleFPN"
    assert cfg.model.neck.in_channels == [48, 96, 192, 192]
    assert cfg.model.roi_head.bbox_head.type == "Shared4Conv1FCBBoxHead"
    assert cfg.model.roi_head.bbox_head.norm_cfg["type"] == "LN2d"
    assert (
        cfg.model.roi_head.mask_head.num_classes
        == len(paths.classes)
        == cfg.model.roi_head.bbox_head.num_classes
    )
    assert cfg.model.rpn_head.num_convs == 2
    assert cfg.optim_wrapper.type == "OptimWrapper"  # no AMP on cpu
    assert cfg.optim_wrapper.optimizer.fused is True  # one fused AdamW kernel on cpu
    assert cfg.train_dataloader.sampler.type == "InfiniteSampler"  # endless, no epoch warnings
    assert cfg.optim_wrapper.constructor == "LayerDecayOptimizerConstructor"
    assert cfg.train_cfg.max_iters == 10 and cfg.launcher == "none"
    steps = cfg.param_scheduler[-1]
    assert steps.milestones == [5, 8] and steps.gamma == 0.1  # 0.5 and 0.8 of 10 iterations
    assert cfg.val_evaluator.metric == ["bbox", "segm"]


def test_paper_recipe_and_lr_scaling(tmp_path, shapes_root, tiny_overrides):
    data = [o for o in tiny_overrides() if o.startswith("data.")]
    data += [
        "data.train_ann=annotations/instances_train.json",
        "data.train_img=train",
        "data.val_ann=annotations/instances_val.json",
        "data.val_img=val",
        "model.pretrained=null",
        "data.num_workers=0",
    ]
    exp = load_config("configs/vitdet_b_mae_coco_100e.yaml", data)
    paths = resolve_data(exp, tmp_path, generate=False)
    cfg = build_mmdet_config(exp, paths, RunShape("npu", 16), tmp_path)
    assert cfg.optim_wrapper.type == "AmpOptimWrapper"
    assert "fused" not in cfg.optim_wrapper.optimizer  # torch picks the kernel on accelerators
    assert cfg.optim_wrapper.paramwise_cfg == dict(
        decay_rate=0.7, decay_type="layer_wise", num_layers=12, no_decay="mmdet"
    )
    # MMDetection's LayerNorm eps (mmcv's default) in the backbone, neck and both heads
    norms = [cfg.model.backbone, cfg.model.neck, cfg.model.roi_head.bbox_head]
    norms.append(cfg.model.roi_head.mask_head)
    assert {m.norm_cfg.eps for m in norms} == {1e-5}
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(1e-4)  # 4 × 16 = 64 = base
    assert effective_lr(exp, RunShape("npu", 8)) == pytest.approx(5e-5)
    assert cfg.param_scheduler[0].end == 250 and cfg.param_scheduler[0].start_factor == 0.001
    assert cfg.param_scheduler[1].milestones == [163889, 177546]
    assert cfg.model.backbone.window_block_indexes == [0, 1, 3, 4, 6, 7, 9, 10]
    assert cfg.model.backbone.drop_path_rate == 0.1 and cfg.model.backbone.img_size == 1024
    assert cfg.env_cfg.dist_cfg.backend == "hccl"
    # the paper's proposal and RoI sampling
    assert cfg.model.train_cfg.rpn_proposal.nms_pre == 2000
    assert cfg.model.train_cfg.rpn_proposal.max_per_img == 1000
    assert cfg.model.train_cfg.rcnn.sampler.num == 512
    assert cfg.model.train_cfg.rcnn.sampler.pos_fraction == 0.25
    assert cfg.model.test_cfg.rpn.max_per_img == 1000
    assert cfg.model.roi_head.bbox_roi_extractor.roi_layer.sampling_ratio == 0


def test_head_settings_override_the_preset(tiny_overrides, tmp_path):
    sets = ["model.heads.rcnn_train_samples=32", "model.heads.rpn_test_proposals=77"]
    sets += ["model.heads.roi_sampling_ratio=3", "model.heads.rcnn_pos_fraction=0.5"]
    _, _, cfg = _build(tiny_overrides(iters=10) + sets, tmp_path)
    assert cfg.model.train_cfg.rcnn.sampler.num == 32
    assert cfg.model.train_cfg.rcnn.sampler.pos_fraction == 0.5
    assert cfg.model.test_cfg.rpn.nms_pre == cfg.model.test_cfg.rpn.max_per_img == 77
    for extractor in ("bbox_roi_extractor", "mask_roi_extractor"):
        assert cfg.model.roi_head[extractor].roi_layer.sampling_ratio == 3
    # unset fields keep the preset's; every heads field names a preset field
    from dataclasses import fields

    from vitdet_cli.config.presets import ViTDetPreset, get_preset
    from vitdet_cli.config.schema import HeadsSection

    assert set(HeadsSection.model_fields) <= {f.name for f in fields(ViTDetPreset)}

    preset = get_preset("vit-tiny")
    assert cfg.model.train_cfg.rpn_proposal.max_per_img == preset.rpn_train_proposals
    with pytest.raises(Exception, match="rcnn_train_samples"):
        load_config(TINY, ["model.heads.rcnn_train_samples=0"])


def test_epochs_become_iterations(tiny_overrides, tmp_path):
    sets = [o for o in tiny_overrides() if not o.startswith("train.max_iters")]
    sets += ["train.max_iters=null", "train.max_epochs=3"]
    exp = load_config(TINY, sets)
    paths = resolve_data(exp, tmp_path)
    assert max_iters(exp, RunShape("cpu", 1), paths.train_images) == -(-3 * paths.train_images // 2)


def test_cpu_ddp_wrapper_has_no_device_ids(tiny_overrides, tmp_path):
    _, _, cfg = _build(tiny_overrides(), tmp_path, RunShape("cpu", 2))
    assert cfg.launcher == "pytorch" and cfg.model_wrapper_cfg.device_ids is None
    assert cfg.env_cfg.dist_cfg.backend == "gloo"


@pytest.mark.parametrize("extra", [[], ["model.patch_size=8"]], ids=["patch16", "patch8"])
def test_built_config_builds_and_predicts_in_mmdet(tiny_overrides, tmp_path, extra):
    import torch
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmengine.registry import init_default_scope

    from vitdet_cli.model import register_modules

    register_modules()
    init_default_scope("mmdet")
    _, _, cfg = _build(tiny_overrides() + extra, tmp_path)
    model = MODELS.build(cfg.model).eval()
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(128, 128),
            ori_shape=(128, 128),
            scale_factor=(1.0, 1.0),
            pad_shape=(128, 128),
            batch_input_shape=(128, 128),
        )
    )
    with torch.no_grad():
        out = model.predict(torch.rand(1, 3, 128, 128), [sample])
    assert hasattr(out[0], "pred_instances") and out[0].pred_instances.bboxes.shape[-1] == 4


def test_plan_writes_the_model_config_as_data(tiny_overrides, tmp_path):
    """Beside the mmengine .py, the work dir gets the model as data: what export reads."""
    from vitdet_cli.artifacts.model_config import TRAIN_NAME, read_model_config
    from vitdet_cli.training.api import plan_training

    plan = plan_training(TINY, overrides=tiny_overrides(), work_dir=tmp_path / "a", dry_run=True)
    config = read_model_config(tmp_path / "a" / TRAIN_NAME)
    assert config.model["type"] == "MaskRCNN"
    assert config.img_size == config.model["backbone"]["img_size"]
    assert config.class_names == list(plan.summary["classes"])


def test_raw_mmengine_config_passes_through(cli_json, tiny_overrides, tmp_path):
    """A user's own mmengine .py config (e.g. from projects/ViTDet) is accepted as is."""
    from vitdet_cli.training.api import plan_training

    plan = plan_training(TINY, overrides=tiny_overrides(), work_dir=tmp_path / "a", dry_run=True)
    raw = tmp_path / "my_vitdet.py"
    raw.write_text(
        plan.config_file.read_text()
        + "\ncustom_imports = dict(imports=['projects.ViTDet.vitdet'])\n"
    )
    result, data = cli_json(
        "train",
        str(raw),
        "--dry-run",
        "--device",
        "cpu",
        "--work-dir",
        str(tmp_path / "b"),
        "--set",
        "train_cfg.max_iters=7",
    )
    assert result.exit_code == 0, result.output
    cfg = data["mmengine_config"]
    assert cfg["train_cfg"]["max_iters"] == 7 and "custom_imports" not in cfg
    assert cfg["model"]["backbone"]["type"] == "ViT" and data["raw_config"] is True
