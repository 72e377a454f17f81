"""Event-driven products: NumPy reference against dense products, Numba and CUDA against it."""

from __future__ import annotations

import numpy as np
import pytest

from spikesub.kernels import event_matmul as em


def _spikes(rng, shape, density, dtype):
    x = (rng.random(shape) < density).astype(dtype)
    # a few graded (non-binary) nonzeros: the kernels take any sparse input
    x[rng.random(shape) < density / 4] *= 0.5
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("density", [0.0, 0.03, 0.3, 1.0])
def test_numpy_reference_equals_dense_products(dtype, density):
    rng = np.random.default_rng(1)
    x = _spikes(rng, (37, 29), density, dtype)
    wt = rng.standard_normal((29, 13)).astype(dtype)
    delta = rng.standard_normal((37, 13)).astype(dtype)
    out = np.full((37, 13), np.nan, dtype)
    gwt = np.full((29, 13), np.nan, dtype)
    em.event_matmul_numpy(x, wt, out)
    em.event_outer_numpy(x, delta, gwt)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, x @ wt, rtol=tol, atol=tol)
    np.testing.assert_allclose(gwt, x.T @ delta, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1, 1), (40, 300, 600), (129, 17, 5)])
def test_numba_is_bit_identical_to_numpy(dtype, shape):
    rows, n_in, n_out = shape
    rng = np.random.default_rng(2)
    x = _spikes(rng, (rows, n_in), 0.1, dtype)
    wt = rng.standard_normal((n_in, n_out)).astype(dtype)
    delta = rng.standard_normal((rows, n_out)).astype(dtype)
    ref_out, out = np.empty((rows, n_out), dtype), np.full((rows, n_out), np.nan, dtype)
    ref_g, g = np.empty((n_in, n_out), dtype), np.full((n_in, n_out), np.nan, dtype)
    em.event_matmul_numpy(x, wt, ref_out)
    em.event_matmul_numba(x, wt, out)
    em.event_outer_numpy(x, delta, ref_g)
    em.event_outer_numba(x, delta, g)
    assert np.array_equal(out, ref_out)
    assert np.array_equal(g, ref_g)


def test_cuda_matches_numpy():
    rng = np.random.default_rng(3)
    x = _spikes(rng, (9, 11), 0.2, np.float32)
    wt = rng.standard_normal((11, 7)).astype(np.float32)
    delta = rng.standard_normal((9, 7)).astype(np.float32)
    ref_out, out = np.empty((9, 7), np.float32), np.zeros((9, 7), np.float32)
    ref_g, g = np.empty((11, 7), np.float32), np.zeros((11, 7), np.float32)
    em.event_matmul_numpy(x, wt, ref_out)
    em.event_matmul_cuda(x, wt, out)
    em.event_outer_numpy(x, delta, ref_g)
    em.event_outer_cuda(x, delta, g)
    np.testing.assert_allclose(out, ref_out, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(g, ref_g, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("fn", [em.event_matmul_numpy, em.event_matmul_numba])
def test_shape_and_dtype_errors(fn):
    x = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="shapes do not match"):
        fn(x, np.zeros((5, 2), np.float32), np.zeros((4, 2), np.float32))
    with pytest.raises(TypeError, match="float dtype"):
        fn(x, np.zeros((3, 2), np.float64), np.zeros((4, 2), np.float32))


def test_nonzeros_by_row_and_csr_variants():
    rng = np.random.default_rng(4)
    x = _spikes(rng, (23, 41), 0.15, np.float32)
    x[5] = 0  # an empty row
    ref = em.nonzeros_by_row_numpy(x)
    got = em.nonzeros_by_row_numba(x)
    for a, b in zip(ref, got, strict=True):
        assert np.array_equal(a, b)
    wt = rng.standard_normal((41, 6)).astype(np.float32)
    delta = rng.standard_normal((23, 6)).astype(np.float32)
    out, ref_out = np.empty((23, 6), np.float32), np.empty((23, 6), np.float32)
    g, ref_g = np.empty((41, 6), np.float32), np.empty((41, 6), np.float32)
    em.event_matmul_csr_numba(*got, wt, out)
    em.event_matmul_numpy(x, wt, ref_out)
    em.event_outer_csr_numba(*got, delta, g)
    em.event_outer_numpy(x, delta, ref_g)
    assert np.array_equal(out, ref_out)
    assert np.array_equal(g, ref_g)


def test_weight_gradient_into_a_transposed_view():
    """gwt may be the transpose of a C-contiguous (N, K) array: same values, no copy."""
    rng = np.random.default_rng(5)
    x = _spikes(rng, (31, 50), 0.1, np.float32)
    delta = rng.standard_normal((31, 9)).astype(np.float32)
    ref = np.empty((50, 9), np.float32)
    em.event_outer_numpy(x, delta, ref)
    gw = np.full((9, 50), np.nan, np.float32)
    em.event_outer_csr_numba(*em.nonzeros_by_row_numba(x), delta, gw.T)
    assert np.array_equal(gw.T, ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_of_every_nonzero_count_modulo_four(dtype):
    """The Numba products add four rows at a time and the rest one by one: rows (forward) and
    columns (weight gradient) with 0 to 9 nonzeros give the reference's values bit for bit."""
    rng = np.random.default_rng(6)
    x = np.zeros((10, 12), dtype)
    for r in range(10):
        x[r, rng.choice(12, size=r, replace=False)] = rng.choice([1.0, 0.5, -2.0], size=r)
    assert len(set(np.count_nonzero(x, axis=0) % 4)) == 4  # the columns' counts vary too
    wt = rng.standard_normal((12, 33)).astype(dtype)
    delta = rng.standard_normal((10, 33)).astype(dtype)
    for numpy_fn, numba_fn, b, shape in (
        (em.event_matmul_numpy, em.event_matmul_numba, wt, (10, 33)),
        (em.event_outer_numpy, em.event_outer_numba, delta, (12, 33)),
    ):
        ref, got = np.empty(shape, dtype), np.full(shape, np.nan, dtype)
        numpy_fn(x, b, ref)
        numba_fn(x, b, got)
        assert np.array_equal(got, ref)


def test_nonzeros_by_row_stops_at_a_limit():
    """With max_nonzeros, an input of more nonzeros is counted and None returned; at or under
    the limit the CSR is the same as without it."""
    rng = np.random.default_rng(7)
    x = _spikes(rng, (20, 30), 0.2, np.float32)
    nnz = int(np.count_nonzero(x))
    assert em.nonzeros_by_row_numba(x, max_nonzeros=nnz - 1) is None
    for limit in (nnz, None):
        got = em.nonzeros_by_row_numba(x, max_nonzeros=limit)
        for a, b in zip(got, em.nonzeros_by_row_numpy(x), strict=True):
            assert np.array_equal(a, b)
