"""lif_sequence: the kernel backends against the reference loop, gradients, backends, errors."""

from __future__ import annotations

import pytest
import torch
from snn_helpers import assert_grad_close, weighted_loss

from spikesub.kernels.backends import cuda_simulator_enabled
from spikesub.models.snn import SpikingLinear, lif_sequence
from spikesub.models.snn import functional as snn_functional


def _smooth_case(dtype=torch.float64, seed=0, margin=1e-3):
    """Float64 inputs whose membranes all stay at least ``margin`` away from the threshold."""
    gen = torch.Generator().manual_seed(seed)
    for _ in range(200):
        x = torch.rand(6, 2, 3, generator=gen, dtype=dtype) * 1.6 - 0.2
        beta = torch.rand(3, generator=gen, dtype=dtype) * 0.4 + 0.5
        threshold = torch.rand(3, generator=gen, dtype=dtype) * 0.4 + 0.8
        mem0 = torch.rand(2, 3, generator=gen, dtype=dtype)
        _, mem = lif_sequence(x, beta, threshold, mem0, backend="torch")
        if float((mem - threshold).abs().min()) > margin and float((mem > threshold).sum()) > 2:
            return x, beta, threshold, mem0
    raise AssertionError("no input with a threshold margin found")


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_gradcheck_membrane_path(reset, backend):
    # Away from the threshold the resets are locally constant, so the membrane output is a
    # smooth function of x, beta, threshold and mem0, and its analytic gradient is exact.
    x, beta, threshold, mem0 = _smooth_case()
    args = tuple(a.clone().requires_grad_() for a in (x, beta, threshold, mem0))

    def membrane(x_, beta_, threshold_, mem0_):
        return lif_sequence(x_, beta_, threshold_, mem0_, reset=reset, backend=backend)[1]

    assert torch.autograd.gradcheck(membrane, args, eps=1e-6, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("name", ["fast_sigmoid", "atan", "sigmoid", "straight_through"])
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_kernel_backends_match_reference_loop_float64(reset, name, backend):
    x, beta, threshold, mem0 = _smooth_case(seed=1)
    grads = {}
    outs = {}
    for be in ("torch", backend):
        args = [a.clone().requires_grad_() for a in (x, beta, threshold, mem0)]
        spk, mem = lif_sequence(*args, reset=reset, surrogate=name, slope=3.0, backend=be)
        gs = torch.linspace(-1, 1, spk.numel(), dtype=spk.dtype).view_as(spk)
        gm = torch.linspace(1, -0.5, mem.numel(), dtype=mem.dtype).view_as(mem)
        ((spk * gs).sum() + (mem * gm).sum()).backward()
        outs[be] = (spk.detach(), mem.detach())
        grads[be] = [a.grad for a in args]
    assert torch.equal(outs["torch"][0], outs[backend][0])
    torch.testing.assert_close(outs["torch"][1], outs[backend][1], rtol=1e-14, atol=1e-14)
    for ref, ours in zip(grads["torch"], grads[backend], strict=True):
        torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)


def test_numba_forward_bitwise_equal_to_torch_float32():
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(40, 8, 33, generator=gen)
    beta = torch.rand(33, generator=gen) * 0.5 + 0.5
    for reset in ("subtract", "zero"):
        ref = lif_sequence(x, beta, 0.7, reset=reset, backend="torch")
        ours = lif_sequence(x, beta, 0.7, reset=reset, backend="numba")
        assert torch.equal(ref[0], ours[0]) and torch.equal(ref[1], ours[1])


def test_only_requested_outputs_and_grads():
    x = torch.rand(5, 2, 3, requires_grad=True)
    beta = torch.full((3,), 0.8)  # no grad wanted
    spk, mem = lif_sequence(x, beta, 0.5, backend="numba")
    spk.sum().backward()  # the membrane output unused: its gradient is None in backward
    assert x.grad is not None and x.grad.shape == x.shape
    assert beta.grad is None


@pytest.mark.cuda
def test_cuda_backend_matches_torch_on_tiny_sizes():
    # Under the CUDA simulator the "cuda" backend takes CPU tensors (their NumPy views are
    # copied to the emulated device and back); on a GPU it takes CUDA tensors in place.
    device = "cpu" if cuda_simulator_enabled() else "cuda"
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(5, 2, 4, generator=gen) * 1.5
    beta = torch.rand(4, generator=gen) * 0.5 + 0.5
    results = {}
    for be, dev in (("torch", "cpu"), ("cuda", device)):
        xr = x.clone().to(dev).requires_grad_()
        b = beta.clone().to(dev).requires_grad_()
        th = torch.tensor(0.6, device=dev, requires_grad=True)
        spk, mem = lif_sequence(xr, b, th, reset="subtract", backend=be)
        weighted_loss(spk, mem).backward()
        results[be] = tuple(t.cpu() for t in (spk, mem, xr.grad, b.grad, th.grad))
    assert torch.equal(results["torch"][0], results["cuda"][0])
    for ref, ours in zip(results["torch"][1:], results["cuda"][1:], strict=True):
        assert_grad_close(ours.detach(), ref.detach())


