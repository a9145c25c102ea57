"""Loading MAE / timm-style checkpoints into the backbone, and rejecting bad files."""

from __future__ import annotations

import fractions
import os

import pytest
import torch
from model_test_helpers import tiny_vit

from vitdet_cli.errors import VitdetError
from vitdet_cli.model.checkpoint import (
    LoadReport,
    load_backbone_state_dict,
    load_pretrained_backbone,
)

DIM, DEPTH, GRID = 32, 2, 7  # tiny_vit(): 112 px pre-training → 7x7 pos-embed grid


def mae_state_dict(dim: int = DIM, depth: int = DEPTH, grid: int = GRID) -> dict:
    """An MAE pre-training state dict written from the timm key layout (not from our model)."""
    g = torch.Generator().manual_seed(3)

    def r(*shape):
        return torch.randn(*shape, generator=g)

    sd = {
        "cls_token": r(1, 1, dim),
        "pos_embed": r(1, 1 + grid * grid, dim),
        "patch_embed.proj.weight": r(dim, 3, 16, 16),
        "patch_embed.proj.bias": r(dim),
        "norm.weight": r(dim),
        "norm.bias": r(dim),
        "mask_token": r(1, 1, dim),
        "decoder_embed.weight": r(16, dim),
    }
    for i in range(depth):
        p = f"blocks.{i}."
        sd.update(
            {
                p + "norm1.weight": r(dim),
                p + "norm1.bias": r(dim),
                p + "attn.qkv.weight": r(3 * dim, dim),
                p + "attn.qkv.bias": r(3 * dim),
                p + "attn.proj.weight": r(dim, dim),
                p + "attn.proj.bias": r(dim),
                p + "norm2.weight": r(dim),
                p + "norm2.bias": r(dim),
                p + "mlp.fc1.weight": r(4 * dim, dim),
                p + "mlp.fc1.bias": r(4 * dim),
                p + "mlp.fc2.weight": r(dim, 4 * dim),
                p + "mlp.fc2.bias": r(dim),
            }
        )
    return sd


MAPPED = [
    k for k in mae_state_dict() if not k.startswith(("cls_token", "norm.", "mask_token", "decoder"))
]


def test_load_mae_checkpoint(tmp_path):
    sd = mae_state_dict()
    path = tmp_path / "mae_pretrain_vit_tiny.pth"
    torch.save({"model": sd}, path)
    model = tiny_vit()
    report = load_pretrained_backbone(model, path)
    assert isinstance(report, LoadReport)
    assert sorted(report.loaded) == sorted(MAPPED)
    assert report.loaded_count == len(MAPPED) == 3 + 12 * DEPTH
    assert {"cls_token", "norm.weight", "norm.bias", "mask_token", "decoder_embed.weight"} <= set(
        report.ignored + report.unexpected
    )
    assert sorted(report.missing) == sorted(
        f"blocks.{i}.attn.rel_pos_{a}" for i in range(DEPTH) for a in "hw"
    )
    own = model.state_dict()
    for key in MAPPED:
        assert torch.equal(own[key], sd[key]), key
    assert str(path) in report.summary()


def test_load_state_dict_and_backbone_prefix(tmp_path):
    sd = {f"backbone.{k}": v for k, v in mae_state_dict().items()}
    sd["neck.fpn1.0.weight"] = torch.zeros(2)
    sd["roi_head.bbox_head.fc_cls.weight"] = torch.zeros(2)
    path = tmp_path / "detector.pth"
    torch.save({"state_dict": sd, "meta": {"epoch": 3}}, path)
    model = tiny_vit()
    report = load_pretrained_backbone(model, path)
    assert sorted(report.loaded) == sorted(MAPPED)
    assert {"neck.fpn1.0.weight", "roi_head.bbox_head.fc_cls.weight"} <= set(report.ignored)
    assert torch.equal(model.blocks[1].mlp.fc2.weight, sd["backbone.blocks.1.mlp.fc2.weight"])


