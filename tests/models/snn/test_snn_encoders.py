"""Spike encoders: shapes, statistics, determinism, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikesub.models.snn.encoders import direct, latency, poisson


def test_direct_repeats_and_backpropagates():
    x = torch.rand(3, 4, requires_grad=True)
    seq = direct(x, 5)
    assert seq.shape == (5, 3, 4)
    assert all(torch.equal(seq[t], x) for t in range(5))
    seq.sum().backward()
    torch.testing.assert_close(x.grad, torch.full((3, 4), 5.0))


def test_poisson_rate_matches_probability():
    probs = torch.tensor([0.0, 0.05, 0.3, 0.7, 1.0]).repeat(400)  # 400 neurons per level
    spikes = poisson(probs, 200, seed=7)
    assert spikes.shape == (200, 2000) and spikes.dtype == torch.float32
    assert set(torch.unique(spikes).tolist()) <= {0.0, 1.0}
    rates = spikes.mean(0).view(400, 5).mean(0)
    n = 200 * 400
    for p, r in zip(probs[:5].tolist(), rates.tolist(), strict=True):
        sd = np.sqrt(p * (1 - p) / n)
        assert abs(r - p) <= 5 * sd + 1e-12


def test_poisson_counts_are_binomial_and_independent_over_time():
    spikes = poisson(torch.full((2000,), 0.25, dtype=torch.float64), 40, seed=1)
    counts = spikes.sum(0).numpy()
    assert spikes.dtype == torch.float64
    assert counts.var() == pytest.approx(40 * 0.25 * 0.75, rel=0.15)
    # successive steps uncorrelated
    a, b = spikes[:-1].flatten().numpy(), spikes[1:].flatten().numpy()
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.02


def test_poisson_seeding():
    x = torch.rand(50)
    assert torch.equal(poisson(x, 10, seed=3), poisson(x, 10, seed=3))
    assert not torch.equal(poisson(x, 10, seed=3), poisson(x, 10, seed=4))
    rng1, rng2 = np.random.default_rng(9), np.random.default_rng(9)
    assert torch.equal(poisson(x, 10, seed=rng1), poisson(x, 10, seed=rng2))
    g1, g2 = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    assert torch.equal(poisson(x, 10, seed=g1), poisson(x, 10, seed=g2))


@pytest.mark.parametrize("linear", [True, False])
def test_latency_one_spike_larger_first(linear):
    x = torch.tensor([0.2, 0.4, 0.6, 0.8, 1.0])
    spikes = latency(x, 50, tau_steps=30.0, threshold=0.1, linear=linear)
    assert spikes.shape == (50, 5)
    torch.testing.assert_close(spikes.sum(0), torch.ones(5))
    times = spikes.argmax(0)
    assert torch.all(times[:-1] > times[1:])  # larger value, earlier spike


def test_latency_formulas():
    x = torch.tensor([0.0, 0.5, 1.0])
    times = latency(x, 11, linear=True).argmax(0)
    assert times.tolist() == [10, 5, 0]
    x = torch.tensor([0.05, 0.3, 1.0], dtype=torch.float64)
    spikes = latency(x, 100, tau_steps=20.0, threshold=0.1)
    assert spikes[:, 0].sum() == 0  # below threshold: silent
    expected = round(20.0 * np.log(0.3 / 0.2))
    assert int(spikes[:, 1].argmax()) == expected
    assert int(spikes[:, 2].argmax()) == round(20.0 * np.log(1 / 0.9))
    # spike times past the window are dropped
    assert latency(torch.tensor([0.11]), 5, tau_steps=20.0, threshold=0.1).sum() == 0


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: poisson(torch.tensor([1.5]), 3), ValueError, r"x must lie in \[0, 1\]"),
        (lambda: poisson(torch.tensor([-0.1]), 3), ValueError, r"x must lie in \[0, 1\]"),
        (lambda: poisson(torch.tensor([float("nan")]), 3), ValueError, "non-finite"),
        (lambda: poisson(torch.tensor([0.5]), 0), ValueError, "steps must be an integer >= 1"),
        (lambda: poisson(torch.tensor([0.5]), 2.5), TypeError, "steps"),
        (lambda: poisson(torch.tensor([0.5]), 2, seed="a"), TypeError, "seed"),
        (lambda: poisson([0.5], 2), TypeError, "x must be a torch.Tensor"),
        (lambda: direct(torch.tensor([1, 2]), 2), TypeError, "floating-point"),
        (lambda: direct(torch.rand(2), 0), ValueError, "steps"),
        (lambda: latency(torch.rand(2), 5, tau_steps=0.0), ValueError, "tau_steps"),
        (lambda: latency(torch.rand(2), 5, threshold=1.0), ValueError, "threshold"),
        (lambda: latency(torch.tensor([2.0]), 5), ValueError, "x must lie"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
