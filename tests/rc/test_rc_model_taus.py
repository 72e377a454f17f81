"""SpikingReservoirModel read through several trace time constants at once."""

from __future__ import annotations

import numpy as np
import pytest

import spikesub as ss
from spikesub.rc.model import SpikingReservoirModel, random_encoder
from spikesub.rc.tasks import memory_capacity_input
from spikesub.readouts import RidgeReadout


def _model(tau_ms, **kwargs):
    pop = ss.IzhikevichPopulation.izhikevich_2003(48, 12, seed=0)
    weights = ss.izhikevich_2003_weights(pop, seed=1).scaled(0.5)
    reservoir = ss.IzhikevichReservoir(pop, weights, bias_current=3.0, backend="numba", seed=1)
    encoder = random_encoder(60, 1, scaling=40.0, seed=2)
    return SpikingReservoirModel(reservoir, encoder, sample_ms=2.0, tau_ms=tau_ms, **kwargs)


def test_several_time_constants_are_the_single_ones_side_by_side():
    signal = memory_capacity_input(120, seed=1)
    both = _model((4.0, 16.0)).run(signal)
    assert both.shape == (120, 120)
    np.testing.assert_allclose(both[:, :60], _model(4.0).run(signal), rtol=1e-12)
    np.testing.assert_allclose(both[:, 60:], _model(16.0).run(signal), rtol=1e-12)


def test_calls_continue_every_time_constant():
    signal = memory_capacity_input(150, seed=2)
    whole = _model((3.0, 30.0)).run(signal)
    split = _model((3.0, 30.0))
    parts = np.vstack([split.run(signal[:70]), split.run(signal[70:])])
    np.testing.assert_allclose(parts, whole, rtol=1e-12, atol=1e-12)


def test_the_readout_reads_every_trace():
    u = memory_capacity_input(200, seed=3)
    model = _model((2.0, 8.0)).fit(u, np.roll(u, 1), washout=20)
    assert model.n_features == 120 and model.readout.n_inputs == 120
    assert model.predict(u[:10]).shape == (10, 1)
    with pytest.raises(
        ValueError, match="readout must read the 60 neurons x 2 time constants = 120 traces"
    ):
        _model((2.0, 8.0), readout=RidgeReadout(60, 1))
    for bad in ((), (1.0, 0.0), (float("nan"),)):
        with pytest.raises(ValueError, match="tau_ms"):
            _model(bad)
