"""batch_first on the spiking layers, encoders and readouts, and the guard that refuses a
sequence whose time and batch axes are visibly swapped."""

from __future__ import annotations

import pytest
import torch

from spikesub.models.snn import encoders
from spikesub.models.snn.layers import (
    LIF,
    SpikingConv2d,
    SpikingLinear,
    last_membrane,
    spike_count,
    spike_rate,
    to_batch_first,
    to_time_first,
)
from spikesub.models.snn.validation import check_time_axis

T, B = 7, 3


def _copy_weights(dst: torch.nn.Module, src: torch.nn.Module) -> None:
    dst.load_state_dict(src.state_dict())


def test_lif_batch_first_is_the_time_first_result_transposed():
    x = torch.rand(T, B, 5, generator=torch.Generator().manual_seed(0))
    ref_spk, ref_mem = LIF(0.8, 0.3, output="both")(x)
    spk, mem = LIF(0.8, 0.3, output="both", batch_first=True)(to_batch_first(x))
    assert spk.shape == (B, T, 5)
    assert torch.equal(spk, ref_spk.transpose(0, 1))
    assert torch.equal(mem, ref_mem.transpose(0, 1))
    # a static input gives (B, T, ...) too
    static = LIF(0.8, 0.3, batch_first=True)(x[0], steps=T)
    assert torch.equal(static, LIF(0.8, 0.3)(x[0], steps=T).transpose(0, 1))


def test_recurrent_lif_batch_first_matches_time_first_and_backpropagates():
    torch.manual_seed(1)
    x = torch.rand(T, B, 6)
    ref = LIF(0.9, 0.5, recurrent=True, num_features=6)
    lif = LIF(0.9, 0.5, recurrent=True, num_features=6, batch_first=True)
    _copy_weights(lif, ref)
    xb = to_batch_first(x).clone().requires_grad_()
    out = lif(xb)
    assert torch.equal(out, ref(x).transpose(0, 1))
    out.sum().backward()
    assert xb.grad is not None and xb.grad.shape == (B, T, 6)


def test_spiking_linear_and_conv_batch_first():
    torch.manual_seed(2)
    x = torch.rand(T, B, 4)
    ref = SpikingLinear(4, 5, beta=0.8, threshold=0.2)
    layer = SpikingLinear(4, 5, beta=0.8, threshold=0.2, batch_first=True)
    _copy_weights(layer, ref)
    assert torch.equal(layer(to_batch_first(x)), ref(x).transpose(0, 1))
    assert layer(x[0], steps=T).shape == (B, T, 5)
    images = torch.rand(T, B, 2, 6, 6)
    cref = SpikingConv2d(2, 3, 3, padding=1, beta=0.8, threshold=0.2)
    conv = SpikingConv2d(2, 3, 3, padding=1, beta=0.8, threshold=0.2, batch_first=True)
    _copy_weights(conv, cref)
    out = conv(to_batch_first(images))
    assert out.shape == (B, T, 3, 6, 6)
    assert torch.equal(out, cref(images).transpose(0, 1))


def test_encoders_batch_first_give_the_same_spikes_transposed():
    x = torch.rand(B, 4, generator=torch.Generator().manual_seed(3))
    for function, kwargs in (
        (encoders.poisson, {"seed": 5}),
        (encoders.latency, {"linear": True}),
        (encoders.latency, {}),
        (encoders.direct, {}),
    ):
        ref = function(x, T, **kwargs)
        out = function(x, T, **kwargs, batch_first=True)
        assert out.shape == (B, T, 4)
        assert torch.equal(out, ref.transpose(0, 1)), function.__name__
    with pytest.raises(ValueError, match="scalar"):
        encoders.poisson(torch.tensor(0.5), T, seed=0, batch_first=True)
    with pytest.raises(TypeError, match="batch_first"):
        encoders.direct(x, T, batch_first="yes")


def test_readouts_batch_first():
    spk = torch.rand(T, B, 4)
    assert torch.equal(spike_count(to_batch_first(spk), batch_first=True), spike_count(spk))
    assert torch.equal(spike_rate(to_batch_first(spk), batch_first=True), spike_rate(spk))
    assert torch.equal(last_membrane(to_batch_first(spk), batch_first=True), spk[-1])
    assert torch.equal(to_time_first(to_batch_first(spk)), spk)
    with pytest.raises(ValueError, match=r"\(B, T, \.\.\.\)"):
        to_time_first(torch.zeros(4))


def test_layers_with_declared_steps_refuse_a_batch_first_tensor():
    x = torch.rand(B, T, 4)  # (B, T, F) where (T, B, F) is expected
    message = r"x of shape \(3, 7, 4\) looks like \(B, T, \.\.\.\).*pass batch_first=True"
    with pytest.raises(ValueError, match=message):
        SpikingLinear(4, 5, steps=T)(x)
    with pytest.raises(ValueError, match=message):
        LIF(steps=T)(x)
    with pytest.raises(ValueError, match=message):
        LIF(recurrent=True, num_features=4, steps=T)(x)
    with pytest.raises(ValueError, match=r"shape \(3, 7, 2, 5, 5\).*batch_first=True"):
        SpikingConv2d(2, 3, 3, steps=T)(torch.rand(B, T, 2, 5, 5))
    # the fix the message gives works
    assert SpikingLinear(4, 5, steps=T, batch_first=True)(x).shape == (B, T, 5)
    # and the other way round: a time-first tensor given to a batch-first layer
    with pytest.raises(ValueError, match=r"looks like \(T, B, \.\.\.\).*batch_first=False"):
        SpikingLinear(4, 5, steps=T, batch_first=True)(torch.rand(T, B, 4))


def test_guard_lets_through_what_it_cannot_tell_apart():
    layer = SpikingLinear(4, 5, steps=T)
    assert layer(torch.rand(T, B, 4)).shape == (T, B, 5)
    assert layer(torch.rand(T, T, 4)).shape == (T, T, 5)  # square: ambiguous, allowed
    assert layer(torch.rand(2, B, 4)).shape == (2, B, 5)  # another length: allowed
    assert layer(torch.rand(B, 4)).shape == (T, B, 5)  # static input
    LIF()(torch.rand(B, T, 4))  # no declared steps: nothing to compare with
    check_time_axis("x", torch.rand(4), 4)  # one dimension: nothing to compare


def test_batch_first_and_steps_are_checked():
    with pytest.raises(TypeError, match="batch_first"):
        LIF(batch_first=1)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        LIF(steps=0)
    assert "batch_first=True" in repr(LIF(batch_first=True, steps=3))


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_lif_sequence_batch_first_is_the_time_first_result_transposed(backend):
    from spikesub.models.snn.functional import lif_sequence

    x = torch.rand(7, 3, 5, dtype=torch.float64, requires_grad=True)  # (T, B, F)
    spk, mem = lif_sequence(x, 0.8, 0.3, backend=backend)
    xb = x.detach().transpose(0, 1).clone().requires_grad_(True)  # (B, T, F)
    spk_b, mem_b = lif_sequence(xb, 0.8, 0.3, backend=backend, batch_first=True)
    assert spk_b.shape == (3, 7, 5)
    torch.testing.assert_close(spk_b, spk.transpose(0, 1))
    torch.testing.assert_close(mem_b, mem.transpose(0, 1))
    mem.sum().backward()
    mem_b.sum().backward()
    torch.testing.assert_close(xb.grad, x.grad.transpose(0, 1))
    with pytest.raises(ValueError, match=r"\(B, T, F\) with batch_first"):
        lif_sequence(xb[0], 0.8, batch_first=True)