def test_bare_state_dict_and_pos_embed_grid_resize():
    sd = mae_state_dict(grid=5)  # pre-trained on a 5x5 grid; the model keeps 7x7 + cls
    model = tiny_vit()
    report = load_backbone_state_dict(model, sd, source="memory")
    assert report.resized == ["pos_embed: (1, 26, 32) -> (1, 50, 32)"]
    assert model.pos_embed.shape == (1, 50, 32)
    assert torch.equal(model.pos_embed[:, 0], sd["pos_embed"][:, 0])  # cls slot kept
    # Constant grid stays constant under the bicubic resample.
    sd["pos_embed"][:, 1:] = 0.25
    load_backbone_state_dict(model, sd)
    torch.testing.assert_close(model.pos_embed[:, 1:], torch.full((1, 49, 32), 0.25))


def test_rel_pos_tables_from_another_size_are_resampled():
    big = tiny_vit(img_size=128)  # global block tables for 8x8 → 15 rows
    for p in big.parameters():
        torch.nn.init.normal_(p)
    model = tiny_vit()  # 4x4 → 7 rows
    report = load_backbone_state_dict(model, big.state_dict())
    assert "blocks.1.attn.rel_pos_h: (15, 16) -> (7, 16)" in report.resized
    assert report.missing == []
    assert model.blocks[1].attn.rel_pos_h.shape == (7, 16)


def test_wrong_model_size_is_an_error():
    with pytest.raises(VitdetError, match="do not fit") as info:
        load_backbone_state_dict(tiny_vit(), mae_state_dict(dim=48), source="vit-l.pth")
    assert info.value.code == "checkpoint_mismatch" and "vit-l.pth" in info.value.message


def test_unrelated_state_dict_is_an_error():
    with pytest.raises(VitdetError, match="no ViT backbone weights"):
        load_backbone_state_dict(tiny_vit(), {"conv1.weight": torch.zeros(2)}, source="r50.pth")


def _bad_files(tmp_path):
    good = tmp_path / "good.pth"
    torch.save({"model": mae_state_dict()}, good)
    data = good.read_bytes()
    files = {
        "missing.pth": None,
        "empty.pth": b"",
        "random.pth": os.urandom(4096),
        "truncated.pth": data[: len(data) // 2],
        "text.pth": b"this is not a checkpoint\n",
    }
    for name, content in files.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
    torch.save([torch.zeros(2)], tmp_path / "list.pth")
    torch.save({"model": {"a": 1, "b": "x"}}, tmp_path / "no_tensors.pth")
    return [*files, "list.pth", "no_tensors.pth"]


def test_bad_checkpoint_files_raise_vitdet_error(tmp_path):
    for name in _bad_files(tmp_path):
        path = tmp_path / name
        with pytest.raises(VitdetError) as info:
            load_pretrained_backbone(tiny_vit(), path)
        assert str(path) in info.value.message, name
        assert info.value.hint, name


def test_pickled_objects_need_opt_in(tmp_path):
    path = tmp_path / "with_objects.pth"
    torch.save({"model": mae_state_dict(), "extra": fractions.Fraction(1, 3)}, path)
    with pytest.raises(VitdetError) as info:
        load_pretrained_backbone(tiny_vit(), path)
    assert info.value.code == "checkpoint_unsafe"
    assert "asks to run code" in info.value.message and "fractions.Fraction" in info.value.message
    assert "weights_only" not in info.value.message + info.value.hint
    report = load_pretrained_backbone(tiny_vit(), path, allow_pickle=True)
    assert report.loaded_count == len(MAPPED)


def test_init_cfg_pretrained_loads_in_init_weights(tmp_path):
    sd = mae_state_dict()
    path = tmp_path / "mae.pth"
    torch.save({"model": sd}, path)
    model = tiny_vit(init_cfg={"type": "Pretrained", "checkpoint": str(path)})
    assert not torch.equal(model.blocks[0].attn.qkv.weight, sd["blocks.0.attn.qkv.weight"])
    model.init_weights()
    assert torch.equal(model.blocks[0].attn.qkv.weight, sd["blocks.0.attn.qkv.weight"])
