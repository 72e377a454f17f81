"""Spiking layers: snnTorch equivalence, image and recurrent inputs, static inputs, readouts."""

from __future__ import annotations

import pytest
import snntorch as snn
import torch
from snn_helpers import F_IN, SURROGATE_CASES, B, F, T, assert_grad_close, weighted_loss
from torch import nn

from spikesub.models.snn import (
    LIF,
    SpikingConv2d,
    SpikingLinear,
    last_membrane,
    lif_sequence,
    spike_count,
    spike_rate,
)


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
    weighted_loss(spk_ref, mem_ref).backward()

    x_ours = x.clone().requires_grad_()
    spk, mem = ours(x_ours)
    weighted_loss(spk, mem).backward()

    assert 10 < int(spk_ref.sum()) < spk_ref.numel() - 10  # a regime with spikes and resets
    torch.testing.assert_close(spk, spk_ref, rtol=0, atol=0)
    torch.testing.assert_close(mem, mem_ref, rtol=1e-6, atol=1e-6)
    assert_grad_close(x_ours.grad, x_ref.grad)
    assert_grad_close(ours.linear.weight.grad, fc.weight.grad)
    assert_grad_close(ours.linear.bias.grad, fc.bias.grad)
    assert_grad_close(ours.lif.beta.grad, leaky.beta.grad)
    assert_grad_close(ours.lif.threshold.grad, leaky.threshold.grad)


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
    weighted_loss(spk, mem).backward()

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
    weighted_loss(spk_ref, mem_ref).backward()
    assert spk_ref.sum() > 0
    torch.testing.assert_close(spk, spk_ref, rtol=0, atol=0)
    torch.testing.assert_close(mem, mem_ref)
    assert_grad_close(x_ours.grad, x_ref.grad)
    for ours, p in zip(grads_ours, lin.parameters(), strict=True):
        assert_grad_close(ours, p.grad)


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


def test_static_input_layers_match_their_repeated_input_gradients():
    gen = torch.Generator().manual_seed(9)
    layer = SpikingLinear(6, 5, steps=7, beta=0.8, threshold=0.3, output="both")
    x = torch.rand(4, 6, generator=gen)
    grads = []
    for x_in in (x, x.unsqueeze(0).repeat(7, 1, 1)):
        layer.zero_grad()
        x_req = x_in.clone().requires_grad_()
        spk, mem = layer(x_req)
        weighted_loss(spk, mem).backward()
        grads.append((spk.detach(), layer.linear.weight.grad.clone(), layer.linear.bias.grad))
    assert torch.equal(grads[0][0], grads[1][0])
    for ours, ref in zip(grads[0][1:], grads[1][1:], strict=True):
        assert_grad_close(ours, ref, rtol=1e-5)
    lif = LIF(beta=torch.full((2, 1, 1), 0.7), threshold=0.2)
    images = torch.rand(3, 2, 4, 4, generator=gen)
    assert torch.equal(lif(images, steps=5), lif(images.unsqueeze(0).expand(5, -1, -1, -1, -1)))
    with pytest.raises(ValueError, match="static x"):
        lif(torch.rand(4), steps=5)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        lif(images, steps=0)
