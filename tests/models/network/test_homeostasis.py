"""Inhibitory homeostasis in the network loops: each neuron's inhibitory input scaled by its
own gain, the gain driven by its rate estimate towards its target rate.

The kernels' update is replayed here from the spike trains (rates and gains, same float
operations); the backends agree bit for bit (CUDA on the simulator: spikes exactly); the rates
settle near their targets, heterogeneous ones included; the state saves and continues.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from reservoir_cases import assert_same_result

import spikesub as ss
from spikesub.models.network.homeostasis import InhibitoryHomeostasis, lognormal_targets
from spikesub.models.network.reservoir import SpikingReservoir


def _lif_network(n=200, seed=1, bias=16.0):
    exc = np.arange(n) < int(0.8 * n)
    v_init = np.random.default_rng(seed).uniform(-65.0, -50.0, n)
    pop = ss.LIFPopulation(
        n, tau_ms=20.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0, refractory_ms=2.0,
        excitatory=exc, v_init=v_init,
    )  # fmt: skip
    conn = ss.random_connectivity(n, n, p=0.1, seed=seed)
    weights = ss.dale_weights(conn, exc, w_exc=1.0, w_inh=4.0, seed=seed + 1)
    return pop, weights, bias


def _reservoir(backend, homeostasis, n=200, n_threads=None, synapse="delta", bias=16.0):
    pop, weights, bias = _lif_network(n, bias=bias)
    return ss.LIFReservoir(
        pop, weights, bias_current=bias, noise_std=5.0, synapse=synapse, backend=backend,
        seed=3, homeostasis=homeostasis, n_threads=n_threads,
    )  # fmt: skip


def test_a_frozen_gain_is_the_same_as_scaled_inhibitory_weights():
    """learning_rate 0 keeps every gain at initial_gain: delivery is then that of weights whose
    inhibitory synapses are scaled by it (weights and gain exact in binary: same bits)."""
    pop, weights, bias = _lif_network()
    scaled = np.where(weights.weights < 0, weights.weights * 1.5, weights.weights)
    frozen = InhibitoryHomeostasis(learning_rate=0.0, initial_gain=1.5)
    a = ss.LIFReservoir(pop, weights, bias_current=bias, noise_std=5.0, seed=3, homeostasis=frozen)
    b = ss.LIFReservoir(pop, weights.with_weights(scaled), bias_current=bias, noise_std=5.0, seed=3)
    ra, rb = (r.run(200.0, record_state=("v",)) for r in (a, b))
    assert len(ra.spikes) > 100
    assert_same_result(ra, rb)
    np.testing.assert_array_equal(a.inhibitory_gain, 1.5)


def _replay(result, n_steps, homeostasis, n, dt_ms, excitatory=None):
    """Rates and gains after ``n_steps`` steps, from the spike train (the kernels' update)."""
    args = homeostasis.kernel_args(n, dt_ms, excitatory)
    rate = np.zeros(n)
    gain = np.full(n, homeostasis.initial_gain)
    steps = np.round(result.spikes.times_ms / dt_ms).astype(np.int64)
    by_step = np.split(result.spikes.indices, np.searchsorted(steps, np.arange(1, n_steps)))
    for spikes in by_step:
        rate *= args.rate_decay
        rate[spikes] += args.rate_jump_hz
        gain = np.minimum(np.maximum(gain + args.gain_step * (rate - args.target_hz), 0.0), 10.0)
    return rate, gain


@pytest.mark.parametrize(("backend", "neurons"), [("numpy", "all"), ("numba", "excitatory")])
def test_rates_and_gains_follow_the_spikes_as_documented(backend, neurons):
    homeostasis = InhibitoryHomeostasis(
        target_rate_hz=5.0, tau_ms=100.0, learning_rate=0.5, neurons=neurons
    )
    reservoir = _reservoir(backend, homeostasis)
    result = reservoir.run(300.0)
    excitatory = reservoir.population.excitatory
    rate, gain = _replay(result, 3000, homeostasis, 200, 0.1, excitatory)
    if neurons == "excitatory":
        np.testing.assert_array_equal(gain[~excitatory], 1.0)
    np.testing.assert_array_equal(reservoir.rate_estimate_hz, rate)
    np.testing.assert_array_equal(reservoir.inhibitory_gain, gain)
    assert gain.max() > 1.05  # the neurons fire above 5 Hz: their inhibition grows
    # the estimate is an exponential filter of unit area: its mean is about the rate
    counted = len(result.spikes.times_ms[result.spikes.times_ms >= 200.0]) / 200 / 0.1
    assert rate.mean() == pytest.approx(counted, rel=0.3)


@pytest.mark.parametrize("synapse", ["delta", "exponential"])
def test_numpy_and_numba_serial_and_threaded_agree_bit_for_bit(synapse):
    homeostasis = InhibitoryHomeostasis(target_rate_hz=5.0, tau_ms=100.0, learning_rate=1.0)
    runs = [
        _reservoir("numpy", homeostasis, synapse=synapse),
        _reservoir("numba", homeostasis, synapse=synapse, n_threads=1),
        _reservoir("numba", homeostasis, synapse=synapse, n_threads=2),
    ]
    results = [r.run(150.0, record_state=("v",)) for r in runs]
    assert len(results[0].spikes) > 100
    for other, reservoir in zip(results[1:], runs[1:], strict=True):
        assert_same_result(results[0], other)
        np.testing.assert_array_equal(reservoir.inhibitory_gain, runs[0].inhibitory_gain)


def test_izhikevich_networks_adapt_too():
    homeostasis = InhibitoryHomeostasis(target_rate_hz=3.0, tau_ms=100.0, learning_rate=1.0)
    out = []
    for backend in ("numpy", "numba"):
        reservoir = ss.IzhikevichReservoir.izhikevich_2003(80, 20, seed=2, backend=backend)
        adapted = SpikingReservoir.for_population(
            reservoir.population, reservoir.weights, noise_std=reservoir.noise_std,
            backend=backend, seed=2, homeostasis=homeostasis,
        )  # fmt: skip
        out.append((adapted.run(200.0), adapted.inhibitory_gain))
    assert_same_result(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])
    assert not np.all(out[0][1] == 1.0)


