"""Micro-kernels of the machine's limit, against their NumPy references."""

from __future__ import annotations

import numpy as np
import pytest

from spikesub.kernels import roofline as rk


@pytest.mark.parametrize("n_parts", [1, 3])
def test_part_bounds_cover_the_range(n_parts):
    bounds = rk.part_bounds(10, n_parts)
    assert bounds[0] == 0 and bounds[-1] == 10 and len(bounds) == n_parts + 1
    assert np.all(np.diff(bounds) >= 0)


@pytest.mark.parametrize("n_parts", [1, 2, 5])
def test_stream_sum_and_triad(n_parts):
    rng = np.random.default_rng(0)
    a = rng.random(10_001)
    partial = np.zeros(n_parts)
    total = rk.stream_sum_numba(a, rk.part_bounds(a.size, n_parts), partial)
    assert total == pytest.approx(rk.stream_sum_numpy(a), rel=1e-12)
    b, c = rng.random(999), rng.random(999)
    out, ref = np.zeros(999), np.zeros(999)
    rk.triad_numba(out, b, c, 3.0, rk.part_bounds(999, n_parts))
    rk.triad_numpy(ref, b, c, 3.0)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_izhikevich_updates_match_numpy(dtype):
    rng = np.random.default_rng(1)
    n = 300
    v = rng.uniform(-70.0, -50.0, n).astype(np.float32)
    u = rng.uniform(-15.0, -10.0, n).astype(np.float32)
    a = rng.uniform(0.02, 0.1, n).astype(dtype)
    b = rng.uniform(0.2, 0.25, n).astype(dtype)
    current = rng.uniform(0.0, 12.0, n).astype(dtype)
    v_ref, u_ref = v.copy(), u.copy()
    alarms = rk.izhikevich_updates_numba(v, u, a, b, current, 0.1, 30.0, 50, rk.part_bounds(n, 1))
    alarms_ref = rk.izhikevich_updates_numpy(v_ref, u_ref, a, b, current, 0.1, 30.0, 50)
    np.testing.assert_array_equal(v, v_ref)
    np.testing.assert_array_equal(u, u_ref)
    assert alarms == alarms_ref


def test_scatter_add_matches_numpy():
    rng = np.random.default_rng(2)
    indices = np.sort(rng.choice(500, 120, replace=False)).astype(np.int32)
    weights = rng.normal(0.0, 1.0, 120).astype(np.float32)
    out = np.zeros((3, 500), dtype=np.float32)
    ref = out.copy()
    rk.scatter_add_numba(indices, weights, out, 4)
    rk.scatter_add_numpy(indices, weights, ref, 4)
    np.testing.assert_array_equal(out, ref)
