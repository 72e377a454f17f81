"""spikesub.rc.readout: ridge readouts for many penalties from one SVD, and the MC pieces."""

from __future__ import annotations

import numpy as np
import pytest

from spikesub.rc.readout import RidgePath, delayed_inputs, squared_correlations
from spikesub.rc.tasks import memory_capacity


def _direct_ridge(x, y, ridge):
    """Centred, one-scale ridge with an unpenalised intercept, by the normal equations."""
    mean = x.mean(axis=0)
    scale = np.sqrt(np.mean((x - mean) ** 2))
    z = (x - mean) / scale
    w = np.linalg.solve(z.T @ z + ridge * x.shape[0] * np.eye(x.shape[1]), z.T @ (y - y.mean(0)))
    return lambda q: ((q - mean) / scale) @ w + y.mean(0)


def test_every_penalty_matches_the_normal_equations():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(80, 12)) * 3.0 + 1.0, rng.normal(size=(80, 2))
    q = rng.normal(size=(7, 12))
    path = RidgePath(x, y)
    for ridge in (1e-6, 1e-2, 1.0):
        np.testing.assert_allclose(path.predict(q, ridge), _direct_ridge(x, y, ridge)(q), atol=1e-9)
    assert RidgePath(x, y[:, 0]).predict(q, 0.1).shape == (7,)


def test_more_features_than_rows_and_a_constant_feature_are_fine():
    rng = np.random.default_rng(1)
    x = np.hstack([rng.normal(size=(20, 50)), np.ones((20, 1))])
    y = x[:, :3].sum(axis=1)
    fit = RidgePath(x, y).predict(x, 0.0)  # least squares of least norm: interpolates
    np.testing.assert_allclose(fit, y, atol=1e-8)


def test_memory_capacity_pieces_agree_with_tasks_memory_capacity():
    rng = np.random.default_rng(2)
    u = rng.uniform(-1, 1, 600)
    states = np.stack([np.roll(u, k) for k in range(1, 6)], 1) + 0.05 * rng.normal(size=(600, 5))
    states[:5] = 0.0
    total, curve = memory_capacity(states[:400], u[:400], states[400:], u[400:], max_delay=8)
    rows_train, rows_test = np.arange(8, 400), np.arange(408, 600)
    path = RidgePath(states[rows_train], delayed_inputs(u, rows_train, 8))
    mine = squared_correlations(
        path.predict(states[rows_test], 1e-6), delayed_inputs(u, rows_test, 8)
    )
    np.testing.assert_allclose(mine, curve, atol=1e-6)
    assert mine[:5].min() > 0.9 and mine[6:].max() < 0.1 and total == pytest.approx(mine.sum())


def test_bad_shapes_and_values_are_refused():
    with pytest.raises(ValueError, match="states must be"):
        RidgePath(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        RidgePath(np.full((5, 2), np.nan), np.zeros(5))
    with pytest.raises(ValueError, match="ridge"):
        RidgePath(np.eye(3), np.ones(3)).weights(-1.0)
    with pytest.raises(ValueError, match="max_delay"):
        delayed_inputs(np.zeros(10), np.arange(2, 5), 3)
