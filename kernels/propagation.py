"""Spike propagation: add the weights of this step's spiking neurons into the targets.

Sparse connectivity is stored as CSR over presynaptic rows:

* ``indptr``: int64 (n_pre + 1,), row ``i`` occupies ``indptr[i]:indptr[i + 1]``;
* ``indices``: int32 (nnz,), postsynaptic neuron of each synapse, ascending within a row;
* ``weights``: float32 or float64 (nnz,).

Spikes are given as ``spike_idx`` (int32, ascending presynaptic indices, of which
the first ``n_spikes`` are used), so the cost is proportional to spikes times
fan-out, never to ``n_pre * n_post``. ``out`` (n_post,) is float32 or float64 and
is accumulated in place.

Additions happen in ``out``'s dtype (each weight is first rounded to it), in spike
order then row order. The NumPy reference, the serial Numba kernel and the
partitioned Numba kernel therefore agree bit for bit. The CUDA kernel adds with
atomics, in an unspecified order, so its sums match up to float rounding.

Partitioned propagation splits the postsynaptic neurons into ``n_parts``
contiguous ranges, part ``p`` holding ``[p * n_post // n_parts, (p + 1) * n_post //
n_parts)``. :func:`csr_partition` records, for every row, where its synapses cross
those boundaries; each part then walks all spikes over its own post range only, so
parts run in parallel without races and every post neuron still receives its
additions in the serial order.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

import spikesub.kernels.threads  # noqa: F401 - loads TBB before Numba's pool starts
from spikesub.kernels.intrinsics import prefetch_numba
from spikesub.kernels.launch import THREADS_PER_BLOCK, array_length
from spikesub.kernels.lazy_cuda import cuda

_MAX_BLOCKS = 65535
_DENSE_CHUNK = 2048


# CSR propagation: NumPy reference --------------------------------------------


def csr_propagate_numpy(
    spike_idx: np.ndarray,
    n_spikes: int,
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    out: np.ndarray,
) -> None:
    """Add the CSR rows of the first ``n_spikes`` entries of ``spike_idx`` into ``out``.

    Args:
        spike_idx: (>= n_spikes,) int32, ascending presynaptic indices of the spikes.
        n_spikes: number of valid entries of ``spike_idx``.
        indptr: (n_pre + 1,) int64 row pointers.
        indices: (nnz,) int32 postsynaptic indices, ascending within each row.
        weights: (nnz,) float32 or float64.
        out: (n_post,) float32 or float64; accumulated in place.
    """
    positions = _row_positions(spike_idx, n_spikes, indptr)
    if positions.size:
        np.add.at(out, indices[positions], weights[positions].astype(out.dtype, copy=False))


def _row_positions(spike_idx: np.ndarray, n_spikes: int, indptr: np.ndarray) -> np.ndarray:
    """The synapse positions of the first ``n_spikes`` rows of ``spike_idx``, row after row,
    in row order (int64)."""
    rows = np.asarray(spike_idx[:n_spikes], dtype=np.int64)
    starts = indptr[rows].astype(np.int64)
    lengths = indptr[rows + 1].astype(np.int64) - starts
    total = int(lengths.sum())
    # Positions of the concatenated rows: row r's t-th synapse sits at starts[r] + t.
    first = np.cumsum(lengths) - lengths
    return np.repeat(starts - first, lengths) + np.arange(total, dtype=np.int64)


def csr_propagate_gain_numpy(spike_idx, n_spikes, indptr, indices, weights, gain, out):
    """:func:`csr_propagate_numpy` with every negative (inhibitory) weight scaled by its
    postsynaptic neuron's ``gain`` ((n_post,) float64): ``out[j] += w * gain[j]`` for ``w < 0``,
    the product in float64, then rounded to ``out``'s dtype; positive weights as they are."""
    positions = _row_positions(spike_idx, n_spikes, indptr)
    if positions.size == 0:
        return
    post = indices[positions]
    values = weights[positions].astype(np.float64)
    values = np.where(values < 0.0, values * gain[post], values)
    np.add.at(out, post, values.astype(out.dtype))


# CSR propagation: Numba CPU --------------------------------------------------


#: Bytes per cache line of the CPUs the prefetches are sized for (x86-64, most ARM64).
CACHE_LINE_BYTES = 64