def test_cuda_backend_rejects_cpu_tensors_on_a_real_gpu(monkeypatch):
    monkeypatch.setattr(snn_functional, "cuda_simulator_enabled", lambda: False)
    with pytest.raises(ValueError, match="backend='cuda' needs CUDA tensors"):
        lif_sequence(torch.rand(3, 2, 2), 0.9, backend="cuda")


def test_cpu_backend_rejects_non_cpu_tensors():
    x = torch.empty(3, 2, 2, device="meta")
    with pytest.raises(ValueError, match="runs on the CPU"):
        lif_sequence(x, 0.9, backend="numba", check_finite=False)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"x": torch.rand(4, 3)}, ValueError, "x must have shape"),
        ({"x": torch.rand(0, 2, 3)}, ValueError, "T >= 1"),
        ({"x": torch.rand(4, 2, 3).to(torch.int32)}, TypeError, "x must be float32"),
        ({"x": [[[1.0]]]}, TypeError, "x must be a torch.Tensor"),
        ({"x": torch.tensor([[[float("nan")]]])}, ValueError, "x contains non-finite"),
        ({"beta": 0.0}, ValueError, r"beta must lie in \(0, 1\]"),
        ({"beta": 1.5}, ValueError, r"beta must lie in \(0, 1\]"),
        ({"beta": torch.ones(5)}, ValueError, "beta must be a scalar or have shape"),
        ({"threshold": 0.0}, ValueError, "threshold must be finite and > 0"),
        ({"threshold": -1.0}, ValueError, "threshold"),
        ({"mem0": torch.zeros(3, 3)}, ValueError, "mem0 must have shape"),
        ({"reset": "none"}, ValueError, "reset must be one of"),
        ({"surrogate": "nope"}, ValueError, "surrogate must be one of"),
        ({"slope": -1.0}, ValueError, "slope must be"),
        ({"backend": "gpu"}, ValueError, "backend must be one of"),
    ],
)
def test_bad_input(kwargs, exc, match):
    args = {"x": torch.rand(4, 2, 3), "beta": 0.9, "threshold": 1.0, "mem0": None}
    args.update(kwargs)
    x = args.pop("x")
    with pytest.raises(exc, match=match):
        lif_sequence(x, **args)


def test_static_input_nan_rejected_through_the_broadcast_check():
    layer = SpikingLinear(4, 3, steps=5)
    x = torch.ones(2, 4)
    layer(x)  # finite: fine
    x[1, 2] = float("inf")
    with pytest.raises(ValueError, match="non-finite"):
        layer(x)
    expanded = torch.zeros(3, 1, 4).expand(3, 6, 4).clone()
    expanded[2, 5, 1] = float("nan")  # a materialised tensor is checked element by element
    with pytest.raises(ValueError, match="non-finite"):
        lif_sequence(expanded, 0.9, 1.0)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("backend", ["numba", "numpy", "torch", "cuda"])
def test_static_input_with_steps_equals_the_repeated_input(reset, backend):
    """lif_sequence(x, steps=T) on (B, F) gives the outputs and gradients of the (T, B, F)
    input repeated T times: x's gradient summed over the steps, beta's and threshold's too."""
    if backend == "cuda" and not cuda_simulator_enabled():
        pytest.skip("the CUDA backend on CPU tensors needs the simulator")
    gen = torch.Generator().manual_seed(8)
    x = torch.rand(3, 11, generator=gen, dtype=torch.float64) * 0.6
    beta = torch.rand(11, generator=gen, dtype=torch.float64) * 0.4 + 0.55
    threshold = torch.rand(11, generator=gen, dtype=torch.float64) * 0.5 + 0.5
    mem0 = torch.rand(3, 11, generator=gen, dtype=torch.float64)
    results = []
    for static in (True, False):
        args = [a.clone().requires_grad_() for a in (x, beta, threshold, mem0)]
        x_in = args[0] if static else args[0].unsqueeze(0).repeat(9, 1, 1)
        spk, mem = lif_sequence(
            x_in, *args[1:], reset=reset, backend=backend, steps=9 if static else None
        )
        weighted_loss(spk, mem).backward()
        results.append((spk.detach(), mem.detach(), *[a.grad for a in args]))
    (spk_s, mem_s, *grads_s), (spk_r, mem_r, *grads_r) = results
    assert spk_s.shape == (9, 3, 11) and torch.equal(spk_s, spk_r)
    torch.testing.assert_close(mem_s, mem_r, rtol=1e-14, atol=1e-14)
    for ours, ref in zip(grads_s, grads_r, strict=True):
        torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
