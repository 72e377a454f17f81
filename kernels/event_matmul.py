"""Event-driven matrix products for spike inputs: work only where the input is nonzero.

A spiking layer's input ``x`` is ``(R, K)`` (``R = T * B`` rows of steps x samples, ``K``
presynaptic neurons) and mostly zero: hidden layers of a spiking MLP fire a few percent of
their neurons per step. The two products of a Linear layer that involve ``x`` then cost in
proportion to its nonzeros, not to ``R * K``:

* forward, :func:`event_matmul`: ``out = x @ wt`` with ``wt = W.T`` ``(K, N)``, each nonzero
  ``x[r, k]`` adding ``x[r, k] * wt[k, :]`` into ``out[r, :]``;
* weight gradient, :func:`event_outer`: ``gwt = x.T @ delta`` ``(K, N)`` for the upstream
  gradient ``delta`` ``(R, N)``, each nonzero ``x[r, k]`` adding ``x[r, k] * delta[r, :]`` into
  ``gwt[k, :]``.

Zeros are skipped exactly (``0 * w`` contributes nothing), so the results equal the dense
products up to the order of the float additions: nonzeros are summed in ascending ``k``
(forward) or ascending ``r`` (gradient), in the dtype of the arrays. The Numba CPU versions
split the work so that no two threads write the same element (rows of ``out``; rows of
``gwt``, one per presynaptic neuron, from the nonzeros regrouped by column) and every element
sums in the reference's order, hence their results do not depend on the number of threads and
equal the NumPy reference bit for bit. The CUDA
versions give one thread per output element; on a GPU a dense cuBLAS product is usually
faster, and the layers use that there.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

import spikesub.kernels.threads  # noqa: F401 - loads TBB before Numba's pool starts
from spikesub.kernels.launch import THREADS_PER_BLOCK
from spikesub.kernels.lazy_cuda import cuda


def _check(x, b, out, b_name: str, out_name: str) -> None:
    if x.ndim != 2 or b.ndim != 2 or out.ndim != 2:
        raise ValueError(f"x, {b_name} and {out_name} must be 2-D")
    if not (x.dtype == b.dtype == out.dtype) or x.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"x, {b_name} and {out_name} must share one float dtype (float32 or float64); "
            f"got {x.dtype}, {b.dtype}, {out.dtype}"
        )


def event_matmul_numpy(x: np.ndarray, wt: np.ndarray, out: np.ndarray) -> None:
    """``out = x @ wt`` over the nonzeros of ``x`` (reference).

    Args:
        x: input ``(R, K)``, mostly zeros (spikes); float32 or float64.
        wt: transposed weights ``(K, N)``, C-contiguous, same dtype.
        out: result ``(R, N)``, same dtype; overwritten.
    """
    _check(x, wt, out, "wt", "out")
    if x.shape[1] != wt.shape[0] or out.shape != (x.shape[0], wt.shape[1]):
        raise ValueError(f"shapes do not match: x {x.shape}, wt {wt.shape}, out {out.shape}")
    out[...] = 0
    for r in range(x.shape[0]):
        row = out[r]
        for k in np.flatnonzero(x[r]):
            row += x[r, k] * wt[k]


def event_outer_numpy(x: np.ndarray, delta: np.ndarray, gwt: np.ndarray) -> None:
    """``gwt = x.T @ delta`` over the nonzeros of ``x`` (reference).

    Args:
        x: input ``(R, K)``, mostly zeros (spikes); float32 or float64.
        delta: upstream gradient of the layer output ``(R, N)``, same dtype.
        gwt: result ``(K, N)`` (the weight gradient, transposed), same dtype; overwritten.
    """
    _check(x, delta, gwt, "delta", "gwt")
    if x.shape[0] != delta.shape[0] or gwt.shape != (x.shape[1], delta.shape[1]):
        raise ValueError(f"shapes do not match: x {x.shape}, delta {delta.shape}, gwt {gwt.shape}")
    gwt[...] = 0
    for r in range(x.shape[0]):
        for k in np.flatnonzero(x[r]):
            gwt[k] += x[r, k] * delta[r]


@njit(parallel=True, cache=True)
def _row_pointers(x):
    """``indptr`` ``(R + 1,)``: where each row's nonzeros start in the CSR of ``x``."""
    n_rows, n_in = x.shape
    counts = np.zeros(n_rows + 1, np.int64)
    for r in prange(n_rows):
        c = 0
        for k in range(n_in):
            c += x[r, k] != 0
        counts[r + 1] = c
    return np.cumsum(counts)


def _nonzeros_by_row(x):
    """``(indptr, columns, values)``, the CSR of ``x``: counted, then filled."""
    return _fill_rows(x, _row_pointers(x))