@njit(inline="always", cache=True)
def csr_prefetch_range_numba(i, indices, weights, splits, part):
    """Prefetch the synapses of row ``i`` into the post range of ``part`` (every cache line of
    ``indices`` and ``weights`` in ``splits[i, part]:splits[i, part + 1]``), so that a later
    :func:`csr_propagate_range_numba` finds them in cache. A hint: results do not change."""
    k0 = splits[i, part]
    k1 = splits[i, part + 1]
    if k1 > k0:
        for k in range(k0, k1, CACHE_LINE_BYTES // indices.itemsize):
            prefetch_numba(indices, k)
        for k in range(k0, k1, CACHE_LINE_BYTES // weights.itemsize):
            prefetch_numba(weights, k)
        prefetch_numba(indices, k1 - 1)
        prefetch_numba(weights, k1 - 1)


@njit(cache=True, error_model="numpy")
def csr_propagate_numba(spike_idx, n_spikes, indptr, indices, weights, out):
    """Serial Numba version of :func:`csr_propagate_numpy` (same arguments, same bits)."""
    for s in range(n_spikes):
        i = spike_idx[s]
        for k in range(indptr[i], indptr[i + 1]):
            out[indices[k]] += out.dtype.type(weights[k])


@njit(inline="always", cache=True, error_model="numpy")
def csr_propagate_range_numba(spike_idx, n_spikes, indptr, indices, weights, splits, part, out):
    """Serial propagation into the post range of one part (see :func:`csr_partition`).

    Walks the first ``n_spikes`` spikes and, for each, the synapses
    ``splits[i, part]:splits[i, part + 1]`` of row ``i``. Inlined into the callers, so it can
    sit inside fused network loops. ``indptr`` is unused (the splits hold the row bounds); it
    is kept so the signature matches the other CSR kernels.
    """
    # Unsigned indices: Numba then emits no negative-index wraparound in the hot loop.
    for s in range(n_spikes):
        i = np.uint64(spike_idx[s])
        for k in range(np.uint64(splits[i, part]), np.uint64(splits[i, part + 1])):
            out[np.uint64(indices[k])] += out.dtype.type(weights[k])


@njit(inline="always", cache=True, error_model="numpy")
def csr_propagate_range_gain_numba(spike_idx, n_spikes, splits, indices, weights, gain, part, out):
    """:func:`csr_propagate_range_numba` with the inhibitory weights scaled by ``gain`` of
    their postsynaptic neuron (as :func:`csr_propagate_gain_numpy`, same bits)."""
    for s in range(n_spikes):
        i = np.uint64(spike_idx[s])
        for k in range(np.uint64(splits[i, part]), np.uint64(splits[i, part + 1])):
            j = np.uint64(indices[k])
            w = np.float64(weights[k])
            if w < 0.0:
                w = w * gain[j]
            out[j] += out.dtype.type(w)


@njit(parallel=True, cache=True, error_model="numpy")
def csr_propagate_partitioned_numba(spike_idx, n_spikes, indptr, indices, weights, splits, out):
    """Parallel CSR propagation, one part of the post neurons per task.

    Same arguments as :func:`csr_propagate_numpy` plus ``splits`` from :func:`csr_partition`
    (int64 (n_pre, n_parts + 1)); bit-identical to :func:`csr_propagate_numpy`. Give at least
    as many parts as Numba threads; a few parts per thread balances the load better (smaller
    post ranges also stay in cache). With one part it runs serially.
    """
    n_parts = splits.shape[1] - 1
    if n_parts == 1:
        csr_propagate_range_numba(spike_idx, n_spikes, indptr, indices, weights, splits, 0, out)
    else:
        for p in prange(n_parts):
            csr_propagate_range_numba(spike_idx, n_spikes, indptr, indices, weights, splits, p, out)


def csr_partition_bounds(n_post: int, n_parts: int) -> np.ndarray:
    """Boundaries of the ``n_parts`` post ranges: int64 (n_parts + 1,), ``p * n_post // n_parts``.

    Part ``p`` holds post neurons ``[bounds[p], bounds[p + 1])``.
    """
    return (np.arange(n_parts + 1, dtype=np.int64) * n_post) // n_parts


@njit(parallel=True, cache=True, error_model="numpy")
def _csr_partition_numba(indptr, indices, n_post, n_parts):
    n_pre = indptr.shape[0] - 1
    splits = np.empty((n_pre, n_parts + 1), dtype=np.int64)
    for i in prange(n_pre):
        lo = np.int64(indptr[i])
        hi = np.int64(indptr[i + 1])
        splits[i, 0] = lo
        for p in range(1, n_parts):
            bound = (p * n_post) // n_parts
            # First synapse at or past lo whose post index is >= bound (binary search).
            a = lo
            b = hi
            while a < b:
                mid = (a + b) >> 1
                if indices[mid] < bound:
                    a = mid + 1
                else:
                    b = mid
            splits[i, p] = a
            lo = a
        splits[i, n_parts] = hi
    return splits


def csr_partition(indptr: np.ndarray, indices: np.ndarray, n_post: int, n_parts: int) -> np.ndarray:
    """Split every CSR row at the boundaries of ``n_parts`` equal ranges of post neurons.

    Part ``p`` holds post neurons ``[p * n_post // n_parts, (p + 1) * n_post // n_parts)``.
    Parallel over rows, a binary search per boundary: O(n_pre * n_parts * log(fan-out)).

    Args:
        indptr: (n_pre + 1,) int64 row pointers.
        indices: (nnz,) int32 post indices, ascending within each row, in ``[0, n_post)``.
        n_post: number of postsynaptic neurons, >= 0.
        n_parts: number of parts, >= 1.

    Returns:
        splits: int64 (n_pre, n_parts + 1); row ``i``'s synapses into part ``p`` are
        ``splits[i, p]:splits[i, p + 1]``, with ``splits[i, 0] == indptr[i]`` and
        ``splits[i, n_parts] == indptr[i + 1]``.
    """
    if int(n_parts) < 1:
        raise ValueError(f"n_parts must be >= 1; got {n_parts!r}")
    if int(n_post) < 0:
        raise ValueError(f"n_post must be >= 0; got {n_post!r}")
    return _csr_partition_numba(indptr, indices, np.int64(n_post), np.int64(n_parts))


# CSR propagation: CUDA -------------------------------------------------------


@cuda.jit
def _csr_propagate_kernel(spike_idx, n_spikes, indptr, indices, weights, out):
    for s in range(cuda.blockIdx.x, n_spikes, cuda.gridDim.x):
        i = spike_idx[s]
        for k in range(indptr[i] + cuda.threadIdx.x, indptr[i + 1], cuda.blockDim.x):
            cuda.atomic.add(out, indices[k], weights[k])


def csr_propagate_cuda(spike_idx, n_spikes: int, indptr, indices, weights, out) -> None:
    """CUDA version of :func:`csr_propagate_numpy`: one block per spike, threads stride over
    the row, atomic additions (sums equal up to float rounding order).

    Arrays may be NumPy arrays (copied to the device and back) or device arrays / objects with
    ``__cuda_array_interface__``.
    """
    n_spikes = int(n_spikes)
    if n_spikes <= 0:
        return
    blocks = min(n_spikes, _MAX_BLOCKS)
    _csr_propagate_kernel[blocks, THREADS_PER_BLOCK](
        spike_idx, n_spikes, indptr, indices, weights, out
    )


# Dense propagation -----------------------------------------------------------


def dense_propagate_numpy(spiked: np.ndarray, weights: np.ndarray, out: np.ndarray) -> None:
    """Add the rows of ``weights`` of the spiking neurons into ``out``, ascending pre order.

    Args:
        spiked: (n_pre,) bool.
        weights: (n_pre, n_post) float32 or float64.
        out: (n_post,) float32 or float64; accumulated in place, in its own dtype.
    """
    for i in np.flatnonzero(spiked):
        out += weights[i].astype(out.dtype, copy=False)


@njit(inline="always", cache=True, error_model="numpy")
def _dense_chunk(rows, weights, out, j0, j1):
    for r in range(rows.shape[0]):
        i = rows[r]
        for j in range(j0, j1):
            out[j] += out.dtype.type(weights[i, j])


@njit(parallel=True, cache=True, error_model="numpy")
def dense_propagate_numba(spiked, weights, out):
    """Numba version of :func:`dense_propagate_numpy` (same bits).

    Parallel over chunks of ``_DENSE_CHUNK`` post neurons; each chunk adds the spiking rows in
    ascending order, so the sums do not depend on the number of threads.
    """
    n_post = out.shape[0]
    rows = np.nonzero(spiked)[0]
    n_chunks = (n_post + _DENSE_CHUNK - 1) // _DENSE_CHUNK
    if n_chunks <= 1:
        _dense_chunk(rows, weights, out, 0, n_post)
    else:
        for c in prange(n_chunks):
            j0 = c * _DENSE_CHUNK
            _dense_chunk(rows, weights, out, j0, min(j0 + _DENSE_CHUNK, n_post))


@cuda.jit
def _dense_propagate_kernel(spiked, weights, out):
    j = cuda.grid(1)
    if j < out.shape[0]:
        acc = out[j]
        for i in range(spiked.shape[0]):
            if spiked[i]:
                acc += out.dtype.type(weights[i, j])
        out[j] = acc


def dense_propagate_cuda(spiked, weights, out) -> None:
    """CUDA version of :func:`dense_propagate_numpy`: one thread per post neuron, walking the
    pre neurons in ascending order (coalesced reads of each weight row)."""
    n = array_length(out)
    if n == 0:
        return
    blocks = (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    _dense_propagate_kernel[blocks, THREADS_PER_BLOCK](spiked, weights, out)
