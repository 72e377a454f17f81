"""SimulationResult.traces: filtered spike trains sampled per window, against a brute-force sum."""

from __future__ import annotations

import numpy as np
import pytest

from spikesub.models.network.monitors import SimulationResult, SpikeTrains
from spikesub.models.network.reservoir import IzhikevichReservoir


def _result(times_ms, indices, n_neurons=3, n_steps=100, dt_ms=0.5, t_start_ms=10.0):
    spikes = SpikeTrains(
        np.asarray(times_ms, float), np.asarray(indices, np.int32), n_neurons, t_start_ms,
        n_steps * dt_ms,
    )  # fmt: skip
    return SimulationResult(
        spikes=spikes,
        population_counts=np.zeros(n_steps, np.int32),
        excitatory=np.ones(n_neurons, bool),
        dt_ms=dt_ms,
        backend="numpy",
        t_start_ms=t_start_ms,
    )


def _brute_force(times_ms, indices, sample_times, n_neurons, tau_ms):
    out = np.zeros((len(sample_times), n_neurons))
    for j, t in enumerate(sample_times):
        for s, i in zip(times_ms, indices, strict=True):
            if s < t:
                out[j, i] += np.exp(-(t - s) / tau_ms)
    return out


@pytest.mark.parametrize("sample_ms", [None, 0.5, 2.5, 7.0])
def test_traces_equal_the_sum_over_past_spikes(sample_ms):
    rng = np.random.default_rng(1)
    steps = np.sort(rng.choice(100, 30, replace=False))
    times = 10.0 + steps * 0.5
    neurons = rng.integers(0, 3, 30)
    result = _result(times, neurons)
    t, traces = result.traces(tau_ms=4.0, sample_ms=sample_ms)
    per = 1 if sample_ms is None else int(round(sample_ms / 0.5))
    assert traces.shape == (100 // per, 3)
    np.testing.assert_allclose(t, 10.0 + (np.arange(100 // per) + 1) * per * 0.5)
    np.testing.assert_allclose(traces, _brute_force(times, neurons, t, 3, 4.0), rtol=1e-12)


def test_one_spike_decays_with_tau():
    result = _result([10.0], [1])  # at the run's first step
    t, traces = result.traces(tau_ms=5.0)
    np.testing.assert_allclose(traces[:, 1], np.exp(-(t - 10.0) / 5.0))
    assert np.all(traces[:, [0, 2]] == 0.0)


def test_traces_of_a_run():
    res = IzhikevichReservoir.izhikevich_2003(80, 20, seed=2, backend="numba")
    out = res.run(200.0)
    t, traces = out.traces(tau_ms=20.0, sample_ms=1.0)
    assert traces.shape == (200, 100) and t[0] == 1.0 and t[-1] == 200.0
    assert len(out.spikes) > 100
    picks = [10, 60, 150, 199]
    expected = _brute_force(out.spikes.times_ms, out.spikes.indices, t[picks], 100, 20.0)
    np.testing.assert_allclose(traces[picks], expected, rtol=1e-10, atol=1e-12)


def test_traces_refuse_bad_arguments():
    result = _result([10.0], [0])
    with pytest.raises(ValueError, match="tau_ms"):
        result.traces(tau_ms=0.0)
    with pytest.raises(ValueError, match="whole number of steps"):
        result.traces(tau_ms=5.0, sample_ms=0.7)
    no_spikes = _result([], [])
    no_spikes.spikes = None
    with pytest.raises(ValueError, match="record_spikes"):
        no_spikes.traces(tau_ms=5.0)
