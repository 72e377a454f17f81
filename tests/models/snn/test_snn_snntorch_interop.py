"""snnTorch interop: converting Leaky layers, and swapping them in a user's own time loop."""

from __future__ import annotations

import pytest
import snntorch as snn
import torch
from snn_helpers import F_IN, B, F, T, assert_grad_close
from snntorch import surrogate as snn_surrogate
from torch import nn

from spikesub.models.snn import LIF, LeakyStep, from_snntorch_leaky, swap_snntorch_leaky


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
        assert_grad_close(p.grad, ref_grads[name])


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