def test_rates_settle_near_their_targets():
    free = _reservoir("numba", None, n=400)
    free.run(1000.0)
    free_rate = len(free.run(1000.0).spikes) / 400
    homeostasis = InhibitoryHomeostasis(target_rate_hz=5.0, tau_ms=200.0, learning_rate=1.0)
    adapted = _reservoir("numba", homeostasis, n=400)
    adapted.run(3000.0)
    rate = len(adapted.run(1000.0).spikes) / 400
    assert free_rate > 12.0  # without it the network fires well above the target
    assert 3.5 < rate < 7.0


def test_heterogeneous_targets_give_heterogeneous_rates():
    targets = lognormal_targets(400, 5.0, cv=0.8, seed=4)
    assert targets.mean() == pytest.approx(5.0, rel=0.15)
    homeostasis = InhibitoryHomeostasis(target_rate_hz=targets, tau_ms=200.0, learning_rate=2.0)
    reservoir = _reservoir("numba", homeostasis, n=400)
    reservoir.run(3000.0)
    result = reservoir.run(2000.0)
    rates = np.bincount(result.spikes.indices, minlength=400) / 2.0
    assert np.corrcoef(rates, targets)[0, 1] > 0.5


@pytest.mark.cuda
def test_cuda_with_homeostasis_matches_numpy():
    homeostasis = InhibitoryHomeostasis(target_rate_hz=5.0, tau_ms=50.0, learning_rate=2.0)
    out = []
    for backend in ("numpy", "cuda"):
        reservoir = _reservoir(backend, homeostasis, n=30, bias=25.0)
        out.append((reservoir.run(10.0), reservoir.inhibitory_gain))
    (a, gain_a), (b, gain_b) = out
    assert len(a.spikes) > 10
    np.testing.assert_array_equal(a.spikes.times_ms, b.spikes.times_ms)
    np.testing.assert_array_equal(a.spikes.indices, b.spikes.indices)
    np.testing.assert_allclose(gain_b, gain_a, rtol=1e-12)


