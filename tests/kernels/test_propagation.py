"""Spike propagation: CSR (serial, partitioned, CUDA) and dense, against the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import cuda

from spikesub.kernels import (
    csr_partition,
    csr_partition_bounds,
    csr_propagate_cuda,
    csr_propagate_numba,
    csr_propagate_numpy,
    csr_propagate_partitioned_numba,
    dense_propagate_cuda,
    dense_propagate_numba,
    dense_propagate_numpy,
)

DTYPES = (np.float32, np.float64)
DTYPE_PAIRS = [(w, o) for w in DTYPES for o in DTYPES]


def random_csr(rng, n_pre, n_post, density, dtype):
    """Random CSR matrix (no repeated synapses) and the same matrix dense, (n_pre, n_post)."""
    mask = rng.random((n_pre, n_post)) < density
    dense = np.where(mask, rng.normal(0.0, 1.0, (n_pre, n_post)), 0.0).astype(dtype)
    counts = mask.sum(axis=1)
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    rows, cols = np.nonzero(mask)  # row-major: ascending columns within each row
    return indptr, cols.astype(np.int32), dense[rows, cols], dense


def random_spikes(rng, n_pre, p):
    spiked = rng.random(n_pre) < p
    idx = np.flatnonzero(spiked).astype(np.int32)
    # Room after the valid entries, filled with junk the kernels must not read.
    padded = np.concatenate([idx, np.full(3, n_pre + 99, dtype=np.int32)])
    return spiked, padded, idx.size


sizes = {
    "n_pre": st.integers(1, 64),
    "n_post": st.integers(1, 64),
    "density": st.floats(0.0, 1.0),
    "p_spike": st.floats(0.0, 1.0),
    "seed": st.integers(0, 2**32 - 1),
    # (weights dtype, out dtype); every pair costs one more compilation of each kernel, so mixed
    # pairs are covered by the fixed examples below.
    "dtypes": st.sampled_from([(np.float32, np.float32), (np.float64, np.float64)]),
}


def _propagate(fn, *args, out0):
    out = out0.copy()
    assert fn(*args, out) is None
    return out


@settings(max_examples=25, deadline=None)
@given(**sizes, n_parts=st.integers(1, 4))
def test_numba_csr_kernels_equal_numpy(n_pre, n_post, density, p_spike, seed, dtypes, n_parts):
    w_dtype, out_dtype = dtypes
    rng = np.random.default_rng(seed)
    indptr, indices, weights, dense = random_csr(rng, n_pre, n_post, density, w_dtype)
    spiked, spike_idx, n_spikes = random_spikes(rng, n_pre, p_spike)
    out0 = rng.normal(0.0, 1.0, n_post).astype(out_dtype)
    args = (spike_idx, n_spikes, indptr, indices, weights)
    ref = _propagate(csr_propagate_numpy, *args, out0=out0)
    assert ref.dtype == out_dtype
    np.testing.assert_array_equal(_propagate(csr_propagate_numba, *args, out0=out0), ref)
    splits = csr_partition(indptr, indices, n_post, n_parts)
    got = _propagate(csr_propagate_partitioned_numba, *args, splits, out0=out0)
    np.testing.assert_array_equal(got, ref)
    # Same matrix, dense: every post neuron gets the same additions in the same order (the
    # dense kernel adds exact zeros in between), so the sums agree bit for bit.
    np.testing.assert_array_equal(_propagate(dense_propagate_numpy, spiked, dense, out0=out0), ref)
    np.testing.assert_array_equal(_propagate(dense_propagate_numba, spiked, dense, out0=out0), ref)


@settings(max_examples=25, deadline=None)
@given(
    n_pre=st.integers(0, 40),
    n_post=st.integers(0, 70),
    density=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
    n_parts=st.integers(1, 6),
)
def test_partition_splits_rows_at_part_bounds(n_pre, n_post, density, seed, n_parts):
    rng = np.random.default_rng(seed)
    indptr, indices, _, _ = random_csr(rng, n_pre, n_post, density, np.float32)
    splits = csr_partition(indptr, indices, n_post, n_parts)
    bounds = csr_partition_bounds(n_post, n_parts)
    assert splits.shape == (n_pre, n_parts + 1) and splits.dtype == np.int64
    assert bounds[0] == 0 and bounds[-1] == n_post
    np.testing.assert_array_equal(splits[:, 0], indptr[:-1])
    np.testing.assert_array_equal(splits[:, -1], indptr[1:])
    assert np.all(np.diff(splits, axis=1) >= 0)
    for i in range(n_pre):
        for p in range(n_parts):
            seg = indices[splits[i, p] : splits[i, p + 1]]
            assert np.all((seg >= bounds[p]) & (seg < bounds[p + 1]))


def test_partition_rejects_bad_counts():
    indptr, indices = np.zeros(3, dtype=np.int64), np.zeros(0, dtype=np.int32)
    with pytest.raises(ValueError, match="n_parts"):
        csr_partition(indptr, indices, 10, 0)
    with pytest.raises(ValueError, match="n_post"):
        csr_partition(indptr, indices, -1, 2)


def test_larger_network_partitioned_equals_serial():
    rng = np.random.default_rng(5)
    n_pre, n_post, fan_out = 3000, 2500, 100
    indptr = np.arange(n_pre + 1, dtype=np.int64) * fan_out
    indices = (
        np.sort(
            np.stack([rng.choice(n_post, fan_out, replace=False) for _ in range(n_pre)]), axis=1
        )
        .astype(np.int32)
        .ravel()
    )
    weights = rng.normal(0.0, 1.0, indices.size).astype(np.float32)
    spike_idx = np.flatnonzero(rng.random(n_pre) < 0.1).astype(np.int32)
    out0 = np.zeros(n_post, dtype=np.float32)
    args = (spike_idx, spike_idx.size, indptr, indices, weights)
    ref = _propagate(csr_propagate_numpy, *args, out0=out0)
    np.testing.assert_array_equal(_propagate(csr_propagate_numba, *args, out0=out0), ref)
    for n_parts in (2, 3, 8):
        splits = csr_partition(indptr, indices, n_post, n_parts)
        got = _propagate(csr_propagate_partitioned_numba, *args, splits, out0=out0)
        np.testing.assert_array_equal(got, ref)
    # Float32 rounding happens in the additions: the sums differ from float64 ones, slightly.
    synapses = np.concatenate([np.arange(indptr[i], indptr[i + 1]) for i in spike_idx])
    exact = np.zeros(n_post)
    np.add.at(exact, indices[synapses], weights[synapses].astype(np.float64))
    np.testing.assert_allclose(ref, exact, rtol=1e-4, atol=1e-4)


def test_dense_parallel_chunks_equal_numpy():
    rng = np.random.default_rng(6)
    n_pre, n_post = 50, 5000  # several post chunks: the multi-threaded loop runs
    dense = rng.normal(0.0, 1.0, (n_pre, n_post)).astype(np.float64)
    spiked = rng.random(n_pre) < 0.4
    out0 = rng.normal(0.0, 1.0, n_post).astype(np.float32)
    np.testing.assert_array_equal(
        _propagate(dense_propagate_numba, spiked, dense, out0=out0),
        _propagate(dense_propagate_numpy, spiked, dense, out0=out0),
    )


def test_known_small_example():
    # 0 -> {1: 0.5, 3: 1.0}; 1 -> {}; 2 -> {0: -2.0, 3: 0.25}
    indptr = np.array([0, 2, 2, 4], dtype=np.int64)
    indices = np.array([1, 3, 0, 3], dtype=np.int32)
    weights = np.array([0.5, 1.0, -2.0, 0.25], dtype=np.float32)
    spike_idx = np.array([0, 1, 2], dtype=np.int32)
    for fn in (csr_propagate_numpy, csr_propagate_numba):
        out = np.zeros(4, dtype=np.float32)
        fn(spike_idx, 3, indptr, indices, weights, out)
        np.testing.assert_array_equal(out, [-2.0, 0.5, 0.0, 1.25])
        fn(spike_idx, 1, indptr, indices, weights, out)  # only the first spike counts
        np.testing.assert_array_equal(out, [-2.0, 1.0, 0.0, 2.25])
        fn(spike_idx, 0, indptr, indices, weights, out)  # no spikes: no change
        np.testing.assert_array_equal(out, [-2.0, 1.0, 0.0, 2.25])


def test_additions_round_in_out_dtype():
    # 2**24 + 1 is not a float32: float32 additions of 1.0 onto 2**24 are lost one by one,
    # while float64 additions would keep them.
    indptr = np.array([0, 1, 2], dtype=np.int64)
    indices = np.array([0, 0], dtype=np.int32)
    weights = np.array([1.0, 1.0], dtype=np.float64)
    spike_idx = np.array([0, 1], dtype=np.int32)
    splits = csr_partition(indptr, indices, 1, 1)
    for fn, extra in (
        (csr_propagate_numpy, ()),
        (csr_propagate_numba, ()),
        (csr_propagate_partitioned_numba, (splits,)),
    ):
        out = np.array([2.0**24], dtype=np.float32)
        fn(spike_idx, 2, indptr, indices, weights, *extra, out)
        assert out[0] == np.float32(2.0**24)


@pytest.mark.cuda
@settings(max_examples=4, deadline=None)
@given(**{**sizes, "n_pre": st.integers(1, 8), "dtypes": st.sampled_from(DTYPE_PAIRS)})
def test_cuda_kernels_close_to_numpy(n_pre, n_post, density, p_spike, seed, dtypes):
    w_dtype, out_dtype = dtypes
    rng = np.random.default_rng(seed)
    indptr, indices, weights, dense = random_csr(rng, n_pre, n_post, density, w_dtype)
    spiked, spike_idx, n_spikes = random_spikes(rng, n_pre, p_spike)
    out0 = rng.normal(0.0, 1.0, n_post).astype(out_dtype)
    args = (spike_idx, n_spikes, indptr, indices, weights)
    ref = _propagate(csr_propagate_numpy, *args, out0=out0)
    tol = {"rtol": 1e-5, "atol": 1e-5}
    if out_dtype == np.float64:
        tol = {"rtol": 1e-12, "atol": 1e-12}
    np.testing.assert_allclose(_propagate(csr_propagate_cuda, *args, out0=out0), ref, **tol)
    got = _propagate(dense_propagate_cuda, spiked, dense, out0=out0)
    np.testing.assert_allclose(got, ref, **tol)


@pytest.mark.cuda
def test_cuda_csr_long_rows_and_device_arrays():
    # Rows longer than a block (128 threads stride over them), arrays already on the device.
    rng = np.random.default_rng(7)
    indptr, indices, weights, _ = random_csr(rng, 3, 300, 0.9, np.float32)
    spike_idx = np.array([0, 2], dtype=np.int32)
    ref = _propagate(csr_propagate_numpy, spike_idx, 2, indptr, indices, weights,
                     out0=np.zeros(300, np.float32))  # fmt: skip
    d_out = cuda.to_device(np.zeros(300, dtype=np.float32))
    csr_propagate_cuda(
        cuda.to_device(spike_idx), 2, cuda.to_device(indptr), cuda.to_device(indices),
        cuda.to_device(weights), d_out,
    )  # fmt: skip
    np.testing.assert_allclose(d_out.copy_to_host(), ref, rtol=1e-5, atol=1e-5)
