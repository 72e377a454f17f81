"""spikesub.rc.model: a spiking reservoir driven by a sampled signal and read by a readout."""

from __future__ import annotations

import numpy as np
import pytest

import spikesub as ss
from spikesub.rc.model import SpikingReservoirModel, random_encoder
from spikesub.rc.tasks import memory_capacity_input, nrmse
from spikesub.readouts import RidgeReadout


def _model(**kwargs):
    pop = ss.IzhikevichPopulation.izhikevich_2003(160, 40, seed=0)
    weights = ss.izhikevich_2003_weights(pop, seed=1).scaled(0.5)
    reservoir = ss.IzhikevichReservoir(pop, weights, bias_current=3.0, backend="numba", seed=1)
    options = {"sample_ms": 2.0, "tau_ms": 5.0, "ridge": 1.0, **kwargs}
    return SpikingReservoirModel(reservoir, random_encoder(200, 1, scaling=40.0, seed=2), **options)


def test_calls_continue_the_reservoir_and_its_traces():
    signal = memory_capacity_input(400, seed=1)
    whole = _model().run(signal)
    split = _model()
    parts = np.vstack([split.run(signal[:150]), split.run(signal[150:])])
    assert whole.shape == (400, 200) and whole.max() > 0
    np.testing.assert_allclose(parts, whole, rtol=1e-12, atol=1e-12)


def test_fit_and_predict_learn_the_last_input_better_than_chance():
    u = memory_capacity_input(1500, seed=3)
    target = np.roll(u, 1)  # the sample before: the reservoir's response lags a sample
    model = _model().fit(u[:1000], target[:1000], washout=50)
    assert isinstance(model.readout, RidgeReadout) and model.readout.n_outputs == 1
    prediction = model.predict(u[1000:])
    assert prediction.shape == (500, 1)
    assert nrmse(target[1000:], prediction[:, 0]) < 0.9  # chance: 1


def test_a_given_readout_is_used_and_checked():
    readout = RidgeReadout(200, 2, ridge=1.0)
    model = _model(readout=readout)
    u = memory_capacity_input(200, seed=4)
    model.fit(u, np.stack([u, -u], 1), washout=10)
    assert model.readout is readout and model.predict(u[:20]).shape == (20, 2)
    with pytest.raises(ValueError, match="readout must read the 200 neurons"):
        _model(readout=RidgeReadout(10, 1))


def test_bad_arguments_are_refused():
    model = _model()
    with pytest.raises(ValueError, match="call fit first"):
        model.predict(np.zeros(5))
    with pytest.raises(ValueError, match="signal must be"):
        model.run(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="finite"):
        model.run(np.full(5, np.nan))
    with pytest.raises(ValueError, match="targets must have one row per signal sample"):
        model.fit(np.zeros(10), np.zeros(9))
    with pytest.raises(ValueError, match="washout"):
        model.fit(np.zeros(10), np.zeros(10), washout=10)
    with pytest.raises(ValueError, match="whole number of the reservoir's steps"):
        _model(sample_ms=0.25)
    with pytest.raises(ValueError, match="encoder must be"):
        SpikingReservoirModel(model.reservoir, np.zeros((3, 1)))
    with pytest.raises(ValueError, match="connectivity"):
        random_encoder(5, 1, connectivity=1.5)
