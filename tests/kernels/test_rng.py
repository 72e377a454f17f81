"""Counter-based RNG: identical numbers on NumPy, Numba and CUDA; sane distributions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import cuda

from spikesub.kernels import (
    gpu_present,
    normal_cuda,
    normal_numba,
    normal_numpy,
    uniform_cuda,
    uniform_numba,
    uniform_numpy,
)

U64 = np.uint64


def _numba_draws(fn, seed, stream, counter, n):
    return np.array([fn(U64(seed), U64(stream), U64(counter), U64(i)) for i in range(n)])


@cuda.jit
def _fill_uniform(out, seed, stream, counter):
    i = cuda.grid(1)
    if i < out.shape[0]:
        out[i] = uniform_cuda(seed, stream, counter, np.uint64(i))


@cuda.jit
def _fill_normal(out, seed, stream, counter):
    i = cuda.grid(1)
    if i < out.shape[0]:
        out[i] = normal_cuda(seed, stream, counter, np.uint64(i))


seeds = st.integers(0, 2**64 - 1)
small = st.integers(0, 2**40)


@settings(max_examples=25, deadline=None)
@given(seed=seeds, stream=small, counter=small, n=st.integers(1, 40))
def test_numba_equals_numpy(seed, stream, counter, n):
    idx = np.arange(n, dtype=np.uint64)
    np.testing.assert_array_equal(
        _numba_draws(uniform_numba, seed, stream, counter, n),
        uniform_numpy(seed, stream, counter, idx),
    )
    np.testing.assert_array_equal(
        _numba_draws(normal_numba, seed, stream, counter, n),
        normal_numpy(seed, stream, counter, idx),
    )


@pytest.mark.cuda
# The simulator runs the device functions on NumPy scalars, which warn on uint64 wrap-around.
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize(("seed", "stream", "counter"), [(0, 0, 0), (2**63 + 12345, 7, 999)])
def test_cuda_equals_numpy(seed, stream, counter):
    n = 40
    idx = np.arange(n, dtype=np.uint64)
    out = np.zeros(n, dtype=np.float64)
    _fill_uniform[1, 128](out, U64(seed), U64(stream), U64(counter))
    # Integer hashing and one exact multiply: bit-identical on every device.
    np.testing.assert_array_equal(out, uniform_numpy(seed, stream, counter, idx))
    _fill_normal[1, 128](out, U64(seed), U64(stream), U64(counter))
    expected = normal_numpy(seed, stream, counter, idx)
    if gpu_present():  # the device's log/cos may differ from the host's in the last bits
        np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-13)
    else:
        np.testing.assert_array_equal(out, expected)


def test_uniform_range_and_moments():
    n = 200_000
    x = uniform_numpy(7, 1, 3, np.arange(n, dtype=np.uint64))
    assert x.dtype == np.float64
    assert x.min() >= 0.0 and x.max() < 1.0
    assert abs(x.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    assert abs(x.var() - 1 / 12) < 0.002
    # Equal-width bins hold equal counts (chi-square with 9 degrees of freedom).
    counts = np.histogram(x, bins=10, range=(0.0, 1.0))[0]
    chi2 = ((counts - n / 10) ** 2 / (n / 10)).sum()
    assert chi2 < 30.0  # p ~ 0.0004 under uniformity


def test_normal_moments():
    n = 200_000
    z = normal_numpy(11, 2, 5, np.arange(n, dtype=np.uint64))
    assert np.all(np.isfinite(z))
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.std() - 1.0) < 0.01
    assert abs(np.mean(np.abs(z) < 1.0) - 0.6827) < 0.01
    assert abs(np.mean(z > 1.96) - 0.025) < 0.003


def test_counter_stream_seed_decorrelate():
    idx = np.arange(50_000, dtype=np.uint64)
    base = uniform_numpy(3, 0, 0, idx)
    for other in (
        uniform_numpy(3, 0, 1, idx),  # next counter
        uniform_numpy(3, 1, 0, idx),  # other stream
        uniform_numpy(4, 0, 0, idx),  # other seed
    ):
        assert not np.array_equal(base, other)
        assert abs(np.corrcoef(base, other)[0, 1]) < 0.02


def test_counter_broadcasts_with_index():
    counters = np.arange(4, dtype=np.uint64)[:, None]
    idx = np.arange(6, dtype=np.uint64)[None, :]
    grid = uniform_numpy(9, 0, counters, idx)
    assert grid.shape == (4, 6)
    np.testing.assert_array_equal(grid[2], uniform_numpy(9, 0, 2, np.arange(6, dtype=np.uint64)))


@pytest.mark.parametrize(("seed", "stream", "counter"), [(0, 1, 0), (2**63 + 12345, 7, 999)])
@pytest.mark.parametrize(("lo", "hi"), [(0, 20_000), (137, 5_003), (10, 10)])
def test_normal_fill_equals_numpy_bit_for_bit(seed, stream, counter, lo, hi):
    """The three-pass fill (vectorised central region, then the tails) draws the same numbers
    as the one-at-a-time function, tails included (about 5 % of 20 000 draws), and writes
    only ``[lo, hi)``."""
    from spikesub.kernels.rng import normal_fill

    n = 20_000
    scale = np.linspace(0.5, 5.0, n)
    out = np.full(n, np.nan)
    normal_fill(U64(seed), U64(stream), U64(counter), lo, hi, scale, out)
    expected = scale[lo:hi] * normal_numpy(seed, stream, counter, np.arange(lo, hi, dtype=U64))
    np.testing.assert_array_equal(out[lo:hi], expected)
    assert np.isnan(out[:lo]).all() and np.isnan(out[hi:]).all()
    if hi - lo == n:
        tails = np.abs(expected / scale) > 1.97  # beyond the central region (p < 0.02425)
        assert 700 < tails.sum() < 1300