@njit(parallel=True, cache=True)
def _fill_rows(x, indptr):
    n_rows, n_in = x.shape
    columns = np.empty(indptr[n_rows], np.int32)
    values = np.empty(indptr[n_rows], x.dtype)
    for r in prange(n_rows):
        # branch-free compaction into a scratch row (a spike pattern defeats branch
        # prediction), then a copy of the row's nonzeros
        row_columns = np.empty(n_in + 1, np.int32)
        c = 0
        for k in range(n_in):
            row_columns[c] = k
            c += x[r, k] != 0
        p = indptr[r]
        for q in range(c):
            columns[p + q] = row_columns[q]
            values[p + q] = x[r, row_columns[q]]
    return indptr, columns, values


@njit(inline="always")
def _add_scaled_rows(acc, values, matrix, index, p, end):
    """``acc += values[q] * matrix[index[q]]`` for ``q`` from ``p`` to ``end``, in that order.

    Four rows at a time: ``acc[j] + a + b + c + d`` rounds as four separate additions in
    ascending order, so the result is the same as one row at a time, bit for bit, while the
    accumulator is loaded and stored once per four rows instead of once per row (about 1.3x
    faster where the rows come from L2 or L3).
    """
    n = acc.shape[0]
    while p + 4 <= end:
        v0, v1, v2, v3 = values[p], values[p + 1], values[p + 2], values[p + 3]
        m0, m1 = matrix[index[p]], matrix[index[p + 1]]
        m2, m3 = matrix[index[p + 2]], matrix[index[p + 3]]
        for j in range(n):
            acc[j] = acc[j] + v0 * m0[j] + v1 * m1[j] + v2 * m2[j] + v3 * m3[j]
        p += 4
    while p < end:
        v = values[p]
        m = matrix[index[p]]
        for j in range(n):
            acc[j] += v * m[j]
        p += 1


@njit(parallel=True, cache=True)
def _event_matmul_numba(indptr, columns, values, wt, out):
    n_rows, n_out = out.shape
    for r in prange(n_rows):
        row = out[r]
        for j in range(n_out):
            row[j] = 0
        _add_scaled_rows(row, values, wt, columns, indptr[r], indptr[r + 1])


