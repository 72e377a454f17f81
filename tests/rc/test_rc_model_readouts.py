"""SpikingReservoirModel with each of the project's readouts: ridge, FORCE and the
three-factor rule learn a target from the spike traces, offline or online, after a washout."""

from __future__ import annotations

import numpy as np
import pytest

import spikesub as ss
from spikesub.rc.model import SpikingReservoirModel, random_encoder
from spikesub.rc.tasks import nrmse


def _model(readout_factory):
    pop = ss.IzhikevichPopulation.izhikevich_2003(160, 40, seed=0)
    weights = ss.izhikevich_2003_weights(pop, seed=1).scaled(0.5)
    reservoir = ss.IzhikevichReservoir(pop, weights, bias_current=2.0, backend="numba", seed=1)
    encoder = random_encoder(200, 1, scaling=20.0, seed=2)
    n_features = 200 * 2
    return SpikingReservoirModel(
        reservoir, encoder, sample_ms=2.0, tau_ms=(2.0, 8.0), readout=readout_factory(n_features)
    )


def _three_factor(n):
    return ss.ThreeFactorReadout(n, 1, learning_rate=1e-3, dtype=np.float64)


def _signal(n, seed):
    return np.sin(np.arange(n) * 0.2) + 0.3 * np.random.default_rng(seed).uniform(-1, 1, n)


@pytest.mark.parametrize(
    ("name", "factory", "online", "options"),
    [
        ("ridge", lambda n: ss.RidgeReadout(n, 1, ridge=10.0, fit_intercept=True), False, {}),
        ("force", lambda n: ss.FORCEReadout(n, 1, alpha=1.0), True, {}),
        ("force", lambda n: ss.FORCEReadout(n, 1, alpha=1.0), False, {}),
        ("three-factor", lambda n: _three_factor(n), False, {"epochs": 5}),
    ],
)
def test_each_readout_learns_the_input_from_the_traces(name, factory, online, options):
    model = _model(factory)
    u = _signal(600, seed=3)
    model.fit(u, u, washout=50, online=online, **options)
    test = _signal(200, seed=4)
    prediction = model.predict(test)[:, 0]
    # the sine and its noise are read back from the spikes; the mean alone scores 1.0
    assert nrmse(test[20:], prediction[20:]) < 0.45, name  # each scores about 0.3
