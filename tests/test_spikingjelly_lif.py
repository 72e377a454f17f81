"""SpikingJelly's LIFNode as the benchmark configures it, against snnTorch's Leaky.

``experiments/bench_snn.py`` (:mod:`spikesub.bench.snn.workloads`) maps snnTorch's
``Leaky(beta=0.9, threshold=1, reset_mechanism="subtract", spike_grad=atan(2))`` to
``LIFNode(tau=1 / (1 - beta), decay_input=False, v_reset=None, detach_reset=True,
surrogate_function=ATan(2))``. These tests run SpikingJelly for real and pin down what is
equal (leak, threshold, surrogate, the spikes up to each neuron's first one, the gradients
where no neuron has fired) and the one thing that is not: SpikingJelly subtracts the
threshold before the next leak, snnTorch after it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("snntorch")
pytest.importorskip(
    "spikingjelly", reason="SpikingJelly is in the bench extra (README, SNN benchmark)"
)

import snntorch as snn  # noqa: E402
from snntorch import surrogate  # noqa: E402


@pytest.fixture(scope="module")
def bench():
    """The benchmark's child side, where the neurons are configured."""
    from spikesub.bench.snn import workloads

    return workloads


def _spikingjelly(bench, x: torch.Tensor):
    """Spikes ``(T, B, F)`` and membranes after each step's reset, from a fresh LIFNode."""
    lif = bench.spikingjelly_lif(store_v_seq=True)
    spk = lif(x)
    return spk, lif.v_seq


def _snntorch(bench, x: torch.Tensor):
    """Spikes and membranes ``(T, B, F)`` of snnTorch's Leaky, step by step."""
    leaky = snn.Leaky(beta=bench.BETA, threshold=bench.THRESHOLD, spike_grad=surrogate.atan(2.0))
    mem = leaky.init_leaky()
    spks, mems = [], []
    for x_t in x:
        spk, mem = leaky(x_t, mem)
        spks.append(spk)
        mems.append(mem)
    return torch.stack(spks), torch.stack(mems)


def _input(scale: float, shape=(30, 4, 50), seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=gen) * scale


def test_mapping_is_beta_as_tau_with_subtractive_detached_reset(bench):
    lif = bench.spikingjelly_lif()
    assert lif.tau == pytest.approx(1.0 / (1.0 - bench.BETA))
    assert lif.decay_input is False
    assert lif.v_reset is None  # soft reset: subtract the threshold
    assert lif.detach_reset is True  # snnTorch's reset carries no gradient
    assert lif.v_threshold == bench.THRESHOLD
    assert lif.step_mode == "m"


def test_lifnode_follows_the_reset_before_leak_recursion_exactly(bench):
    """Float32 bit for bit: h = v - v / tau + x; s = (h >= threshold); v = h - s * threshold."""
    x = _input(0.6)
    spk, v_seq = _spikingjelly(bench, x)
    tau = np.float32(bench.SJ_TAU)
    th = np.float32(bench.THRESHOLD)
    v = np.zeros(x.shape[1:], np.float32)
    for t, x_t in enumerate(x.numpy()):
        h = v - v / tau + x_t
        s = (h >= th).astype(np.float32)
        v = h - s * th
        np.testing.assert_array_equal(spk[t].detach().numpy(), s)
        np.testing.assert_array_equal(v_seq[t].detach().numpy(), v)


def test_spikes_equal_snntorch_up_to_each_neurons_first_spike(bench):
    x = _input(0.6)
    sj, _ = _spikingjelly(bench, x)
    st, _ = _snntorch(bench, x)
    sj, st = sj.detach().numpy(), st.detach().numpy()
    fired = st.any(axis=0)
    assert fired.mean() > 0.9  # most neurons fire: the comparison has something to see
    first = np.where(fired, st.argmax(axis=0), st.shape[0] - 1)
    steps = np.arange(st.shape[0])[:, None, None]
    until_first = steps <= first
    np.testing.assert_array_equal(sj[until_first], st[until_first])
    # afterwards the membranes differ, and SpikingJelly fires more often (see next test)
    assert sj.sum() > st.sum()


def test_the_difference_is_the_threshold_left_undecayed(bench):
    """One neuron, constant input: after its first spike at step k, SpikingJelly's membrane
    at k + 1 is higher than snnTorch's by (1 - beta) * threshold (snnTorch subtracts the
    threshold after the leak, SpikingJelly before it)."""
    x = torch.full((12, 1, 1), 0.3)
    sj, v_seq = _spikingjelly(bench, x)
    st, mem = _snntorch(bench, x)
    k = int(st.flatten().argmax())
    assert int(sj.flatten().argmax()) == k and st.flatten()[k] == 1
    h_next = v_seq[k + 1] + sj[k + 1] * bench.THRESHOLD  # SpikingJelly's membrane before reset
    diff = float(h_next - mem[k + 1])
    assert diff == pytest.approx((1 - bench.BETA) * bench.THRESHOLD, rel=1e-5)


@pytest.mark.parametrize(("scale", "n_steps"), [(0.09, 30), (3.0, 1)])
def test_gradients_equal_snntorch_where_no_reset_happens(bench, scale, n_steps):
    """Without a reset (no spike before the last step) the two neurons are the same function:
    the same spikes and the same surrogate gradients, to float32 rounding."""
    x = _input(scale, shape=(n_steps, 4, 50), seed=1)
    weights = torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    grads = []
    for run in (_spikingjelly, _snntorch):
        xg = x.clone().requires_grad_(True)
        spk, _ = run(bench, xg)
        (spk * weights).sum().backward()
        grads.append((spk.detach(), xg.grad))
    (sj_spk, sj_grad), (st_spk, st_grad) = grads
    torch.testing.assert_close(sj_spk, st_spk, rtol=0, atol=0)
    if n_steps > 1:
        assert st_spk.sum() == 0  # a subthreshold input: the leak alone
    else:
        assert st_spk.sum() > 0  # one step, with spikes
    scale_of_grads = float(st_grad.abs().max())
    torch.testing.assert_close(sj_grad, st_grad, rtol=1e-5, atol=1e-6 * scale_of_grads)
