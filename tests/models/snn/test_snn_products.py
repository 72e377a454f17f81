"""The layers' products: the event-driven Linear for spike inputs and the oneDNN dense product,
with the values and gradients of nn.Linear."""

from __future__ import annotations

import pytest
import torch

from spikesub.models.snn import (
    DenseLinearFunction,
    EventLinear,
    EventLinearFunction,
    SpikingLinear,
    dense_linear,
    event_linear,
)


def _grads(x, linear, mode, weights):
    linear.zero_grad()
    x = x.clone().requires_grad_(True)
    y = event_linear(x, linear, mode)
    (y * weights).sum().backward()
    return y.detach(), x.grad, linear.weight.grad.clone(), linear.bias.grad.clone()


@pytest.mark.parametrize("density", [0.02, 0.5])
def test_event_path_equals_dense_linear(density):
    torch.manual_seed(0)
    x = (torch.rand(6, 8, 120) < density).float()
    linear = torch.nn.Linear(120, 50)
    weights = torch.randn(6, 8, 50)
    event = _grads(x, linear, "always", weights)
    dense = _grads(x, linear, "never", weights)
    for a, b in zip(event, dense, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_gradcheck_double():
    torch.manual_seed(1)
    linear = torch.nn.Linear(15, 9).double()
    x = (torch.rand(7, 15) < 0.3).double().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda a, w, b: EventLinearFunction.apply(a, w, b), (x, linear.weight, linear.bias)
    )


def test_auto_takes_event_path_only_for_sparse_cpu_input(monkeypatch):
    calls = []
    original = EventLinearFunction.apply
    monkeypatch.setattr(EventLinearFunction, "apply", lambda *a: calls.append(1) or original(*a))
    linear = torch.nn.Linear(100, 10)
    event_linear(torch.zeros(4, 2, 100), linear)
    assert calls == [1]
    event_linear(torch.ones(4, 2, 100), linear)  # dense input: nn.Linear
    assert calls == [1]


def test_forward_hooks_run_and_the_event_path_is_kept(monkeypatch):
    calls = []
    original = EventLinearFunction.apply
    monkeypatch.setattr(EventLinearFunction, "apply", lambda *a: calls.append(1) or original(*a))
    layer = SpikingLinear(50, 20, event_input="always")
    assert isinstance(layer.linear, EventLinear) and isinstance(layer.linear, torch.nn.Linear)
    seen = []
    layer.linear.register_forward_pre_hook(lambda mod, args: seen.append(args[0].shape))
    layer(torch.zeros(3, 2, 50))
    assert seen == [torch.Size([3, 2, 50])]
    assert calls == [1]  # a tap on the layer does not send it down the dense path
    layer.event_input = "never"
    assert layer.linear.event_input == "never"
    layer(torch.zeros(3, 2, 50))
    assert calls == [1]
    with pytest.raises(ValueError, match="event_input"):
        layer.event_input = "sometimes"
    # a plain nn.Linear put in the layer's place keeps the event-driven product
    layer.event_input = "always"
    layer.linear = torch.nn.Linear(50, 20)
    layer(torch.zeros(3, 2, 50))
    assert calls == [1, 1]


def test_spiking_linear_same_output_either_way():
    torch.manual_seed(2)
    x = (torch.rand(10, 4, 64) < 0.05).float()
    a = SpikingLinear(64, 32, event_input="always", output="membrane")
    b = SpikingLinear(64, 32, event_input="never", output="membrane")
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(a(x), b(x), rtol=1e-5, atol=1e-5)


def test_bad_event_input():
    with pytest.raises(ValueError, match="event_input"):
        SpikingLinear(4, 2, event_input="sometimes")


def _linear_grads(fn, x, weight, bias, upstream):
    x, weight, bias = (t.detach().clone().requires_grad_(True) for t in (x, weight, bias))
    out = fn(x, weight, bias)
    (out * upstream).sum().backward()
    return out.detach(), x.grad, weight.grad, bias.grad


def test_dense_linear_equals_f_linear_with_gradients():
    torch.manual_seed(3)
    x = torch.randn(5, 7, 96)
    weight, bias = torch.randn(40, 96), torch.randn(40)
    upstream = torch.randn(5, 7, 40)
    got = _linear_grads(dense_linear, x, weight, bias, upstream)
    want = _linear_grads(torch.nn.functional.linear, x, weight, bias, upstream)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN:UserWarning")
def test_dense_linear_takes_onednn_for_float32_cpu_only(monkeypatch):
    calls = []
    original = DenseLinearFunction.apply
    monkeypatch.setattr(DenseLinearFunction, "apply", lambda *a: calls.append(1) or original(*a))
    x, weight = torch.randn(3, 8), torch.randn(4, 8)
    dense_linear(x, weight)
    assert calls == [1] or not torch.backends.mkldnn.is_available()
    calls.clear()
    # float64: torch's own product, the same values bit for bit
    out = dense_linear(x.double(), weight.double())
    assert calls == [] and torch.equal(out, torch.nn.functional.linear(x.double(), weight.double()))
    with torch.backends.mkldnn.flags(enabled=False):  # switched off by the user: F.linear
        out = dense_linear(x, weight)
    assert calls == [] and torch.equal(out, torch.nn.functional.linear(x, weight))


def test_static_input_through_a_plain_linear_runs_its_hooks():
    """A plain nn.Linear put in a SpikingLinear: a static input goes through the layer's
    products too, and the Linear's hooks still run."""
    layer = SpikingLinear(30, 12, output="membrane")
    reference = SpikingLinear(30, 12, output="membrane", event_input="never")
    plain = torch.nn.Linear(30, 12)
    layer.linear = plain
    reference.linear.load_state_dict(plain.state_dict())
    seen = []
    plain.register_forward_hook(lambda mod, args, out: seen.append(out.shape))
    x = torch.rand(6, 30)
    torch.testing.assert_close(layer(x, steps=4), reference(x, steps=4), rtol=1e-5, atol=1e-6)
    assert seen == [torch.Size([6, 12])]


def test_dense_linear_second_derivatives_as_f_linear():
    """create_graph=True: the backward products are differentiable again (torch's operators)."""
    torch.manual_seed(4)
    x0 = torch.randn(6, 20)
    weight0 = torch.randn(5, 20)
    results = []
    for fn in (dense_linear, torch.nn.functional.linear):
        x = x0.clone().requires_grad_(True)
        weight = weight0.clone().requires_grad_(True)
        out = torch.tanh(fn(x, weight))
        (gx,) = torch.autograd.grad(out.sum(), x, create_graph=True)
        (gx.pow(2).sum()).backward()
        results.append((gx.detach(), weight.grad))
    for a, b in zip(*results, strict=True):  # float32 rounding of sums of ~40
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-4)
