"""Launch planning, checkpoint discovery and the compatibility shims (no training here)."""

import io
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vitdet_cli.errors import VitdetError
from vitdet_cli.model import shims
from vitdet_cli.platform.device import Placement
from vitdet_cli.training.checkpoints import is_complete, latest_complete, list_checkpoints
from vitdet_cli.training.launch import NodeSpec, plan_launch


def test_npu_pair_uses_torchrun_and_visible_devices(tmp_path):
    launch = plan_launch(
        Placement("npu", [6, 7]), NodeSpec(), tmp_path / "c.py", tmp_path / "iter_4.pth", tmp_path
    )
    assert launch.distributed and launch.env == {"ASCEND_RT_VISIBLE_DEVICES": "6,7"}
    argv = launch.argv
    assert argv[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc-per-node=2" in argv and "--nnodes=1" in argv
    assert argv[argv.index("--device") + 1] == "npu"
    assert argv[argv.index("--resume") + 1].endswith("iter_4.pth")
    assert Placement("npu", [6, 7]).backend == "hccl"


def test_cuda_and_cpu_multi_process(tmp_path):
    cuda = plan_launch(Placement("cuda", [0, 1, 2]), NodeSpec(), tmp_path / "c.py", None, tmp_path)
    assert cuda.env == {"CUDA_VISIBLE_DEVICES": "0,1,2"} and "--nproc-per-node=3" in cuda.argv
    cpu = plan_launch(Placement("cpu", [0, 1]), NodeSpec(), tmp_path / "c.py", None, tmp_path)
    assert "OMP_NUM_THREADS" in cpu.env and "CUDA_VISIBLE_DEVICES" not in cpu.env


def test_multi_node_flags(tmp_path):
    launch = plan_launch(
        Placement("npu", [0, 1]),
        NodeSpec(2, 1, "10.0.0.5", 29999),
        tmp_path / "c.py",
        None,
        tmp_path,
    )
    assert {"--nnodes=2", "--node-rank=1", "--master-addr=10.0.0.5", "--master-port=29999"} <= set(
        launch.argv
    )
    with pytest.raises(VitdetError, match="node-rank"):
        plan_launch(Placement("npu", [0]), NodeSpec(2, 2), tmp_path / "c.py", None, tmp_path)


def _save(path: Path, value: float) -> None:
    state = {"w": torch.full((4,), value)}
    meta = {"epoch": 0, "iter": int(value)}
    torch.save({"state_dict": state, "meta": meta, "message_hub": {}}, path)


def test_latest_complete_skips_partial_files(tmp_path):
    for i in (10, 20, 30):
        _save(tmp_path / f"iter_{i}.pth", i)
    data = (tmp_path / "iter_30.pth").read_bytes()
    (tmp_path / "iter_40.pth").write_bytes(data[: len(data) // 2])  # killed mid-write
    (tmp_path / "last_checkpoint").write_text(str(tmp_path / "iter_40.pth"))
    assert [p.name for p in list_checkpoints(tmp_path)][:2] == ["iter_40.pth", "iter_30.pth"]
    assert not is_complete(tmp_path / "iter_40.pth") and is_complete(tmp_path / "iter_30.pth")
    assert latest_complete(tmp_path).name == "iter_30.pth"
    assert latest_complete(tmp_path / "nothing") is None


def test_atomic_save_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "iter_5.pth"
    _save(target, 5)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        shims.atomic_torch_save({"x": 1}, target)
    monkeypatch.undo()
    assert is_complete(target) and [p.name for p in tmp_path.iterdir()] == ["iter_5.pth"]


def test_safe_globals_load_mmengine_state_but_not_code(tmp_path):
    from mmengine.logging.history_buffer import HistoryBuffer

    shims.allow_mmengine_checkpoints()
    buf = HistoryBuffer()
    buf.update(1.5)
    ckpt = {
        "message_hub": {"log_scalars": {"loss": buf}},
        "np": np.float64(2.0),
        "arr": np.arange(3),
    }
    path = tmp_path / "ckpt.pth"
    torch.save(ckpt, path)
    loaded = torch.load(path, weights_only=True)
    assert loaded["message_hub"]["log_scalars"]["loss"].current() == 1.5
    assert loaded["np"] == 2.0 and loaded["arr"].tolist() == [0, 1, 2]

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    buf2 = io.BytesIO()
    torch.save({"x": Evil()}, buf2)
    buf2.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buf2, weights_only=True)


class _Getattr:
    """Pickles as ``getattr(owner, name)``, as plain mmengine saves HistoryBuffer statistics."""

    def __init__(self, owner, name):
        self.owner, self.name = owner, name

    def __reduce__(self):
        return (getattr, (self.owner, self.name))


def _round_trip(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def test_safe_load_allows_only_history_buffer_statistics_through_getattr():
    from mmengine.logging.history_buffer import HistoryBuffer

    shims.allow_mmengine_checkpoints()
    assert _round_trip({"m": _Getattr(HistoryBuffer, "mean")})["m"] is HistoryBuffer.mean
    for owner, name in ((HistoryBuffer, "register_statistics"), (np.ndarray, "tofile")):
        with pytest.raises(pickle.UnpicklingError):
            _round_trip({"x": _Getattr(owner, name)})


def test_mmdet_device_default_shim():
    import mmdet.utils.dist_utils as du

    shims.mmdet_device_defaults("cpu")
    assert du.sync_random_seed(7) == 7  # single process: returns the seed, on the cpu default
    tensor = du.obj2tensor({"a": 1})
    assert tensor.device.type == "cpu"
