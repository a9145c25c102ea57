"""The installed mmcv's CPU RoIAlign (patched to use ATen's threads) against a naive formula.

The reference samples each bin on a regular grid with bilinear interpolation, following the
border rules of the detectron2 kernel mmcv took (points beyond one pixel outside the map count
zero, points in the last pixel band are clamped); its gradients come from autograd.
"""

import math

import pytest
import torch

mmcv_ops = pytest.importorskip("mmcv.ops")


def _bilinear(plane: torch.Tensor, y: float, x: float) -> torch.Tensor:
    h, w = plane.shape
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return plane.new_zeros(())
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    return (
        (1 - ly) * (1 - lx) * plane[y0, x0]
        + (1 - ly) * lx * plane[y0, x1]
        + ly * (1 - lx) * plane[y1, x0]
        + ly * lx * plane[y1, x1]
    )


def naive_roi_align(feat, rois, out, scale, sampling_ratio):
    """Average-mode, aligned RoIAlign written per output element."""
    rows = []
    for roi in rois.tolist():
        b = int(roi[0])
        x1, y1, x2, y2 = (v * scale - 0.5 for v in roi[1:])
        bin_h, bin_w = (y2 - y1) / out, (x2 - x1) / out
        gh = sampling_ratio or math.ceil((y2 - y1) / out)
        gw = sampling_ratio or math.ceil((x2 - x1) / out)
        channels = []
        for c in range(feat.shape[1]):
            plane = feat[b, c]
            cells = []
            for ph in range(out):
                for pw in range(out):
                    acc = feat.new_zeros(())
                    for iy in range(gh):
                        y = y1 + ph * bin_h + (iy + 0.5) * bin_h / gh
                        for ix in range(gw):
                            x = x1 + pw * bin_w + (ix + 0.5) * bin_w / gw
                            acc = acc + _bilinear(plane, y, x)
                    cells.append(acc / max(gh * gw, 1))
            channels.append(torch.stack(cells).reshape(out, out))
        rows.append(torch.stack(channels))
    return torch.stack(rows)


def _case(seed, n=2, c=3, h=9, w=11, r=6):
    g = torch.Generator().manual_seed(seed)
    feat = torch.randn(n, c, h, w, generator=g, dtype=torch.float64)
    batch = torch.randint(0, n, (r, 1), generator=g).double()
    xy = torch.rand(r, 2, generator=g, dtype=torch.float64) * torch.tensor([w, h]) * 2 - 2
    wh = torch.rand(r, 2, generator=g, dtype=torch.float64) * 12 + 0.5
    return feat, torch.cat([batch, xy, xy + wh], 1)


@pytest.mark.parametrize("sampling_ratio", [1, 2, 0])
def test_forward_and_backward_match_the_formula(sampling_ratio):
    feat, rois = _case(sampling_ratio)
    grad = torch.randn(rois.shape[0], feat.shape[1], 3, 3, dtype=torch.float64)
    got_in = feat.clone().requires_grad_(True)
    got = mmcv_ops.roi_align(got_in, rois, (3, 3), 0.5, sampling_ratio, "avg", True)
    got.backward(grad)
    ref_in = feat.clone().requires_grad_(True)
    ref = naive_roi_align(ref_in, rois, 3, 0.5, sampling_ratio)
    ref.backward(grad)
    torch.testing.assert_close(got, ref)
    torch.testing.assert_close(got_in.grad, ref_in.grad)


def test_threads_give_bitwise_the_same_result():
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(2, 32, 40, 40, generator=g)
    xy = torch.rand(200, 2, generator=g) * 120
    rois = torch.cat([torch.randint(0, 2, (200, 1), generator=g).float(), xy, xy + 40], 1)
    grad = torch.randn(200, 32, 7, 7, generator=g)
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 4):
            torch.set_num_threads(threads)
            x = feat.clone().requires_grad_(True)
            y = mmcv_ops.roi_align(x, rois, (7, 7), 0.25, 1, "avg", True)
            y.backward(grad)
            results.append((y.detach(), x.grad))
    finally:
        torch.set_num_threads(before)
    for y, gx in results[1:]:
        assert torch.equal(y, results[0][0]) and torch.equal(gx, results[0][1])