def test_a_saved_adapting_reservoir_continues_bit_for_bit(tmp_path):
    homeostasis = InhibitoryHomeostasis(
        target_rate_hz=lognormal_targets(200, 5.0, seed=1), tau_ms=100.0, learning_rate=1.0
    )
    whole = _reservoir("numba", homeostasis)
    reference = whole.run(200.0)
    first = _reservoir("numba", homeostasis)
    first.run(100.0)
    loaded = SpikingReservoir.load(first.save(tmp_path / "adapting"))
    assert loaded.homeostasis is not None
    np.testing.assert_array_equal(loaded.inhibitory_gain, first.inhibitory_gain)
    rest = loaded.run(100.0)
    later = reference.spikes.times_ms >= 100.0 - 1e-9
    np.testing.assert_array_equal(rest.spikes.indices, reference.spikes.indices[later])
    np.testing.assert_array_equal(loaded.inhibitory_gain, whole.inhibitory_gain)
    assert loaded.config()["homeostasis"]["tau_ms"] == 100.0


def test_frozen_gains_stay_and_keep_scaling():
    import dataclasses

    homeostasis = InhibitoryHomeostasis(target_rate_hz=5.0, tau_ms=100.0, learning_rate=1.0)
    reservoir = _reservoir("numba", homeostasis)
    reservoir.run(200.0)
    learned, state = reservoir.inhibitory_gain, reservoir.state_dict()
    assert not np.all(learned == 1.0)
    reservoir.set_homeostasis(dataclasses.replace(homeostasis, learning_rate=0.0))
    frozen = reservoir.run(100.0)
    np.testing.assert_array_equal(reservoir.inhibitory_gain, learned)
    # the same 100 ms from the same state without the gains: other spikes
    reservoir.set_homeostasis(None)
    reservoir.load_state_dict(state)
    unscaled = reservoir.run(100.0)
    assert len(frozen.spikes) != len(unscaled.spikes)


def test_bad_settings_are_refused_naming_them():
    pop, weights, _ = _lif_network(n=20)
    with pytest.raises(ValueError, match="target_rate_hz must be finite and > 0"):
        InhibitoryHomeostasis(target_rate_hz=0.0)
    with pytest.raises(ValueError, match="tau_ms"):
        InhibitoryHomeostasis(tau_ms=-1.0)
    with pytest.raises(ValueError, match="initial_gain"):
        InhibitoryHomeostasis(initial_gain=20.0, gain_max=10.0)
    with pytest.raises(ValueError, match=r"target_rate_hz must be a number or have shape \(20,\)"):
        ss.LIFReservoir(pop, weights, homeostasis=InhibitoryHomeostasis(np.ones(3)))
    with pytest.raises(ValueError, match="these weights have none"):
        ss.LIFReservoir(pop, weights.with_weights(np.abs(weights.weights)),
                        homeostasis=InhibitoryHomeostasis())  # fmt: skip
    with pytest.raises(ValueError, match="neurons must be 'all' or 'excitatory'"):
        InhibitoryHomeostasis(neurons="inhibitory")
    with pytest.raises(TypeError, match="homeostasis must be an InhibitoryHomeostasis"):
        ss.LIFReservoir(pop, weights, homeostasis={"target_rate_hz": 5.0})
    assert math.isclose(InhibitoryHomeostasis().kernel_args(3, 0.1).rate_jump_hz, 1.0)
