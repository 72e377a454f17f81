"""The ridge readout: its solution, intercept and online statistics."""

from __future__ import annotations

import numpy as np
from readout_data import bernoulli_cues, regression

import spikesub as ss


def test_ridge_solution_and_online_statistics():
    x, y = regression(seed=15, t=200, n=9, m=2)
    ro = ss.RidgeReadout(9, 2, ridge=0.3)
    ro.fit_offline(x, y)
    ridge = np.linalg.solve(x.T @ x + 0.3 * np.eye(9), x.T @ y).T
    np.testing.assert_allclose(ro.weights, ridge, rtol=1e-12)

    online = ss.RidgeReadout(9, 2, ridge=0.3)
    out1 = online.fit_online(x[:120], y[:120])
    np.testing.assert_array_equal(out1, 0.0)  # weights from before the call
    w_mid = online.weights.copy()
    out2 = online.fit_online(x[120:], y[120:])
    np.testing.assert_allclose(out2, x[120:] @ w_mid.T, rtol=1e-12)
    np.testing.assert_allclose(online.weights, ridge, rtol=1e-10)


def test_ridge_intercept_is_fitted_and_not_penalised():
    rng = np.random.default_rng(16)
    x = rng.standard_normal((500, 3))
    y = x @ np.array([[1.0, -2.0, 0.5]]).T + 3.0
    ro = ss.RidgeReadout(3, 1, ridge=1e-9, fit_intercept=True).fit_offline(x, y)
    np.testing.assert_allclose(ro.intercept, [3.0], rtol=1e-6)
    np.testing.assert_allclose(ro.weights, [[1.0, -2.0, 0.5]], rtol=1e-6)
    np.testing.assert_allclose(ro.predict(x), y, rtol=1e-6)


def test_ridge_learns_bernoulli_frequencies_exactly():
    x, y, cue, _ = bernoulli_cues(seed=2, steps_per_cue=500)
    ro = ss.RidgeReadout(4, 1, ridge=0.0).fit_offline(x, y)
    freq = np.bincount(cue, weights=y[:, 0], minlength=4) / np.bincount(cue, minlength=4)
    np.testing.assert_allclose(ro.predict(np.eye(4))[:, 0], freq, rtol=1e-12)
