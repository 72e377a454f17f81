"""Trace kernel: Numba and CUDA held to the NumPy reference; decay after a spike."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesub.kernels import (
    TRACE_ADDITIVE,
    TRACE_NEAREST,
    trace_update_cuda,
    trace_update_numba,
    trace_update_numpy,
)
from spikesub.kernels.traces import PARALLEL_MIN_NEURONS

DTYPES = (np.float32, np.float64)
MODES = (TRACE_ADDITIVE, TRACE_NEAREST)


def _run(fn, x0, spikes, decay, increment, mode):
    x = x0.copy()
    for s in spikes:
        fn(x, s, decay, increment, mode)
    return x


params = {
    "n": st.integers(1, 64),
    "dtype": st.sampled_from(DTYPES),
    "seed": st.integers(0, 2**32 - 1),
    "tau_ms": st.floats(1.0, 100.0),
    "increment": st.floats(-2.0, 2.0),
    "mode": st.sampled_from(MODES),
}


@settings(max_examples=25, deadline=None)
@given(**params)
def test_numba_equals_numpy(n, dtype, seed, tau_ms, increment, mode):
    rng = np.random.default_rng(seed)
    spikes = rng.random((15, n)) < 0.2
    x0 = rng.uniform(0.0, 1.0, n).astype(dtype)
    decay = float(np.exp(-0.5 / tau_ms))
    ref = _run(trace_update_numpy, x0, spikes, decay, increment, mode)
    got = _run(trace_update_numba, x0, spikes, decay, increment, mode)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("mode", MODES)
def test_parallel_path_equals_numpy(mode):
    rng = np.random.default_rng(4)
    n = PARALLEL_MIN_NEURONS + 3
    spikes = rng.random((3, n)) < 0.2
    x0 = rng.uniform(0.0, 1.0, n).astype(np.float32)
    np.testing.assert_array_equal(
        _run(trace_update_numba, x0, spikes, 0.95, 0.7, mode),
        _run(trace_update_numpy, x0, spikes, 0.95, 0.7, mode),
    )


@pytest.mark.cuda
@settings(max_examples=4, deadline=None)
@given(**params)
def test_cuda_close_to_numpy(n, dtype, seed, tau_ms, increment, mode):
    rng = np.random.default_rng(seed)
    spikes = rng.random((2, n)) < 0.3
    x0 = rng.uniform(0.0, 1.0, n).astype(dtype)
    decay = float(np.exp(-0.5 / tau_ms))
    tol = {"rtol": 1e-6, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-13, "atol": 1e-13}
    np.testing.assert_allclose(
        _run(trace_update_cuda, x0, spikes, decay, increment, mode),
        _run(trace_update_numpy, x0, spikes, decay, increment, mode),
        **tol,
    )


@pytest.mark.parametrize("fn", [trace_update_numpy, trace_update_numba])
@pytest.mark.parametrize("mode", MODES)
def test_trace_after_one_spike_is_decay_to_the_k(fn, mode):
    decay = float(np.exp(-1.0 / 20.0))
    x = np.zeros(2)
    fn(x, np.array([True, False]), decay, 1.0, mode)
    np.testing.assert_array_equal(x, [1.0, 0.0])
    silent = np.zeros(2, dtype=bool)
    for k in range(1, 200):
        fn(x, silent, decay, 1.0, mode)
        np.testing.assert_allclose(x[0], decay**k, rtol=1e-12)
        assert x[1] == 0.0


@pytest.mark.parametrize("fn", [trace_update_numpy, trace_update_numba])
def test_additive_accumulates_nearest_restarts(fn):
    spike = np.array([True])
    for mode, expected in ((TRACE_ADDITIVE, 0.5 + 1.0), (TRACE_NEAREST, 1.0)):
        x = np.zeros(1)
        fn(x, spike, 0.5, 1.0, mode)
        fn(x, spike, 0.5, 1.0, mode)
        np.testing.assert_array_equal(x, [expected])


def test_bad_mode_raises():
    with pytest.raises(ValueError, match="mode"):
        trace_update_numpy(np.zeros(1), np.zeros(1, dtype=bool), 0.5, 1.0, 2)
