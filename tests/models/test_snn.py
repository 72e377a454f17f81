"""Spiking PyTorch layers: snnTorch equivalence, kernels vs reference loop, gradients, errors."""

from __future__ import annotations

import pytest
import snntorch as snn
import torch
from snntorch import surrogate as snn_surrogate
from torch import nn

from spikesub.kernels.backends import cuda_simulator_enabled
from spikesub.models import snn as snn_module
from spikesub.models.snn import (
    LIF,
    LeakyStep,
    SpikingConv2d,
    SpikingLinear,
    from_snntorch_leaky,
    last_membrane,
    lif_sequence,
    register_surrogate,
    spike_count,
    spike_rate,
    surrogates,
    swap_snntorch_leaky,
)

T, B, F_IN, F = 30, 4, 10, 16

# (our name, our slope, snnTorch factory)
SURROGATE_CASES = [
    ("atan", 2.0, lambda: snn_surrogate.atan(alpha=2.0)),
    ("fast_sigmoid", 25.0, lambda: snn_surrogate.fast_sigmoid(slope=25)),
    ("sigmoid", 5.0, lambda: snn_surrogate.sigmoid(slope=5)),
    ("straight_through", 1.0, lambda: snn_surrogate.straight_through_estimator()),
]


def _assert_grad_close(ours: torch.Tensor, ref: torch.Tensor, rtol: float = 2e-4) -> None:
    """Gradients agree to float32 accumulation accuracy, relative to their scale."""
    scale = float(ref.abs().max()) + 1e-6
    torch.testing.assert_close(ours, ref, rtol=rtol, atol=rtol * scale)


def _loss(spk: torch.Tensor, mem: torch.Tensor) -> torch.Tensor:
    weights = torch.linspace(0.5, 1.5, spk.shape[0], device=spk.device)
    weights = weights.view(-1, *([1] * (spk.dim() - 1)))
    return (spk * weights).sum() + 0.05 * (mem * weights).pow(2).sum()


def _snntorch_run(fc: nn.Linear, leaky: snn.Leaky, x: torch.Tensor):
    mem = leaky.reset_mem()
    spks, mems = [], []
    for t in range(x.shape[0]):
        spk, mem = leaky(fc(x[t]), mem)
        spks.append(spk)
        mems.append(mem)
    return torch.stack(spks), torch.stack(mems)


