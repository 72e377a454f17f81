"""What every readout shares: shapes, config, state, and refusals of bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from readout_data import regression

import spikesub as ss

READOUTS = [
    lambda: ss.ThreeFactorReadout(5, 2, learning_rate=0.01, tau_eligibility_ms=3.0),
    lambda: ss.FORCEReadout(5, 2, alpha=0.5, update_every=2),
    lambda: ss.RidgeReadout(5, 2, ridge=0.1, fit_intercept=True),
]


@pytest.mark.parametrize("make", READOUTS)
def test_interface_shapes_config_and_state(make):
    x, y = regression(seed=17, t=50, n=5, m=2)
    ro = make()
    assert (ro.n_inputs, ro.n_outputs) == (5, 2)
    assert ro.fit_online(x, y).shape == (50, 2)
    assert ro.predict(x).shape == (50, 2)
    assert ro.predict(x[0]).shape == (2,)
    np.testing.assert_allclose(ro.predict(x[0]), ro.predict(x)[0])
    config = json.loads(json.dumps(ro.config()))
    state = ro.state_dict()
    clone = type(ro).from_state_dict(state)
    assert clone.config() == config
    np.testing.assert_array_equal(clone.predict(x), ro.predict(x))
    # both continue identically
    np.testing.assert_array_equal(clone.fit_online(x, y), ro.fit_online(x, y))
    np.testing.assert_array_equal(clone.weights, ro.weights)
    with pytest.raises(ValueError, match="shape"):
        make().load_state_dict({**state, "weights": np.zeros((3, 3))})


@pytest.mark.parametrize("make", READOUTS)
def test_bad_recordings(make):
    x, y = regression(seed=18, t=20, n=5, m=2)
    ro = make()
    with pytest.raises(ValueError, match=r"\(20, 5\).*\(19, 2\)"):
        ro.fit_online(x, y[:19])
    with pytest.raises(ValueError, match=r"\(20, 4\)"):
        ro.fit_online(x[:, :4], y)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="traces"):
        ro.fit_online(bad, y)
    bad = y.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="targets"):
        ro.fit_offline(x, bad)
    with pytest.raises(ValueError, match="traces"):
        ro.predict(np.zeros((3, 4)))


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: ss.ThreeFactorReadout(3, 1, learning_rate=0.0), "learning_rate"),
        (lambda: ss.ThreeFactorReadout(3, 1, learning_rate=np.inf), "learning_rate"),
        (lambda: ss.ThreeFactorReadout(3, 1, tau_eligibility_ms=-1.0), "tau_eligibility_ms"),
        (lambda: ss.ThreeFactorReadout(3, 1, dt_ms=0.0), "dt_ms"),
        (lambda: ss.ThreeFactorReadout(3, 1, post="pre"), "post"),
        (lambda: ss.ThreeFactorReadout(3, 2, online_outputs=[True]), "online_outputs"),
        (lambda: ss.ThreeFactorReadout(3, 1, weight_init=np.zeros((2, 3))), "weights"),
        (lambda: ss.ThreeFactorReadout(3, 1, backend="cuda"), "backend"),
        (lambda: ss.FORCEReadout(3, 1, alpha=0.0), "alpha"),
        (lambda: ss.FORCEReadout(3, 1, forgetting=1.5), "forgetting"),
        (lambda: ss.FORCEReadout(3, 1, forgetting=0.0), "forgetting"),
        (lambda: ss.FORCEReadout(3, 1, update_every=0), "update_every"),
        (lambda: ss.FORCEReadout(3, 1, dtype=np.int32), "dtype"),
        (lambda: ss.RidgeReadout(3, 1, ridge=-1.0), "ridge"),
        (lambda: ss.RidgeReadout(0, 1), "n_inputs"),
    ],
)
def test_bad_parameters(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_bad_gate():
    x, y = regression(seed=19, t=10, n=5, m=2)
    ro = ss.ThreeFactorReadout(5, 2)
    with pytest.raises(ValueError, match="gate"):
        ro.fit_online(x, y, gate=np.full(10, 1.5))
    with pytest.raises(ValueError, match="gate"):
        ro.fit_online(x, y, gate=np.ones((10, 3)))
    with pytest.raises(ValueError, match="gate"):
        ro.fit_online(x, y, gate=np.full(10, np.nan))
