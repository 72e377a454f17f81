"""Readout plasticity kernels: RLS step against the textbook formula, Numba against NumPy."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from numba import njit

from spikesub.kernels.plasticity import (
    PARALLEL_MIN_N,
    rls_run_numba,
    rls_run_numpy,
    rls_update_forgetting_numba,
    rls_update_forgetting_numpy,
    rls_update_numba,
    rls_update_numpy,
    rls_update_parallel_numba,
    three_factor_run_numba,
    three_factor_run_numpy,
)


def _problem(n, n_out, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n))
    P = (np.eye(n) + a @ a.T / (10 * n)).astype(dtype)
    w = rng.standard_normal((n_out, n)).astype(dtype)
    r = rng.random(n).astype(dtype)
    err = rng.standard_normal(n_out).astype(dtype)
    return P, w, r, err


def _textbook(P, w, r, err, lam=1.0):
    P = P.astype(np.float64)
    k = P @ r
    P_new = (P - np.outer(k, k) / (lam + r @ k)) / lam
    return P_new, w.astype(np.float64) - np.outer(err, P_new @ r)


@pytest.mark.parametrize("n", [1, 7, 64])
@pytest.mark.parametrize("lam", [1.0, 0.9])
def test_rls_step_matches_textbook_formula(n, lam):
    P, w, r, err = _problem(n, 3, np.float64)
    P_ref, w_ref = _textbook(P, w, r, err, lam)
    for update in (rls_update_forgetting_numpy, rls_update_forgetting_numba):
        P1, w1 = P.copy(), w.copy()
        update(P1, w1, r, err, lam)
        np.testing.assert_allclose(P1, P_ref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(w1, w_ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("n", [5, 130, PARALLEL_MIN_N + 3])
def test_rls_numba_equals_numpy_float64(n):
    P, w, r, err = _problem(n, 2, np.float64, seed=n)
    P1, w1, P2, w2 = P.copy(), w.copy(), P.copy(), w.copy()
    rls_update_numpy(P1, w1, r, err)
    rls_update_numba(P2, w2, r, err)
    np.testing.assert_allclose(P2, P1, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(w2, w1, rtol=1e-13, atol=1e-15)
    # P stays exactly symmetric
    np.testing.assert_array_equal(P2, P2.T)
    np.testing.assert_array_equal(P1, P1.T)


@pytest.mark.parametrize("n", [9, 200])
def test_rls_numba_equals_numpy_float32(n):
    P, w, r, err = _problem(n, 3, np.float32, seed=n)
    P1, w1, P2, w2 = P.copy(), w.copy(), P.copy(), w.copy()
    for _ in range(5):
        rls_update_numpy(P1, w1, r, err)
        rls_update_numba(P2, w2, r, err)
    assert P2.dtype == np.float32 and w2.dtype == np.float32
    np.testing.assert_allclose(P2, P1, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(w2, w1, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("lam", [1.0, 0.95])
def test_rls_parallel_equals_serial_for_any_thread_count(lam):
    n = PARALLEL_MIN_N + 5
    P, w, r, err = _problem(n, 2, np.float64, seed=3)
    P0, w0 = P.copy(), w.copy()
    rls_update_forgetting_numba(P0, w0, r, err, lam)
    before = numba.get_num_threads()
    try:
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            P1, w1 = P.copy(), w.copy()
            rls_update_parallel_numba(P1, w1, r, err, lam)
            np.testing.assert_array_equal(P1, P0)
            np.testing.assert_array_equal(w1, w0)
    finally:
        numba.set_num_threads(before)


def test_rls_forgetting_one_is_standard_step():
    P, w, r, err = _problem(30, 2, np.float64)
    P1, w1, P2, w2 = P.copy(), w.copy(), P.copy(), w.copy()
    rls_update_numba(P1, w1, r, err)
    rls_update_forgetting_numba(P2, w2, r, err, 1.0)
    np.testing.assert_array_equal(P1, P2)
    np.testing.assert_array_equal(w1, w2)


@njit
def _two_steps(P, w, r, err):
    rls_update_numba(P, w, r, err)
    rls_update_forgetting_numba(P, w, r, err, 0.99)


@pytest.mark.parametrize("n", [12, PARALLEL_MIN_N + 1])
def test_rls_callable_from_njit(n):
    P, w, r, err = _problem(n, 1, np.float64)
    P1, w1, P2, w2 = P.copy(), w.copy(), P.copy(), w.copy()
    _two_steps(P1, w1, r, err)
    rls_update_numpy(P2, w2, r, err)
    rls_update_forgetting_numpy(P2, w2, r, err, 0.99)
    np.testing.assert_allclose(P1, P2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(w1, w2, rtol=1e-12, atol=1e-15)


def _stream(seed=0, t=300, n=16, m=2):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((t, n)), rng.standard_normal((t, m))


@pytest.mark.parametrize("update_every, phase, lam", [(1, 0, 1.0), (3, 1, 0.97)])
def test_rls_run_numba_equals_numpy(update_every, phase, lam):
    x, y = _stream()
    results = []
    for run in (rls_run_numpy, rls_run_numba):
        P = np.eye(x.shape[1]) * 2.0
        w = np.zeros((y.shape[1], x.shape[1]))
        out = np.empty_like(y)
        assert run(P, w, x, y, update_every, phase, lam, out) == -1
        results.append((P, w, out))
    for a, b in zip(results[0], results[1], strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)


def test_rls_run_reports_nonfinite_step():
    x, y = _stream(t=10)
    for run in (rls_run_numpy, rls_run_numba):
        P = np.eye(x.shape[1])
        w = np.zeros((y.shape[1], x.shape[1]))
        w[0, 3] = np.inf  # output of step 0 is already non-finite (inf * r or nan)
        out = np.empty_like(y)
        assert run(P, w, x, y, 1, 0, 1.0, out) == 0


@pytest.mark.parametrize("post_rows", [1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_three_factor_run_numba_equals_numpy(post_rows, dtype):
    rng = np.random.default_rng(1)
    t, n, m = 400, 25, 3
    x = rng.random((t, n))
    y = rng.standard_normal((t, m))
    gate = rng.random((t, m))
    gate[gate < 0.3] = 0.0
    online = np.array([True, False, True])
    results = []
    for run in (three_factor_run_numpy, three_factor_run_numba):
        # the Hebbian variant (post = output) learns nothing from all-zero weights
        w = np.full((m, n), 0.01, dtype=dtype)
        pending = np.zeros_like(w)
        elig = np.zeros((post_rows, n))
        out = np.empty((t, m))
        assert run(w, pending, elig, x, x, y, gate, 1e-2, 0.8, online, out) == -1
        results.append((w, pending, elig, out))
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    for a, b in zip(results[0], results[1], strict=True):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=1e-9)
    w, pending = results[1][:2]
    assert np.all(pending[online] == 0) and np.all(w[~online] == dtype(0.01))
    assert np.abs(pending[~online]).sum() > 0 and np.abs(w[online] - dtype(0.01)).sum() > 0


def test_three_factor_run_reports_divergence_step():
    rng = np.random.default_rng(2)
    x = rng.random((200, 10)) + 0.5
    y = np.ones((200, 1))
    gate = np.ones((200, 1))
    steps = []
    for run in (three_factor_run_numpy, three_factor_run_numba):
        w = np.zeros((1, 10), dtype=np.float32)
        out = np.empty((200, 1))
        pending, elig, online = np.zeros_like(w), np.zeros((1, 10)), np.ones(1, bool)
        steps.append(run(w, pending, elig, x, x, y, gate, 50.0, 0.0, online, out))
    assert steps[0] == steps[1]
    assert 0 < steps[0] < 200
