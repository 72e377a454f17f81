"""The cue-driven reservoir and its readout traces."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikesub.whatwhen.reservoir_traces import CueReservoir, ReservoirParams, filter_spikes


def test_filter_spikes_known_answer():
    x = filter_spikes(np.array([2.5, 2.9, 4.0]), np.array([1, 0, 1]), 3, 6, tau_ms=10.0)
    d = math.exp(-0.1)
    assert x.shape == (6, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 2], 0.0)
    np.testing.assert_allclose(x[:, 0], [0, 0, 1, d, d**2, d**3], rtol=1e-6)
    np.testing.assert_allclose(x[:, 1], [0, 0, 1, d, d**2 + 1, d**3 + d], rtol=1e-6)
    with pytest.raises(ValueError, match="tau_ms"):
        filter_spikes(np.zeros(1), np.zeros(1, int), 1, 1, tau_ms=0.0)


def test_trials_repeat_up_to_noise():
    res = CueReservoir.build(ReservoirParams(n_neurons=100, n_cues=2), seed=2, backend="numba")
    a = res.run_trial(0, 300.0, 50.0, noise_seed=7)
    b = res.run_trial(0, 300.0, 50.0, noise_seed=7)
    c = res.run_trial(0, 300.0, 50.0, noise_seed=8)
    assert a.traces.shape == (300, 100)
    np.testing.assert_array_equal(a.traces, b.traces)
    assert not np.array_equal(a.traces, c.traces)
    driven = res.encoders[:, 0] > 0
    # the cue drives its neurons: they fire more after onset than the others
    after = a.traces[100:].mean(axis=0)
    assert after[driven].mean() > 3 * after[~driven].mean()
    assert a.mean_rate_hz > 0
    with pytest.raises(ValueError, match="cue"):
        res.run_trial(2, 100.0, 10.0, noise_seed=0)
