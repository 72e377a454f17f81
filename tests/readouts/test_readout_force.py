"""FORCE (recursive least squares) against the ridge solution, updates, forgetting, reset."""

from __future__ import annotations

import numpy as np
import pytest
from readout_data import BACKENDS, bernoulli_cues, regression

import spikesub as ss


@pytest.mark.parametrize("backend", BACKENDS)
def test_force_equals_batch_ridge_solution(backend):
    x, y = regression(seed=10, t=400, n=15, m=3)
    alpha = 0.5
    ro = ss.FORCEReadout(15, 3, alpha=alpha, backend=backend)
    out = ro.fit_online(x, y)
    ridge = np.linalg.solve(x.T @ x + alpha * np.eye(15), x.T @ y).T
    np.testing.assert_allclose(ro.weights, ridge, rtol=1e-8, atol=1e-10)
    assert out.shape == (400, 3)
    np.testing.assert_array_equal(out[0], 0.0)  # weights start at zero
    assert ro.fit_offline(x, y) is ro
    np.testing.assert_allclose(ro.weights, ridge, rtol=1e-8, atol=1e-10)


def test_force_numba_equals_numpy():
    x, y = regression(seed=11, t=300, n=20, m=2)
    results = []
    for backend in BACKENDS:
        ro = ss.FORCEReadout(20, 2, alpha=0.1, update_every=2, forgetting=0.99, backend=backend)
        results.append((ro.fit_online(x, y), ro.weights.copy(), ro.P.copy()))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_force_update_every_counts_steps_across_calls(backend):
    x, y = regression(seed=12, t=301, n=10, m=1)
    ro = ss.FORCEReadout(10, 1, alpha=2.0, update_every=2, backend=backend)
    ro.fit_online(x[:101], y[:101])
    ro.fit_online(x[101:], y[101:])
    even = slice(0, None, 2)  # updates on steps 0, 2, 4, ...
    ridge = np.linalg.solve(x[even].T @ x[even] + 2.0 * np.eye(10), x[even].T @ y[even]).T
    np.testing.assert_allclose(ro.weights, ridge, rtol=1e-8, atol=1e-10)
    assert ro.steps == 301


@pytest.mark.parametrize("backend", BACKENDS)
def test_force_learns_bernoulli_probabilities(backend):
    x, y, cue, probs = bernoulli_cues(seed=1)
    ro = ss.FORCEReadout(4, 1, alpha=1.0, backend=backend)
    ro.fit_online(x, y)
    pred = ro.predict(np.eye(4))[:, 0]
    np.testing.assert_allclose(pred, probs, atol=0.05)
    # RLS gives the regularised empirical frequency exactly
    counts = np.bincount(cue, minlength=4)
    hits = np.bincount(cue, weights=y[:, 0], minlength=4)
    np.testing.assert_allclose(pred, hits / (counts + 1.0), rtol=1e-9)


def test_force_forgetting_tracks_a_switch_faster():
    rng = np.random.default_rng(13)
    x = np.ones((2200, 1))
    y = np.where(np.arange(2200) < 2000, 0.2, 0.8)[:, None] + 0.05 * rng.standard_normal((2200, 1))
    errors = {}
    for lam in (1.0, 0.98):
        ro = ss.FORCEReadout(1, 1, alpha=1.0, forgetting=lam)
        out = ro.fit_online(x, y)
        errors[lam] = np.abs(out[2100:] - 0.8).mean()
    assert errors[0.98] < 0.05 < errors[1.0]


def test_force_reset_restores_P():
    x, y = regression(seed=14, n=6, m=1)
    ro = ss.FORCEReadout(6, 1, alpha=0.5)
    ro.fit_online(x, y)
    w = ro.weights.copy()
    assert not np.allclose(ro.P, 2.0 * np.eye(6))
    ro.reset()
    np.testing.assert_array_equal(ro.P, 2.0 * np.eye(6))
    np.testing.assert_array_equal(ro.weights, w)
    ro.reset(weights=True)
    np.testing.assert_array_equal(ro.weights, 0.0)
    assert ro.steps == 0
