"""snnTorch tutorial idioms after swap_snntorch_leaky: each runs unchanged and gives the
outputs of the unswapped snnTorch model."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

snn = pytest.importorskip("snntorch")
from snntorch import utils  # noqa: E402

import spikesub as ss  # noqa: E402
from spikesub.models.snn.snntorch_interop import LeakyStep  # noqa: E402

T = 25


def _x(batch: int = 3, features: int = 5, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    return torch.rand(T, batch, features) * 0.8


def _pair(net: nn.Module) -> tuple[nn.Module, nn.Module]:
    swapped = copy.deepcopy(net)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Leaky-only nets swap without a warning
        ss.swap_snntorch_leaky(swapped)
    return net, swapped


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_init_leaky_loop(reset):
    torch.manual_seed(1)
    fc = nn.Linear(5, 4)
    lif = snn.Leaky(beta=0.85, threshold=0.6, reset_mechanism=reset)
    swapped = ss.swap_snntorch_leaky(copy.deepcopy(lif))
    assert isinstance(swapped, LeakyStep)
    x = _x()
    outs = {}
    for key, layer in (("snntorch", lif), ("spikesub", swapped)):
        mem = layer.init_leaky()
        spks, mems = [], []
        for t in range(T):
            spk, mem = layer(fc(x[t]), mem)
            spks.append(spk)
            mems.append(mem)
        outs[key] = torch.stack(spks), torch.stack(mems)
    assert outs["snntorch"][0].sum() > 0
    assert torch.equal(outs["spikesub"][0], outs["snntorch"][0])
    _close(outs["spikesub"][1], outs["snntorch"][1])


def _hidden_net(reset: str = "subtract", **kwargs) -> nn.Sequential:
    torch.manual_seed(2)
    return nn.Sequential(
        nn.Linear(5, 6),
        snn.Leaky(beta=0.9, init_hidden=True, reset_mechanism=reset, **kwargs),
        nn.Linear(6, 3),
        snn.Leaky(beta=0.8, init_hidden=True, output=True, reset_mechanism=reset, **kwargs),
    )


def _run_hidden(net: nn.Module, x: torch.Tensor):
    utils.reset(net)
    spks, mems = [], []
    for t in range(x.shape[0]):
        spk, mem = net(x[t])
        spks.append(spk)
        mems.append(mem)
    return torch.stack(spks), torch.stack(mems)


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_init_hidden_sequential_with_output_and_utils_reset(reset):
    net, swapped = _pair(_hidden_net(reset))
    for seed in (0, 1):  # two batches of the same shape: utils.reset must zero the membranes
        x = _x(seed=seed) * 6
        spk_ref, mem_ref = _run_hidden(net, x)
        spk, mem = _run_hidden(swapped, x)
        assert spk_ref.sum() > 0
        assert torch.equal(spk, spk_ref)
        _close(mem, mem_ref)


def test_utils_reset_zeroes_swapped_membranes():
    _, swapped = _pair(_hidden_net())
    swapped(_x()[0])
    assert swapped[1].mem.abs().sum() > 0
    utils.reset(swapped)
    assert swapped[1].mem.abs().sum() == 0 and swapped[3].mem.abs().sum() == 0


def test_learn_beta_and_threshold_give_the_same_gradients():
    net, swapped = _pair(_hidden_net(learn_beta=True, learn_threshold=True))
    assert isinstance(swapped[1].beta, nn.Parameter)
    assert isinstance(swapped[1].threshold, nn.Parameter)
    x = _x() * 6
    grads = []
    for model in (net, swapped):
        model.zero_grad()
        spk, mem = _run_hidden(model, x)
        (mem.sum() + spk.sum()).backward()
        grads.append(
            [model[0].weight.grad, model[1].beta.grad, model[1].threshold.grad, model[3].beta.grad]
        )
    for ref, got in zip(*grads, strict=True):
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("neuron", ["Synaptic", "Alpha", "RLeaky"])
def test_other_neurons_stay_with_exactly_one_warning_naming_them(neuron):
    torch.manual_seed(3)
    options = {
        "Synaptic": {"alpha": 0.8, "beta": 0.9},
        "Alpha": {"alpha": 0.9, "beta": 0.8},
        "RLeaky": {"beta": 0.9, "linear_features": 4},
    }[neuron]
    other = getattr(snn, neuron)(init_hidden=True, **options)
    net = nn.Sequential(
        nn.Linear(5, 4),
        other,
        nn.Linear(4, 3),
        snn.Leaky(beta=0.8, init_hidden=True),
    )
    for fc in (net[0], net[2]):
        nn.init.uniform_(fc.weight, 0.0, 1.0)
    swapped = copy.deepcopy(net)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ss.swap_snntorch_leaky(swapped)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and neuron in messages[0]
    assert type(swapped[1]) is type(other)
    assert isinstance(swapped[3], LeakyStep)
    x = _x() * 6
    outs = []
    for model in (net, swapped):
        utils.reset(model)
        outs.append(torch.stack([model(x[t]) for t in range(T)]))
    assert outs[0].sum() > 0
    assert torch.equal(outs[1], outs[0])


def test_one_warning_for_several_neuron_types():
    net = nn.Sequential(
        nn.Linear(5, 4),
        snn.Synaptic(alpha=0.8, beta=0.9, init_hidden=True),
        nn.Sequential(nn.Linear(4, 4), snn.Alpha(alpha=0.9, beta=0.8, init_hidden=True)),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ss.swap_snntorch_leaky(net)
    assert len(caught) == 1
    assert "Alpha" in str(caught[0].message) and "Synaptic" in str(caught[0].message)


def test_reset_none_is_refused_by_the_multi_step_conversion():
    with pytest.raises(ValueError, match="none"):
        ss.from_snntorch_leaky(snn.Leaky(beta=0.9, reset_mechanism="none"))