def nonzeros_by_row_numpy(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nonzeros of ``x`` ``(R, K)`` row by row, in CSR form (reference).

    Returns:
        ``(indptr, columns, values)``: ``indptr`` ``(R + 1,)`` int64, ``columns`` ``(nnz,)``
        int32 in ascending order within each row, ``values`` ``(nnz,)`` in the dtype of ``x``.
    """
    rows, columns = np.nonzero(x)
    indptr = np.zeros(x.shape[0] + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=x.shape[0]), out=indptr[1:])
    return indptr, columns.astype(np.int32), x[rows, columns]


def nonzeros_by_row_numba(
    x: np.ndarray, max_nonzeros: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Numba CPU :func:`nonzeros_by_row_numpy` (rows counted and filled in parallel).

    With ``max_nonzeros``, an ``x`` of more nonzeros is only counted, not compacted, and
    None is returned: a caller that would take a dense product for such an input pays one
    pass over it.
    """
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D; got shape {x.shape}")
    indptr = _row_pointers(x)
    if max_nonzeros is not None and indptr[-1] > max_nonzeros:
        return None
    return _fill_rows(x, indptr)


def event_matmul_csr_numba(indptr, columns, values, wt: np.ndarray, out: np.ndarray) -> None:
    """:func:`event_matmul_numba` with the nonzeros of ``x`` given by
    :func:`nonzeros_by_row_numba` (so that one scan of ``x`` serves forward and backward)."""
    if out.shape[0] + 1 != indptr.shape[0] or out.shape[1] != wt.shape[1]:
        raise ValueError(
            f"shapes do not match: {indptr.shape[0] - 1} rows, wt {wt.shape}, out {out.shape}"
        )
    _event_matmul_numba(indptr, columns, values, wt, out)


def event_outer_csr_numba(indptr, columns, values, delta: np.ndarray, gwt: np.ndarray) -> None:
    """:func:`event_outer_numba` with the nonzeros of ``x`` given by
    :func:`nonzeros_by_row_numba`. ``gwt`` may be a strided view, such as ``gw.T`` for a
    C-contiguous weight gradient ``gw`` ``(N, K)``."""
    if delta.shape[0] + 1 != indptr.shape[0] or gwt.shape[1] != delta.shape[1]:
        raise ValueError(
            f"shapes do not match: {indptr.shape[0] - 1} rows, delta {delta.shape}, gwt {gwt.shape}"
        )
    _event_outer_numba(indptr, columns, values, delta, gwt)


def event_matmul_numba(x: np.ndarray, wt: np.ndarray, out: np.ndarray) -> None:
    """Numba CPU :func:`event_matmul_numpy`: rows in parallel, bit-identical to it."""
    _check(x, wt, out, "wt", "out")
    if x.shape[1] != wt.shape[0] or out.shape != (x.shape[0], wt.shape[1]):
        raise ValueError(f"shapes do not match: x {x.shape}, wt {wt.shape}, out {out.shape}")
    _event_matmul_numba(*_nonzeros_by_row(x), wt, out)


@njit(cache=True)
def _nonzeros_by_column(indptr, columns, values, n_in):
    """The CSR nonzeros of ``x`` regrouped by column (CSC), rows ascending in each column."""
    n_rows = indptr.shape[0] - 1
    colptr = np.zeros(n_in + 1, np.int64)
    for p in range(columns.shape[0]):
        colptr[columns[p] + 1] += 1
    for k in range(n_in):
        colptr[k + 1] += colptr[k]
    fill = colptr[:-1].copy()
    rows = np.empty(columns.shape[0], np.int32)
    col_values = np.empty(columns.shape[0], values.dtype)
    for r in range(n_rows):
        for p in range(indptr[r], indptr[r + 1]):
            q = fill[columns[p]]
            rows[q] = r
            col_values[q] = values[p]
            fill[columns[p]] = q + 1
    return colptr, rows, col_values


@njit(parallel=True, cache=True)
def _event_outer_numba(indptr, columns, values, delta, gwt):
    # Each thread owns whole rows gwt[k] (one presynaptic neuron), summed in a contiguous
    # buffer that stays in L1 while the rows of delta where neuron k was active are added in
    # ascending order; gwt may be a strided view (e.g. the transpose of a (N, K) weight
    # gradient, which then needs no transposed copy).
    colptr, rows, col_values = _nonzeros_by_column(indptr, columns, values, gwt.shape[0])
    n_out = delta.shape[1]
    for k in prange(gwt.shape[0]):
        acc = np.zeros(n_out, delta.dtype)
        _add_scaled_rows(acc, col_values, delta, rows, colptr[k], colptr[k + 1])
        for j in range(n_out):
            gwt[k, j] = acc[j]


def event_outer_numba(x: np.ndarray, delta: np.ndarray, gwt: np.ndarray) -> None:
    """Numba CPU :func:`event_outer_numpy`: rows of ``gwt`` in parallel, bit-identical to it."""
    _check(x, delta, gwt, "delta", "gwt")
    if x.shape[0] != delta.shape[0] or gwt.shape != (x.shape[1], delta.shape[1]):
        raise ValueError(f"shapes do not match: x {x.shape}, delta {delta.shape}, gwt {gwt.shape}")
    _event_outer_numba(*_nonzeros_by_row(x), delta, gwt)


@cuda.jit
def _event_matmul_cuda(x, wt, out):
    i = cuda.grid(1)
    n_out = wt.shape[1]
    if i >= out.shape[0] * n_out:
        return
    r = i // n_out
    j = i % n_out
    acc = x[r, 0] * 0  # zero in the arrays' dtype
    for k in range(x.shape[1]):
        v = x[r, k]
        if v != 0:
            acc += v * wt[k, j]
    out[r, j] = acc


@cuda.jit
def _event_outer_cuda(x, delta, gwt):
    i = cuda.grid(1)
    n_out = delta.shape[1]
    if i >= gwt.shape[0] * n_out:
        return
    k = i // n_out
    j = i % n_out
    acc = x[0, k] * 0  # zero in the arrays' dtype
    for r in range(x.shape[0]):
        v = x[r, k]
        if v != 0:
            acc += v * delta[r, j]
    gwt[k, j] = acc


def _launch(kernel, n: int, *args) -> None:
    blocks = max(1, (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK)
    kernel[blocks, THREADS_PER_BLOCK](*args)


def event_matmul_cuda(x, wt, out) -> None:
    """Numba CUDA :func:`event_matmul_numpy` (one thread per output element)."""
    if x.shape[1] != wt.shape[0] or tuple(out.shape) != (x.shape[0], wt.shape[1]):
        raise ValueError(f"shapes do not match: x {x.shape}, wt {wt.shape}, out {out.shape}")
    _launch(_event_matmul_cuda, out.shape[0] * out.shape[1], x, wt, out)


def event_outer_cuda(x, delta, gwt) -> None:
    """Numba CUDA :func:`event_outer_numpy` (one thread per output element)."""
    if x.shape[0] != delta.shape[0] or tuple(gwt.shape) != (x.shape[1], delta.shape[1]):
        raise ValueError(f"shapes do not match: x {x.shape}, delta {delta.shape}, gwt {gwt.shape}")
    _launch(_event_outer_cuda, gwt.shape[0] * gwt.shape[1], x, delta, gwt)
