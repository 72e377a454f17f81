"""Synapse kernels: Numba and CUDA held to the NumPy reference; decay and pulse integral."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesub.kernels import (
    double_exponential_synapse_update_cuda,
    double_exponential_synapse_update_numba,
    double_exponential_synapse_update_numpy,
    exponential_synapse_update_cuda,
    exponential_synapse_update_numba,
    exponential_synapse_update_numpy,
)
from spikesub.kernels.synapses import PARALLEL_MIN_NEURONS

DTYPES = (np.float32, np.float64)


def _tol(dtype):
    return {"rtol": 1e-6, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-13, "atol": 1e-13}


def _inputs(rng, n, n_steps, dtype):
    """Sparse random weights arriving over ``n_steps`` steps: (steps, n)."""
    w = rng.normal(0.0, 1.0, (n_steps, n)) * (rng.random((n_steps, n)) < 0.3)
    return w.astype(dtype)


def _run_exp(fn, s0, inputs, decay):
    s = s0.copy()
    for x in inputs:
        fn(s, x, decay)
    return s


def _run_dexp(fn, r0, h0, inputs, dt_ms, tau_r, tau_d):
    r, h = r0.copy(), h0.copy()
    d_rise, d_decay = np.exp(-dt_ms / tau_r), np.exp(-dt_ms / tau_d)
    for x in inputs:
        fn(r, h, x, d_rise, d_decay, dt_ms, tau_r, tau_d)
    return r, h


params = {
    "n": st.integers(1, 64),
    "dtype": st.sampled_from(DTYPES),
    "seed": st.integers(0, 2**32 - 1),
    "dt_ms": st.sampled_from([0.05, 0.1, 0.5, 1.0]),
    "tau_r": st.floats(0.5, 10.0),
    "tau_d": st.floats(2.0, 100.0),
}


@settings(max_examples=25, deadline=None)
@given(**params)
def test_numba_equals_numpy(n, dtype, seed, dt_ms, tau_r, tau_d):
    rng = np.random.default_rng(seed)
    inputs = _inputs(rng, n, 10, dtype)
    s0 = rng.normal(0.0, 1.0, n).astype(dtype)
    decay = float(np.exp(-dt_ms / tau_d))
    ref = _run_exp(exponential_synapse_update_numpy, s0, inputs, decay)
    got = _run_exp(exponential_synapse_update_numba, s0, inputs, decay)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, ref)

    h0 = rng.normal(0.0, 0.01, n).astype(dtype)
    ref = _run_dexp(double_exponential_synapse_update_numpy, s0, h0, inputs, dt_ms, tau_r, tau_d)
    got = _run_dexp(double_exponential_synapse_update_numba, s0, h0, inputs, dt_ms, tau_r, tau_d)
    for r, g in zip(ref, got, strict=True):
        assert g.dtype == dtype
        np.testing.assert_array_equal(g, r)


def test_parallel_path_equals_numpy():
    rng = np.random.default_rng(3)
    n = PARALLEL_MIN_NEURONS + 5
    inputs = _inputs(rng, n, 3, np.float32)
    s0 = rng.normal(0.0, 1.0, n).astype(np.float32)
    np.testing.assert_array_equal(
        _run_exp(exponential_synapse_update_numba, s0, inputs, 0.9),
        _run_exp(exponential_synapse_update_numpy, s0, inputs, 0.9),
    )
    h0 = np.zeros(n, dtype=np.float32)
    ref = _run_dexp(double_exponential_synapse_update_numpy, s0, h0, inputs, 0.1, 2.0, 20.0)
    got = _run_dexp(double_exponential_synapse_update_numba, s0, h0, inputs, 0.1, 2.0, 20.0)
    for r, g in zip(ref, got, strict=True):
        np.testing.assert_array_equal(g, r)


@pytest.mark.cuda
@settings(max_examples=4, deadline=None)
@given(**params)
def test_cuda_close_to_numpy(n, dtype, seed, dt_ms, tau_r, tau_d):
    rng = np.random.default_rng(seed)
    inputs = _inputs(rng, n, 2, dtype)
    s0 = rng.normal(0.0, 1.0, n).astype(dtype)
    decay = float(np.exp(-dt_ms / tau_d))
    np.testing.assert_allclose(
        _run_exp(exponential_synapse_update_cuda, s0, inputs, decay),
        _run_exp(exponential_synapse_update_numpy, s0, inputs, decay),
        **_tol(dtype),
    )
    h0 = rng.normal(0.0, 0.01, n).astype(dtype)
    ref = _run_dexp(double_exponential_synapse_update_numpy, s0, h0, inputs, dt_ms, tau_r, tau_d)
    got = _run_dexp(double_exponential_synapse_update_cuda, s0, h0, inputs, dt_ms, tau_r, tau_d)
    for r, g in zip(ref, got, strict=True):
        np.testing.assert_allclose(g, r, **_tol(dtype))


@pytest.mark.parametrize("fn", [exponential_synapse_update_numpy, exponential_synapse_update_numba])
def test_exponential_synapse_decays_with_tau(fn):
    dt_ms, tau_ms = 0.1, np.array([2.0, 10.0, 50.0])
    s = np.zeros(3)
    fn(s, np.ones(3), 0.0)  # one unit input
    np.testing.assert_array_equal(s, 1.0)
    decay = np.exp(-dt_ms / tau_ms)
    trace = []
    for _ in range(2000):
        for j in range(3):  # one neuron per time constant, as the kernel takes one decay
            x = s[j : j + 1]
            fn(x, np.zeros(1), float(decay[j]))
        trace.append(s.copy())
    trace = np.array(trace)
    t_ms = dt_ms * np.arange(1, 2001)
    np.testing.assert_allclose(trace, np.exp(-t_ms[:, None] / tau_ms), rtol=1e-9)
    # Falls to 1/e after one time constant (to within one step).
    first_below = dt_ms * (np.argmax(trace < np.exp(-1.0), axis=0) + 1)
    np.testing.assert_allclose(first_below, tau_ms, atol=dt_ms)


def test_exponential_synapse_sums_inputs():
    s = np.zeros(2, dtype=np.float32)
    exponential_synapse_update_numba(s, np.array([1.0, 2.0], dtype=np.float32), 0.5)
    exponential_synapse_update_numba(s, np.array([1.0, 0.0], dtype=np.float32), 0.5)
    np.testing.assert_array_equal(s, [1.5, 1.0])


@pytest.mark.parametrize(
    "fn", [double_exponential_synapse_update_numpy, double_exponential_synapse_update_numba]
)
@pytest.mark.parametrize(("tau_r", "tau_d"), [(2.0, 20.0), (1.0, 5.0), (0.5, 30.0)])
def test_double_exponential_pulse_integrates_to_weight(fn, tau_r, tau_d):
    dt_ms, n_steps = 0.02, int(25 * tau_d / 0.02)
    weights = np.array([1.0, -0.5, 3.0])
    r, h = np.zeros(3), np.zeros(3)
    d_rise, d_decay = np.exp(-dt_ms / tau_r), np.exp(-dt_ms / tau_d)
    fn(r, h, weights, d_rise, d_decay, dt_ms, tau_r, tau_d)
    rs = [r.copy()]
    zero = np.zeros(3)
    for _ in range(n_steps):
        fn(r, h, zero, d_rise, d_decay, dt_ms, tau_r, tau_d)
        rs.append(r.copy())
    rs = np.array(rs)
    integral = rs.sum(axis=0) * dt_ms
    # Close to the weight (the error is about dt_ms / (2 tau_r), from the Euler-like step)...
    np.testing.assert_allclose(integral, weights, rtol=0.03)
    # ...and exactly the geometric sums of the discrete filter.
    exact = dt_ms**2 * weights / (tau_r * tau_d * (1.0 - d_rise) * (1.0 - d_decay))
    np.testing.assert_allclose(integral, exact, rtol=1e-9)
    # Peak of the continuous pulse: t* = ln(tau_d / tau_r) tau_r tau_d / (tau_d - tau_r).
    t_peak = np.log(tau_d / tau_r) * tau_r * tau_d / (tau_d - tau_r)
    np.testing.assert_allclose(np.argmax(np.abs(rs), axis=0) * dt_ms, t_peak, atol=2 * dt_ms)
    # Later on r decays with tau_d.
    k = int(10 * tau_d / dt_ms)
    m = int(1.0 / dt_ms)
    np.testing.assert_allclose(rs[k + m] / rs[k], np.exp(-1.0 / tau_d), rtol=1e-3)
