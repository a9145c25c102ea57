"""What our shims rely on, checked on whichever torch runs the suite (2.13.0 and 2.8.0 in CI).

Each test states the torch behaviour a shim depends on, so a torch that changes it fails here
by name rather than somewhere deep in a training run.
"""

import io
import pickle

import pytest
import torch
from packaging.version import Version

TORCH = Version(torch.__version__.split("+")[0])


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_torch_load_defaults_to_weights_only():
    """Both 2.8 and 2.13 refuse code in a pickle by default; our resume path relies on it."""
    assert TORCH >= Version("2.6"), "weights_only=True became the default in torch 2.6"
    buf = io.BytesIO()
    torch.save({"x": Payload()}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buf)


def test_safe_globals_api_exists():
    """`allow_mmengine_checkpoints` allow-lists types through this API (added in torch 2.4)."""
    assert callable(torch.serialization.add_safe_globals)
    assert callable(torch.serialization.get_safe_globals)


def test_fused_adamw_on_cpu_matches_the_loop():
    """The CPU recipe asks for fused AdamW (CPU kernel since torch 2.4); it must agree with the
    per-parameter loop to float rounding on this torch."""
    torch.manual_seed(0)
    params = [torch.randn(64, 32), torch.randn(32)]
    grads = [torch.randn_like(p) for p in params]
    results = []
    for fused in (False, True):
        ps = [p.clone().requires_grad_() for p in params]
        opt = torch.optim.AdamW(ps, lr=1e-3, weight_decay=0.1, fused=fused, foreach=False)
        for _ in range(5):
            for p, g in zip(ps, grads):
                p.grad = g.clone()
            opt.step()
        results.append([p.detach() for p in ps])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_gloo_is_built_in():
    """CPU multi-process training uses gloo (`init_cpu_distributed`)."""
    import torch.distributed as dist

    assert dist.is_available() and dist.is_gloo_available()


def test_cpu_torch_has_no_cuda_device():
    """mmdet's `device='cuda'` defaults would fail here; `mmdet_device_defaults` routes them to
    the CPU. A CUDA build of torch (the 2.8.0 wheel) on a GPU-less machine must still report
    no device, so the CPU route is taken."""
    from vitdet_cli.platform import device

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: the cuda defaults apply")
    assert device.resolve_kind("auto") in ("cpu", "npu")