@pytest.mark.parametrize("backend", ["torch", "numba"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("name,slope,factory", SURROGATE_CASES)
def test_matches_snntorch_forward_and_gradients(backend, reset, name, slope, factory):
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(T, B, F_IN, generator=gen) * 2.0
    beta0 = torch.rand(F, generator=gen) * 0.4 + 0.55
    fc = nn.Linear(F_IN, F)
    with torch.no_grad():
        fc.weight.copy_(torch.randn(F, F_IN, generator=gen) * 0.25)
        fc.bias.copy_(torch.randn(F, generator=gen) * 0.1)
    leaky = snn.Leaky(
        beta=beta0.clone(),
        threshold=torch.tensor(0.8),
        spike_grad=factory(),
        learn_beta=True,
        learn_threshold=True,
        reset_mechanism=reset,
    )
    ours = SpikingLinear(
        F_IN,
        F,
        beta=beta0.clone(),
        threshold=torch.tensor(0.8),
        learn_beta=True,
        learn_threshold=True,
        reset=reset,
        surrogate=name,
        slope=slope,
        output="both",
        backend=backend,
    )
    ours.linear.load_state_dict(fc.state_dict())

    x_ref = x.clone().requires_grad_()
    spk_ref, mem_ref = _snntorch_run(fc, leaky, x_ref)
    _loss(spk_ref, mem_ref).backward()

    x_ours = x.clone().requires_grad_()
    spk, mem = ours(x_ours)
    _loss(spk, mem).backward()

    assert 10 < int(spk_ref.sum()) < spk_ref.numel() - 10  # a regime with spikes and resets
    torch.testing.assert_close(spk, spk_ref, rtol=0, atol=0)
    torch.testing.assert_close(mem, mem_ref, rtol=1e-6, atol=1e-6)
    _assert_grad_close(x_ours.grad, x_ref.grad)
    _assert_grad_close(ours.linear.weight.grad, fc.weight.grad)
    _assert_grad_close(ours.linear.bias.grad, fc.bias.grad)
    _assert_grad_close(ours.lif.beta.grad, leaky.beta.grad)
    _assert_grad_close(ours.lif.threshold.grad, leaky.threshold.grad)


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
        _loss(spk, mem).backward()
        results[be] = tuple(t.cpu() for t in (spk, mem, xr.grad, b.grad, th.grad))
    assert torch.equal(results["torch"][0], results["cuda"][0])
    for ref, ours in zip(results["torch"][1:], results["cuda"][1:], strict=True):
        _assert_grad_close(ours.detach(), ref.detach())


def test_cuda_backend_rejects_cpu_tensors_on_a_real_gpu(monkeypatch):
    monkeypatch.setattr(snn_module, "cuda_simulator_enabled", lambda: False)
    with pytest.raises(ValueError, match="backend='cuda' needs CUDA tensors"):
        lif_sequence(torch.rand(3, 2, 2), 0.9, backend="cuda")


def test_cpu_backend_rejects_non_cpu_tensors():
    x = torch.empty(3, 2, 2, device="meta")
    with pytest.raises(ValueError, match="runs on the CPU"):
        lif_sequence(x, 0.9, backend="numba", check_finite=False)


def test_auto_backend_and_custom_surrogate():
    calls = []

    def boxcar(u, slope):
        calls.append(slope)
        return (u.abs() < 1.0 / slope).to(u.dtype) * slope / 2

    register_surrogate("boxcar_test", boxcar, overwrite=True)
    try:
        x = torch.rand(6, 2, 3, requires_grad=True)
        spk, _ = lif_sequence(x, 0.9, 0.5, surrogate="boxcar_test", slope=4.0)
        spk.sum().backward()
        assert calls and calls[0] == 4.0
        assert x.grad is not None
        ref_x = x.detach().clone().requires_grad_()
        spk_ref, _ = lif_sequence(ref_x, 0.9, 0.5, surrogate="atan", backend="torch")
        assert torch.equal(spk.detach(), spk_ref.detach())
        with pytest.raises(ValueError, match="custom surrogate"):
            lif_sequence(x, 0.9, surrogate="boxcar_test", backend="numba")
        with pytest.raises(ValueError, match="built-in"):
            register_surrogate("atan", boxcar)
        with pytest.raises(ValueError, match="already registered"):
            register_surrogate("boxcar_test", boxcar)
        with pytest.raises(TypeError, match="fn"):
            register_surrogate("other", 3)
    finally:
        surrogates.pop("boxcar_test", None)


def test_builtin_surrogates_match_snntorch_derivatives():
    u = torch.linspace(-3, 3, 61, requires_grad=True)
    for name, slope, factory in SURROGATE_CASES:
        fn = factory()
        (grad_ref,) = torch.autograd.grad(fn(u).sum(), u)
        torch.testing.assert_close(surrogates[name](u.detach(), slope), grad_ref)


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


def test_layer_parameter_validation():
    with pytest.raises(ValueError, match="beta"):
        LIF(beta=1.2)
    with pytest.raises(ValueError, match="threshold"):
        LIF(threshold=0.0)
    with pytest.raises(ValueError, match="output"):
        LIF(output="rates")
    with pytest.raises(TypeError, match="num_features"):
        LIF(recurrent=True)
    with pytest.raises(ValueError, match="does not broadcast"):
        LIF(beta=torch.full((7,), 0.9))(torch.rand(3, 2, 5))
    with pytest.raises(TypeError, match="steps"):
        SpikingLinear(3, 4)(torch.rand(2, 3))


def test_learnable_beta_is_clamped_like_snntorch():
    layer = LIF(beta=0.9, learn_beta=True, output="membrane", backend="numba")
    with torch.no_grad():
        layer.beta.fill_(1.3)  # drifted outside [0, 1] during training
    x = torch.rand(5, 2, 3)
    mem = layer(x)
    ref = lif_sequence(x, 1.0, backend="torch")[1]
    torch.testing.assert_close(mem, ref)
    mem.sum().backward()
    assert float(layer.beta.grad) == 0.0


def test_lif_image_input_and_outputs():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(6, 2, 3, 4, 5, generator=gen) * 1.2
    beta = torch.tensor([0.5, 0.7, 0.9]).view(3, 1, 1)
    spk, mem = LIF(beta=beta, output="both")(x)
    assert spk.shape == x.shape and mem.shape == x.shape
    flat = lif_sequence(x.reshape(6, 2, 60), beta.expand(3, 4, 5).reshape(-1), 1.0)
    assert torch.equal(spk.reshape(6, 2, 60), flat[0])
    assert torch.equal(LIF(beta=beta, output="membrane")(x), mem)
    assert torch.equal(LIF(beta=beta)(x), spk)
    torch.testing.assert_close(spike_count(spk), spk.sum(0))
    torch.testing.assert_close(spike_rate(spk), spk.mean(0))
    assert torch.equal(last_membrane(mem), mem[-1])
    with pytest.raises(ValueError, match="time step"):
        spike_count(torch.zeros(0, 2))


def test_recurrent_lif_matches_snntorch_loop():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(T, B, 6, generator=gen)
    layer = LIF(beta=0.8, threshold=0.7, recurrent=True, num_features=6, output="both")
    leaky = snn.Leaky(beta=0.8, threshold=0.7)
    x_ours = x.clone().requires_grad_()
    spk, mem = layer(x_ours)
    _loss(spk, mem).backward()

    x_ref = x.clone().requires_grad_()
    lin = layer.recurrent_linear
    grads_ours = [p.grad.clone() for p in lin.parameters()]
    lin.zero_grad()
    s, m = torch.zeros(B, 6), torch.zeros(B, 6)
    spks, mems = [], []
    for t in range(T):
        s, m = leaky(x_ref[t] + lin(s), m)
        spks.append(s)
        mems.append(m)
    spk_ref, mem_ref = torch.stack(spks), torch.stack(mems)
    _loss(spk_ref, mem_ref).backward()
    assert spk_ref.sum() > 0
    torch.testing.assert_close(spk, spk_ref, rtol=0, atol=0)
    torch.testing.assert_close(mem, mem_ref)
    _assert_grad_close(x_ours.grad, x_ref.grad)
    for ours, p in zip(grads_ours, lin.parameters(), strict=True):
        _assert_grad_close(ours, p.grad)


def test_spiking_linear_static_input_computes_linear_once():
    gen = torch.Generator().manual_seed(4)
    layer = SpikingLinear(5, 7, steps=12, beta=0.9, threshold=0.5)
    calls = []
    layer.linear.register_forward_hook(lambda *_: calls.append(1))
    x = torch.rand(3, 5, generator=gen, requires_grad=True)
    spk = layer(x)
    assert spk.shape == (12, 3, 7) and len(calls) == 1
    spk.sum().backward()
    x_seq = x.detach().unsqueeze(0).repeat(12, 1, 1).requires_grad_()
    layer.zero_grad()
    spk_seq = layer(x_seq)
    assert torch.equal(spk, spk_seq)
    assert layer(x, steps=4).shape == (4, 3, 7)


def test_spiking_conv2d_matches_snntorch_loop():
    gen = torch.Generator().manual_seed(6)
    x = torch.rand(8, 2, 1, 6, 6, generator=gen)
    layer = SpikingConv2d(1, 3, 3, padding=1, beta=0.85, threshold=0.4, output="both")
    leaky = snn.Leaky(beta=0.85, threshold=0.4)
    spk, mem = layer(x)
    m = None
    spks = []
    for t in range(x.shape[0]):
        s, m = leaky(layer.conv(x[t]), m if m is not None else torch.zeros(2, 3, 6, 6))
        spks.append(s)
    assert spk.shape == (8, 2, 3, 6, 6)
    assert torch.equal(spk, torch.stack(spks))
    torch.testing.assert_close(mem[-1], m)
    static = layer(x[0], steps=8)[0]
    assert torch.equal(static, layer(x[0].unsqueeze(0).expand(8, -1, -1, -1, -1))[0])


def test_from_snntorch_leaky_copies_parameters():
    leaky = snn.Leaky(
        beta=torch.tensor([0.5, 0.9]),
        threshold=0.7,
        learn_threshold=True,
        reset_mechanism="zero",
        spike_grad=snn_surrogate.fast_sigmoid(slope=10),
    )
    lif = from_snntorch_leaky(leaky)
    assert isinstance(lif, LIF)
    assert torch.equal(lif.beta, leaky.beta) and not isinstance(lif.beta, nn.Parameter)
    assert isinstance(lif.threshold, nn.Parameter)
    assert float(lif.threshold.detach()) == pytest.approx(0.7)
    assert (lif.reset, lif.surrogate, lif.slope) == ("zero", "fast_sigmoid", 10.0)
    with pytest.raises(ValueError, match="reset_mechanism"):
        from_snntorch_leaky(snn.Leaky(beta=0.9, reset_mechanism="none"))
    with pytest.raises(ValueError, match="spike_grad"):
        from_snntorch_leaky(snn.Leaky(beta=0.9, spike_grad=snn_surrogate.triangular()))
    with pytest.raises(TypeError, match="snntorch.Leaky"):
        from_snntorch_leaky(nn.Linear(2, 2))


class _UserNet(nn.Module):
    """A network written the snnTorch way, with its own time loop."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(F_IN, F)
        self.lif1 = snn.Leaky(beta=0.8, learn_beta=True)
        self.fc2 = nn.Linear(F, 3)
        self.lif2 = snn.Leaky(beta=0.7, threshold=0.5, spike_grad=snn_surrogate.sigmoid(slope=5))

    def forward(self, x):
        mem1 = self.lif1.reset_mem()
        mem2 = self.lif2.reset_mem()
        out = []
        for t in range(x.shape[0]):
            spk1, mem1 = self.lif1(self.fc1(x[t]), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2 + 0.1 * mem2)
        return torch.stack(out)


def test_swap_keeps_user_loop_working():
    torch.manual_seed(0)
    net = _UserNet()
    x = torch.rand(T, B, F_IN) * 2
    ref = net(x)
    ref.sum().backward()
    ref_grads = {n: p.grad.clone() for n, p in net.named_parameters()}
    net.zero_grad()
    swapped = swap_snntorch_leaky(net)
    assert swapped is net and isinstance(net.lif1, LeakyStep) and isinstance(net.lif2, LeakyStep)
    assert isinstance(net.lif1.beta, nn.Parameter)
    out = net(x)
    assert ref.abs().sum() > 0
    torch.testing.assert_close(out, ref)
    out.sum().backward()
    for name, p in net.named_parameters():
        _assert_grad_close(p.grad, ref_grads[name])


def test_swap_in_sequential_with_init_hidden():
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Linear(F_IN, F),
        snn.Leaky(beta=0.8, init_hidden=True),
        nn.Linear(F, 3),
        snn.Leaky(beta=0.8, threshold=0.3, init_hidden=True, output=True),
    )
    x = torch.rand(10, B, F_IN) * 2

    def run(model):
        for module in model.modules():
            if hasattr(module, "reset_mem"):
                module.reset_mem()
        outs = [model(x[t]) for t in range(x.shape[0])]
        return torch.stack([o[0] for o in outs]), torch.stack([o[1] for o in outs])

    spk_ref, mem_ref = run(net)
    swap_snntorch_leaky(net)
    assert isinstance(net[1], LeakyStep) and isinstance(net[3], LeakyStep)
    spk, mem = run(net)
    assert spk_ref.sum() > 0
    assert torch.equal(spk, spk_ref)
    torch.testing.assert_close(mem, mem_ref)
    with pytest.raises(TypeError, match="mem"):
        net[1](torch.rand(B, F), torch.zeros(B, F))


def test_multistep_layers_in_sequential_with_snntorch_layers():
    # Multi-step layers (T, B, F) next to a snnTorch single-step layer driven per time step.
    torch.manual_seed(2)
    body = nn.Sequential(
        SpikingLinear(F_IN, F, beta=0.8),
        nn.Linear(F, 8),
        LIF(beta=0.9, threshold=0.5),
    )
    head = nn.Sequential(nn.Linear(8, 3), snn.Leaky(beta=0.9, init_hidden=True))
    x = torch.rand(T, B, F_IN, requires_grad=True)
    hidden = body(x)
    assert hidden.shape == (T, B, 8)
    out = torch.stack([head(hidden[t]) for t in range(T)])
    out_sum = out.sum() + hidden.sum()
    out_sum.backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    assert body[0].linear.weight.grad is not None


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
        _loss(spk, mem).backward()
        results.append((spk.detach(), mem.detach(), *[a.grad for a in args]))
    (spk_s, mem_s, *grads_s), (spk_r, mem_r, *grads_r) = results
    assert spk_s.shape == (9, 3, 11) and torch.equal(spk_s, spk_r)
    torch.testing.assert_close(mem_s, mem_r, rtol=1e-14, atol=1e-14)
    for ours, ref in zip(grads_s, grads_r, strict=True):
        torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_static_input_layers_match_their_repeated_input_gradients():
    gen = torch.Generator().manual_seed(9)
    layer = SpikingLinear(6, 5, steps=7, beta=0.8, threshold=0.3, output="both")
    x = torch.rand(4, 6, generator=gen)
    grads = []
    for x_in in (x, x.unsqueeze(0).repeat(7, 1, 1)):
        layer.zero_grad()
        x_req = x_in.clone().requires_grad_()
        spk, mem = layer(x_req)
        _loss(spk, mem).backward()
        grads.append((spk.detach(), layer.linear.weight.grad.clone(), layer.linear.bias.grad))
    assert torch.equal(grads[0][0], grads[1][0])
    for ours, ref in zip(grads[0][1:], grads[1][1:], strict=True):
        _assert_grad_close(ours, ref, rtol=1e-5)
    lif = LIF(beta=torch.full((2, 1, 1), 0.7), threshold=0.2)
    images = torch.rand(3, 2, 4, 4, generator=gen)
    assert torch.equal(lif(images, steps=5), lif(images.unsqueeze(0).expand(5, -1, -1, -1, -1)))
    with pytest.raises(ValueError, match="static x"):
        lif(torch.rand(4), steps=5)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        lif(images, steps=0)
