"""Sparse synaptic weights and random connectivity.

Weights are stored in CSR form by **presynaptic** row: the synapses leaving
neuron ``i`` are ``indices[indptr[i]:indptr[i + 1]]`` (postsynaptic targets,
strictly ascending) with weights ``weights[indptr[i]:indptr[i + 1]]``. A spike
of neuron ``i`` is delivered by walking its row.

Dense matrices follow the project's one convention, ``W[post, pre]`` (targets by
sources, as ``torch.nn.Linear.weight`` and the readouts): :meth:`SparseWeights.to_dense`
returns that layout and :meth:`SparseWeights.from_dense` takes it. Izhikevich's (2003)
MATLAB matrix ``S`` is laid out the same way. The CSR storage by presynaptic row is the
layout the delivery loop walks, not a second convention.

Random structure is drawn with the counter-based generator of
:mod:`spikesub.kernels.rng`: every draw is a pure function of
``(seed, stream, row or column, draw number)``, so the compiled, multi-threaded
builders give the same matrix bit for bit for a given seed whatever the number
of threads.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from numba import njit, prange

import spikesub.kernels.threads  # noqa: F401 - loads TBB before Numba's pool starts
from spikesub.kernels.rng import uniform_numba
from spikesub.models.memory import check_allocation
from spikesub.models.validation import check_real

__all__ = [
    "SparseWeights",
    "csr_bytes",
    "dale_weights",
    "expected_synapses",
    "izhikevich_2003_weights",
    "random_connectivity",
    "scale_weights",
]

SeedLike = int | np.random.Generator | np.random.SeedSequence | None

# Streams of the counter-based generator, one per purpose.
_STREAM_BERNOULLI = np.uint64(0xC0)
_STREAM_IN_DEGREE = np.uint64(0xC1)
_STREAM_WEIGHTS = np.uint64(0xC2)

_WEIGHT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# Upper bound on the entries of the per-chunk row histograms of the fixed in-degree builder.
_HISTOGRAM_BUDGET = 1 << 23
# Standard deviations added to the expected synapse count of a Bernoulli network (a binomial
# count exceeds its mean by six of them with probability below 1e-9).
_SYNAPSE_MARGIN_SIGMAS = 6.0


# ----------------------------------------------------------------------------------------------
# Random seeds
# ----------------------------------------------------------------------------------------------


def _seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """A SeedSequence from an int, a Generator, a SeedSequence or None (fresh entropy)."""
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**63, size=4, dtype=np.int64).tolist())
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer; got {seed}")
        return np.random.SeedSequence(int(seed))
    raise TypeError(
        "seed must be a non-negative int, a numpy.random.Generator, a numpy.random.SeedSequence "
        f"or None; got {type(seed).__name__}"
    )


def _seed64(ss: np.random.SeedSequence) -> np.uint64:
    """A 64-bit seed for the counter-based generator."""
    return np.uint64(ss.generate_state(1, dtype=np.uint64)[0])


# ----------------------------------------------------------------------------------------------
# Compiled kernels
# ----------------------------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def _check_rows(indptr, indices, weights, n_post):
    """Per-row status: 0 fine, 1 index out of range, 2 not strictly ascending, 3 non-finite."""
    n_pre = indptr.shape[0] - 1
    status = np.zeros(n_pre, np.int8)
    for i in prange(n_pre):
        previous = -1
        for s in range(indptr[i], indptr[i + 1]):
            j = indices[s]
            if j < 0 or j >= n_post:
                status[i] = 1
                break
            if j <= previous:
                status[i] = 2
                break
            previous = j
            if not np.isfinite(weights[s]):
                status[i] = 3
                break
    return status


@njit(cache=True, parallel=True)
def _bernoulli_rows(n_post, log_q, seed, exclude_diagonal, indptr, indices):
    """Each pair (i, j) independently with probability p = 1 - exp(log_q), by geometric skips.

    With ``indices`` empty, only count: ``indptr[i + 1]`` receives the size of row ``i``.
    Otherwise fill row ``i`` from ``indptr[i]`` (the prefix sums of the counting pass).
    Positions are visited in ascending order, so every row comes out sorted.
    """
    n_pre = indptr.shape[0] - 1
    fill = indices.shape[0] > 0
    for i in prange(n_pre):
        skip_self = exclude_diagonal and i < n_post
        m = n_post - 1 if skip_self else n_post
        row = np.uint64(i)
        position = -1
        count = 0
        draw = 0
        start = indptr[i] if fill else 0
        while True:
            u = uniform_numba(seed, _STREAM_BERNOULLI, row, np.uint64(draw))
            draw += 1
            gap = math.log1p(-u) / log_q
            if gap >= m - 1 - position:
                break
            position += int(gap) + 1
            if fill:
                j = position
                if skip_self and j >= i:
                    j += 1
                indices[start + count] = j
            count += 1
        if not fill:
            indptr[i + 1] = count


@njit(cache=True)
def _floyd_sample(n_pre, k, column, seed, exclude_diagonal, mark, out):
    """``k`` distinct presynaptic indices for postsynaptic ``column`` (Floyd's algorithm)."""
    skip_self = exclude_diagonal and column < n_pre
    m = n_pre - 1 if skip_self else n_pre
    col = np.uint64(column)
    q = 0
    for r in range(m - k, m):
        u = uniform_numba(seed, _STREAM_IN_DEGREE, col, np.uint64(q))
        t = int(u * (r + 1))
        if t > r:
            t = r
        if mark[t]:
            t = r
        mark[t] = True
        out[q] = t
        q += 1
    for q in range(k):
        t = out[q]
        mark[t] = False
        if skip_self and t >= column:
            out[q] = t + 1


@njit(cache=True, parallel=True)
def _in_degree_count(n_pre, n_post, k, seed, exclude_diagonal, histogram):
    """``histogram[c, i]``: synapses from pre ``i`` into the postsynaptic columns of chunk ``c``."""
    n_chunks = histogram.shape[0]
    for c in prange(n_chunks):
        j0 = c * n_post // n_chunks
        j1 = (c + 1) * n_post // n_chunks
        mark = np.zeros(n_pre, np.bool_)
        sample = np.empty(k, np.int64)
        for j in range(j0, j1):
            _floyd_sample(n_pre, k, j, seed, exclude_diagonal, mark, sample)
            for q in range(k):
                histogram[c, sample[q]] += 1


@njit(cache=True, parallel=True)
def _chunk_offsets(indptr, histogram):
    """Turn per-chunk row counts into the first free slot of each (chunk, row), in place."""
    n_chunks = histogram.shape[0]
    n_pre = histogram.shape[1]
    for i in prange(n_pre):
        running = indptr[i]
        for c in range(n_chunks):
            count = histogram[c, i]
            histogram[c, i] = running
            running += count


@njit(cache=True, parallel=True)
def _in_degree_fill(n_pre, n_post, k, seed, exclude_diagonal, offsets, indices):
    """Draw the same samples again and write each column into its presynaptic rows."""
    n_chunks = offsets.shape[0]
    for c in prange(n_chunks):
        j0 = c * n_post // n_chunks
        j1 = (c + 1) * n_post // n_chunks
        mark = np.zeros(n_pre, np.bool_)
        sample = np.empty(k, np.int64)
        for j in range(j0, j1):
            _floyd_sample(n_pre, k, j, seed, exclude_diagonal, mark, sample)
            for q in range(k):
                i = sample[q]
                indices[offsets[c, i]] = j
                offsets[c, i] += 1


@njit(cache=True, parallel=True)
def _signed_magnitudes(indptr, excitatory, exc_low, exc_high, inh_low, inh_high, seed, out):
    """Row ``i`` gets +U(exc_low, exc_high) if excitatory, else -U(inh_low, inh_high)."""
    n_pre = indptr.shape[0] - 1
    for i in prange(n_pre):
        if excitatory[i]:
            low = exc_low
            width = exc_high - exc_low
            sign = 1.0
        else:
            low = inh_low
            width = inh_high - inh_low
            sign = -1.0
        row = np.uint64(i)
        for s in range(indptr[i], indptr[i + 1]):
            if width == 0.0:
                out[s] = sign * low
            else:
                u = uniform_numba(seed, _STREAM_WEIGHTS, row, np.uint64(s - indptr[i]))
                out[s] = sign * (low + width * u)


@njit(cache=True, parallel=True)
def _scale(weights, factor, out):
    for s in prange(weights.shape[0]):
        out[s] = weights[s] * factor


@njit(cache=True)
def _count_targets(indices, n_post):
    counts = np.zeros(n_post, np.int64)
    for s in range(indices.shape[0]):
        counts[indices[s]] += 1
    return counts


@njit(cache=True)
def _group_by_pre(pre, post, weights, indptr, indices, values):
    """Stable counting sort of (pre, post, weight) triples into rows of ``indptr``."""
    n_pre = indptr.shape[0] - 1
    cursor = indptr[:n_pre].copy()
    for s in range(pre.shape[0]):
        i = pre[s]
        indices[cursor[i]] = post[s]
        values[cursor[i]] = weights[s]
        cursor[i] += 1


@njit(cache=True, parallel=True)
def _sort_rows(indptr, indices, values):
    """Sort every row by postsynaptic index; return per-row number of distinct targets."""
    n_pre = indptr.shape[0] - 1
    distinct = np.zeros(n_pre, np.int64)
    for i in prange(n_pre):
        a = indptr[i]
        b = indptr[i + 1]
        if b - a > 1:
            order = np.argsort(indices[a:b], kind="mergesort")
            row_idx = indices[a:b][order]
            row_val = values[a:b][order]
            indices[a:b] = row_idx
            values[a:b] = row_val
        count = 0
        for s in range(a, b):
            if s == a or indices[s] != indices[s - 1]:
                count += 1
        distinct[i] = count
    return distinct


@njit(cache=True)
def _sum_duplicates(indptr, indices, values, new_indptr, new_indices, new_values):
    n_pre = indptr.shape[0] - 1
    for i in range(n_pre):
        w = new_indptr[i] - 1
        for s in range(indptr[i], indptr[i + 1]):
            if s == indptr[i] or indices[s] != indices[s - 1]:
                w += 1
                new_indices[w] = indices[s]
                new_values[w] = values[s]
            else:
                new_values[w] += values[s]


# ----------------------------------------------------------------------------------------------
# Validation helpers
# ----------------------------------------------------------------------------------------------


def _check_count(name: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    if value > np.iinfo(np.int64).max:
        raise ValueError(f"{name} must be <= 2**63 - 1 (it sizes an array); got {value}")
    return int(value)


def _readonly(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


def _weight_array(name: str, weights: Any) -> np.ndarray:
    w = np.asarray(weights)
    if w.dtype in _WEIGHT_DTYPES:
        return w
    if w.dtype.kind in "biuf":
        return w.astype(np.float32)
    raise TypeError(f"{name} must be a real float32 or float64 array; got dtype {w.dtype}")


def _float_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError, SyntaxError):  # NumPy's errors for strings it cannot read
        raise TypeError(f"dtype must be float32 or float64; got {dtype!r}") from None
    if dt not in _WEIGHT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64; got {dt}")
    return dt


# ----------------------------------------------------------------------------------------------
# SparseWeights
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SparseWeights:
    """Synaptic weights in CSR form by presynaptic row.

    Attributes:
        indptr: ``(n_pre + 1,)`` int64; row ``i`` is ``indptr[i]:indptr[i + 1]``.
        indices: ``(nnz,)`` int32 postsynaptic targets, strictly ascending within each row.
        weights: ``(nnz,)`` float32 or float64 synaptic weights (any sign, finite).
        n_pre: number of presynaptic neurons.
        n_post: number of postsynaptic neurons.

    The arrays are kept as read-only views (no copy when they already have the right dtype).
    """

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    n_pre: int
    n_post: int

    def __post_init__(self) -> None:
        n_pre = _check_count("n_pre", self.n_pre)
        n_post = _check_count("n_post", self.n_post)
        indptr = np.asarray(self.indptr)
        indices = np.asarray(self.indices)
        if indptr.dtype.kind not in "iu" or indices.dtype.kind not in "iu":
            raise TypeError(
                f"indptr and indices must be integer arrays; got {indptr.dtype} and {indices.dtype}"
            )
        indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        if n_post > np.iinfo(np.int32).max:
            raise ValueError(f"n_post must be <= {np.iinfo(np.int32).max}; got {n_post}")
        if (
            indices.dtype != np.int32
            and indices.ndim == 1
            and indices.size
            and (indices.min() < 0 or indices.max() >= n_post)
        ):
            bad = int(indices.min()) if indices.min() < 0 else int(indices.max())
            raise ValueError(f"indices must lie in [0, n_post={n_post}); got {bad}")
        indices = np.ascontiguousarray(indices, dtype=np.int32)
        weights = np.ascontiguousarray(_weight_array("weights", self.weights))
        if indptr.shape != (n_pre + 1,):
            raise ValueError(
                f"indptr must have shape (n_pre + 1,) = ({n_pre + 1},); got {indptr.shape}"
            )
        if indices.ndim != 1:
            raise ValueError(f"indices must be 1-D (nnz,); got shape {indices.shape}")
        nnz = indices.shape[0]
        if weights.shape != (nnz,):
            raise ValueError(f"weights must have shape (nnz,) = ({nnz},); got {weights.shape}")
        if indptr[0] != 0 or indptr[-1] != nnz:
            raise ValueError(
                f"indptr must start at 0 and end at nnz = {nnz}; got {indptr[0]} and {indptr[-1]}"
            )
        if n_pre and np.any(indptr[1:] < indptr[:-1]):
            raise ValueError("indptr must be non-decreasing (monotone row pointers)")
        if nnz:
            status = _check_rows(indptr, indices, weights, n_post)
            bad_rows = np.flatnonzero(status)
            if bad_rows.size:
                row = int(bad_rows[0])
                code = int(status[row])
                if code == 2:
                    raise ValueError(
                        f"indices must be strictly ascending within each row (no duplicate "
                        f"synapses); row {row} is not"
                    )
                if code == 3:
                    raise ValueError(f"weights must be finite; row {row} holds NaN or inf")
                raise ValueError(f"indices must lie in [0, n_post={n_post}); row {row} does not")
        object.__setattr__(self, "n_pre", n_pre)
        object.__setattr__(self, "n_post", n_post)
        object.__setattr__(self, "indptr", _readonly(indptr))
        object.__setattr__(self, "indices", _readonly(indices))
        object.__setattr__(self, "weights", _readonly(weights))

    def __repr__(self) -> str:
        return (
            f"SparseWeights(n_pre={self.n_pre}, n_post={self.n_post}, nnz={self.nnz}, "
            f"dtype={self.weights.dtype})"
        )

    @property
    def nnz(self) -> int:
        """Number of synapses."""
        return int(self.indices.shape[0])

    @property
    def dtype(self) -> np.dtype:
        """Weight dtype (float32 or float64)."""
        return self.weights.dtype

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_post, n_pre)``: the shape of the dense matrix ``W[post, pre]``."""
        return (self.n_post, self.n_pre)

    def pre_post(self) -> tuple[np.ndarray, np.ndarray]:
        """``(pre, post)``: two ``(nnz,)`` int32 arrays, one entry per synapse in CSR order.

        ``post`` is the read-only ``indices`` array itself. This is the form Brian2's
        ``Synapses.connect(i=pre, j=post)`` takes.
        """
        pre = np.repeat(np.arange(self.n_pre, dtype=np.int32), np.diff(self.indptr))
        return pre, self.indices

    def to_dense(self) -> np.ndarray:
        """``(n_post, n_pre)`` dense matrix ``W[post, pre]`` in the weight dtype."""
        dense = np.zeros((self.n_post, self.n_pre), dtype=self.weights.dtype)
        pre, post = self.pre_post()
        dense[post, pre] = self.weights
        return dense

    @classmethod
    def from_dense(
        cls, W: Any = None, *, dtype: Any = np.float32, pre_post: Any = None
    ) -> SparseWeights:
        """Build from a dense ``(n_post, n_pre)`` matrix ``W[post, pre]``; zeros are dropped.

        ``pre_post=`` takes a matrix in the layout spikesub used before, ``W[pre, post]``
        (deprecated: transpose it and pass it as ``W``).
        """
        dt = _float_dtype(dtype)
        if (W is None) == (pre_post is None):
            raise TypeError("from_dense takes one matrix: W[post, pre], or pre_post=W[pre, post]")
        if pre_post is not None:
            warnings.warn(
                "SparseWeights.from_dense(pre_post=W) takes the old W[pre, post] layout; "
                "spikesub's convention is W[post, pre] (as torch.nn.Linear): pass W.T as W",
                DeprecationWarning,
                stacklevel=2,
            )
            dense = np.asarray(pre_post)
            name, layout = "pre_post", "(n_pre, n_post)"
        else:
            dense = np.asarray(W)
            name, layout = "W", "(n_post, n_pre)"
        if dense.ndim != 2:
            raise ValueError(f"{name} must be 2-D {layout}; got shape {dense.shape}")
        if dense.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a real array; got dtype {dense.dtype}")
        if pre_post is None:
            dense = dense.T  # rows by presynaptic neuron, the storage's order
        pre, post = np.nonzero(dense)
        counts = np.bincount(pre, minlength=dense.shape[0])
        indptr = np.zeros(dense.shape[0] + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(
            indptr=indptr,
            indices=post.astype(np.int32),
            weights=dense[pre, post].astype(dt),
            n_pre=dense.shape[0],
            n_post=dense.shape[1],
        )

    @classmethod
    def from_pre_post(
        cls,
        pre: Any,
        post: Any,
        weights: Any,
        n_pre: int,
        n_post: int,
        *,
        dtype: Any = None,
        duplicates: str = "raise",
    ) -> SparseWeights:
        """Build from synapse lists (any order), e.g. Brian2's ``Synapses.i``, ``.j``, ``.w``.

        Args:
            pre, post: ``(nnz,)`` integer presynaptic and postsynaptic indices.
            weights: ``(nnz,)`` weights, or a scalar given to every synapse.
            n_pre, n_post: population sizes.
            dtype: weight dtype, float32 or float64; by default that of ``weights`` when it is
                float32 or float64, else float32.
            duplicates: ``"raise"`` (a repeated (pre, post) pair raises ValueError) or ``"sum"``
                (repeated pairs become one synapse with the summed weight).
        """
        n_pre = _check_count("n_pre", n_pre)
        n_post = _check_count("n_post", n_post)
        if duplicates not in ("raise", "sum"):
            raise ValueError(f"duplicates must be 'raise' or 'sum'; got {duplicates!r}")
        pre_a = np.asarray(pre)
        post_a = np.asarray(post)
        if pre_a.ndim != 1 or post_a.shape != pre_a.shape:
            raise ValueError(
                f"pre and post must be 1-D arrays of equal length; got shapes {pre_a.shape} "
                f"and {post_a.shape}"
            )
        for name, arr, size in (("pre", pre_a, n_pre), ("post", post_a, n_post)):
            if arr.size and arr.dtype.kind not in "iu":
                raise TypeError(f"{name} must be an integer array; got dtype {arr.dtype}")
            if arr.size and (arr.min() < 0 or arr.max() >= size):
                raise ValueError(f"{name} must lie in [0, {size}); got values outside")
        w = _weight_array("weights", weights)
        if w.ndim == 0:
            w = np.full(pre_a.shape, w, dtype=w.dtype)
        if w.shape != pre_a.shape:
            raise ValueError(f"weights must have shape {pre_a.shape} like pre; got {w.shape}")
        dt = _float_dtype(dtype) if dtype is not None else w.dtype
        if not np.all(np.isfinite(w)):
            raise ValueError("weights must be finite; got NaN or inf")
        pre64 = np.ascontiguousarray(pre_a, dtype=np.int64)
        counts = np.bincount(pre64, minlength=n_pre)
        indptr = np.zeros(n_pre + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        indices = np.empty(pre_a.shape[0], dtype=np.int32)
        values = np.empty(pre_a.shape[0], dtype=dt)
        _group_by_pre(
            pre64,
            np.ascontiguousarray(post_a, dtype=np.int32),
            w.astype(dt),
            indptr,
            indices,
            values,
        )
        distinct = _sort_rows(indptr, indices, values)
        if distinct.sum() != indices.shape[0]:
            if duplicates == "raise":
                row = int(np.flatnonzero(distinct != counts)[0])
                raise ValueError(
                    f"pre and post hold duplicate (pre, post) pairs (first in pre row {row}); "
                    "pass duplicates='sum' to merge them"
                )
            new_indptr = np.zeros(n_pre + 1, dtype=np.int64)
            np.cumsum(distinct, out=new_indptr[1:])
            new_indices = np.empty(int(new_indptr[-1]), dtype=np.int32)
            new_values = np.empty(int(new_indptr[-1]), dtype=dt)
            _sum_duplicates(indptr, indices, values, new_indptr, new_indices, new_values)
            indptr, indices, values = new_indptr, new_indices, new_values
        return cls(indptr=indptr, indices=indices, weights=values, n_pre=n_pre, n_post=n_post)

    def in_degree(self) -> np.ndarray:
        """``(n_post,)`` int64 number of synapses onto each postsynaptic neuron."""
        return _count_targets(self.indices, self.n_post)

    def out_degree(self) -> np.ndarray:
        """``(n_pre,)`` int64 number of synapses leaving each presynaptic neuron."""
        return np.diff(self.indptr)

    def with_weights(self, new_weights: Any) -> SparseWeights:
        """Same structure, new ``(nnz,)`` weights (float32/float64 kept, other reals -> float32)."""
        w = _weight_array("new_weights", new_weights)
        if w.shape != (self.nnz,):
            raise ValueError(f"new_weights must have shape (nnz,) = ({self.nnz},); got {w.shape}")
        return SparseWeights(
            indptr=self.indptr,
            indices=self.indices,
            weights=w,
            n_pre=self.n_pre,
            n_post=self.n_post,
        )

    def scaled(self, factor: float) -> SparseWeights:
        """Weights multiplied by ``factor`` (product in float64, stored in the weight dtype)."""
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
            raise TypeError(f"factor must be a finite real number; got {factor!r}")
        factor = float(factor)
        if not math.isfinite(factor):
            raise ValueError(f"factor must be finite; got {factor}")
        out = np.empty_like(self.weights)
        if self.nnz:
            _scale(self.weights, factor, out)
        return self.with_weights(out)

    def spectral_radius(self, *, tol: float = 1e-8) -> float:
        """The largest absolute eigenvalue of the square weight matrix.

        Computed by ARPACK's Arnoldi iteration on the sparse matrix
        (``scipy.sparse.linalg.eigs``, ``k=1``, largest magnitude; a fixed start vector, so
        the same weights give the same value), never on a dense copy; matrices of at most 16
        neurons, too small for ARPACK, take dense ``numpy.linalg.eigvals``. Transposing
        changes no eigenvalue, so the CSR storage is used as it is.

        Raises:
            ValueError: the matrix is not square.
        """
        if self.n_pre != self.n_post:
            raise ValueError(
                f"the spectral radius needs a square matrix; got {self.n_post} x {self.n_pre}"
            )
        tol = check_real("tol", tol, low=0.0)
        if self.nnz == 0:
            return 0.0
        if self.n_pre <= 16:
            return float(np.abs(np.linalg.eigvals(self.to_dense().astype(np.float64))).max())
        from scipy.sparse import csr_matrix
        from scipy.sparse.linalg import eigs

        matrix = csr_matrix(
            (self.weights.astype(np.float64), self.indices, self.indptr),
            shape=(self.n_pre, self.n_post),
        )
        start = np.ones(self.n_pre) / math.sqrt(self.n_pre)
        values = eigs(matrix, k=1, which="LM", tol=tol, v0=start, return_eigenvectors=False)
        return float(np.abs(values).max())

    def scaled_to_spectral_radius(self, radius: float) -> SparseWeights:
        """Weights scaled so that their :meth:`spectral_radius` is ``radius`` (> 0): the
        usual gain of a reservoir's recurrence.

        Raises:
            ValueError: ``radius`` not finite and positive, or the matrix's spectral radius
                is 0 (no synapses, or a nilpotent matrix): no scaling reaches ``radius``.
        """
        radius = check_real("radius", radius, low=0.0, low_open=True)
        current = self.spectral_radius()
        if current == 0.0:
            raise ValueError("the weights' spectral radius is 0: no scaling reaches a radius")
        return self.scaled(radius / current)

    def ei_balance(self, excitatory: Any, rates_hz: Any = None) -> float:
        """Mean inhibitory over mean excitatory input: ``sum |w|`` of the synapses from
        inhibitory presynaptic neurons over ``sum w`` of those from excitatory ones, each
        weighted by the presynaptic rate when ``rates_hz`` ``(n_pre,)`` is given (the input a
        neuron receives on average), else by 1 (the synaptic weight alone). 1 is a balanced
        network; the Izhikevich (2003) network's weights give 0.5 by weight.

        Raises:
            ValueError: ``excitatory`` not a bool ``(n_pre,)`` array, bad rates, or no
                excitatory input to compare with.
        """
        excitatory = np.asarray(excitatory)
        if excitatory.shape != (self.n_pre,) or excitatory.dtype != np.bool_:
            raise ValueError(
                f"excitatory must be a bool ({self.n_pre},) array; got {excitatory.dtype} "
                f"{excitatory.shape}"
            )
        weight = np.ones(self.n_pre) if rates_hz is None else np.asarray(rates_hz, float)
        if weight.shape != (self.n_pre,) or not np.all(np.isfinite(weight)) or np.any(weight < 0):
            raise ValueError(f"rates_hz must be ({self.n_pre},), finite and >= 0")
        pre, _ = self.pre_post()
        drive = np.abs(self.weights.astype(np.float64)) * weight[pre]
        from_exc = excitatory[pre]
        exc, inh = float(drive[from_exc].sum()), float(drive[~from_exc].sum())
        if exc == 0.0:
            raise ValueError("no excitatory input: the E/I balance is undefined")
        return inh / exc

    def with_ei_balance(self, excitatory: Any, balance: float, rates_hz: Any = None):
        """These weights with the inhibitory synapses scaled so that :meth:`ei_balance` is
        ``balance`` (> 0); excitatory synapses unchanged."""
        balance = check_real("balance", balance, low=0.0, low_open=True)
        current = self.ei_balance(excitatory, rates_hz)
        if current == 0.0:
            raise ValueError("no inhibitory input to scale to an E/I balance")
        pre, _ = self.pre_post()
        factor = np.where(np.asarray(excitatory)[pre], 1.0, balance / current)
        return self.with_weights((self.weights.astype(np.float64) * factor).astype(self.dtype))

    def astype(self, dtype: Any) -> SparseWeights:
        """Same synapses with weights cast to ``dtype`` (float32 or float64)."""
        dt = _float_dtype(dtype)
        return self.with_weights(self.weights.astype(dt))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary: sizes, degrees and weight statistics."""
        in_deg = self.in_degree()
        out_deg = self.out_degree()
        w = self.weights

        def stats(x: np.ndarray) -> dict[str, float]:
            if x.size == 0:
                return {"min": 0.0, "mean": 0.0, "max": 0.0}
            return {
                "min": float(x.min()),
                "mean": float(x.mean(dtype=np.float64)),
                "max": float(x.max()),
            }

        cells = self.n_pre * self.n_post
        return {
            "n_pre": self.n_pre,
            "n_post": self.n_post,
            "nnz": self.nnz,
            "density": float(self.nnz / cells) if cells else 0.0,
            "dtype": str(w.dtype),
            "in_degree": stats(in_deg),
            "out_degree": stats(out_deg),
            "weights": stats(w),
            "n_positive": int(np.count_nonzero(w > 0)),
            "n_negative": int(np.count_nonzero(w < 0)),
        }


# ----------------------------------------------------------------------------------------------
# Size estimates
# ----------------------------------------------------------------------------------------------


def _check_probability(p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"p must be a real number in [0, 1]; got {p!r}")
    if isinstance(p, numbers.Integral) and not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1]; got {p}")  # also an int beyond float range
    p = float(p)
    if not 0.0 <= p <= 1.0:  # also rejects NaN
        raise ValueError(f"p must be in [0, 1]; got {p}")
    return p


def _check_in_degree(in_degree: Any, n_pre: int, n_post: int, exclude_diagonal: bool) -> int:
    """``in_degree`` as an int in ``[0, n_pre]`` (``n_pre - 1`` without autapses)."""
    k = _check_count("in_degree", in_degree)
    k_max = n_pre - 1 if exclude_diagonal and n_post > 0 else n_pre
    if k > max(k_max, 0):
        raise ValueError(
            f"in_degree must be in [0, {max(k_max, 0)}] (n_pre = {n_pre}"
            + (", no autapses" if exclude_diagonal else "")
            + f"); got {k}"
        )
    return k


def _in_degree_chunks(n_pre: int, n_post: int) -> int:
    """Chunks of postsynaptic columns of the fixed in-degree builder (one histogram row each)."""
    return max(1, min(n_post, 4 * numba.get_num_threads(), _HISTOGRAM_BUDGET // max(n_pre, 1)))


def expected_synapses(
    n_pre: int,
    n_post: int,
    *,
    p: float | None = None,
    in_degree: int | None = None,
    allow_autapses: bool = True,
) -> float:
    """How many synapses :func:`random_connectivity` will draw, at most (with high probability).

    With ``in_degree`` exactly ``n_post * in_degree``. With ``p`` the count is binomial over the
    ``n_pre * n_post`` pairs (less the diagonal without autapses): its mean ``pairs * p`` plus
    six standard deviations ``sqrt(pairs * p * (1 - p))``, which it exceeds with probability
    below 1e-9. A float, since absurd sizes do not fit in 64 bits.
    """
    if in_degree is not None:
        return float(n_post) * float(in_degree)
    pairs = float(n_pre) * float(n_post)
    if not allow_autapses:
        pairs -= min(n_pre, n_post)
    p = float(p if p is not None else 1.0)
    mean = pairs * p
    return min(pairs, mean + _SYNAPSE_MARGIN_SIGMAS * math.sqrt(mean * (1.0 - p)))


def csr_bytes(n_pre: int, n_synapses: float, *, weight_bytes: int = 4) -> float:
    """Bytes of a :class:`SparseWeights` with ``n_synapses`` synapses out of ``n_pre`` rows.

    ``(n_pre + 1)`` int64 row pointers, then per synapse an int32 target and a weight of
    ``weight_bytes`` bytes (4 for float32).
    """
    return 8.0 * (n_pre + 1) + float(n_synapses) * (4 + weight_bytes)


def _builder_workspace_bytes(n_pre: int, n_post: int, in_degree: int | None) -> float:
    """Bytes :func:`random_connectivity` needs besides its result, beyond O(threads).

    The row check of :class:`SparseWeights` (one int8 per row) and, for a fixed in-degree, the
    per-chunk row histograms (int64) and marks (bool) of the counting pass.
    """
    workspace = float(n_pre)
    if in_degree is not None and in_degree > 0 and n_post > 0:
        workspace += 9.0 * _in_degree_chunks(n_pre, n_post) * n_pre
    return workspace


def _check_connectivity_memory(
    what: str,
    n_pre: int,
    n_post: int,
    p: float | None,
    k: int | None,
    *,
    extra_per_synapse: int = 0,
) -> float:
    """Refuse (MemoryBudgetError) a random network whose CSR would not fit the memory budget.

    Returns the estimated synapse count. Also bounds the time of the builder: its counting and
    filling passes each cost O(n_pre + synapses) random draws, both of which the estimate counts.
    """
    synapses = expected_synapses(n_pre, n_post, p=p, in_degree=k)
    n_bytes = (
        csr_bytes(n_pre, synapses)
        + extra_per_synapse * synapses
        + _builder_workspace_bytes(n_pre, n_post, k)
    )
    check_allocation(f"{what}: about {synapses:,.0f} synapses", n_bytes)
    return synapses


def _connectivity_call(n_pre: int, n_post: int, p: float | None, k: int | None) -> str:
    density = f"p={p:g}" if k is None else f"in_degree={k:,}"
    return f"random_connectivity(n_pre={n_pre:,}, n_post={n_post:,}, {density})"


# ----------------------------------------------------------------------------------------------
# Builders
# ----------------------------------------------------------------------------------------------


def random_connectivity(
    n_pre: int,
    n_post: int,
    *,
    p: float | None = None,
    in_degree: int | None = None,
    allow_autapses: bool = True,
    seed: SeedLike = None,
) -> SparseWeights:
    """Random structure with all weights 1.0 (float32).

    Give exactly one of:

    * ``p``: every pair (pre, post) is connected independently with probability ``p`` in [0, 1];
    * ``in_degree``: every postsynaptic neuron gets exactly ``in_degree`` distinct presynaptic
      partners drawn uniformly, ``0 <= in_degree <= n_pre`` (``n_pre - 1`` without autapses).

    Args:
        n_pre, n_post: population sizes (>= 0).
        allow_autapses: when False, no synapse ``i -> i`` (for ``i < min(n_pre, n_post)``;
            meaningful for recurrent connectivity where ``n_pre == n_post``).
        seed: int, Generator, SeedSequence or None. The same seed gives the same matrix bit for
            bit, independently of the number of threads.

    Built in two compiled, parallel passes (count, then fill) without dense or
    pair-list temporaries: memory is the result (``int32`` indices and ``float32``
    weights, 8 bytes per synapse) plus ``O(n_pre)`` work space. Each pass costs
    ``O(n_pre + synapses)`` random draws.

    Raises:
        MemoryBudgetError: the expected result (:func:`expected_synapses`, :func:`csr_bytes`)
            and work space exceed the memory budget (:mod:`spikesub.models.memory`); checked
            before any pass runs, so an oversized network fails at once.
    """
    n_pre = _check_count("n_pre", n_pre)
    n_post = _check_count("n_post", n_post)
    if n_post > np.iinfo(np.int32).max:
        raise ValueError(f"n_post must be <= {np.iinfo(np.int32).max}; got {n_post}")
    if (p is None) == (in_degree is None):
        raise ValueError(
            "give exactly one of p (connection probability) or in_degree; got "
            + ("both" if p is not None else "neither")
        )
    if not isinstance(allow_autapses, (bool, np.bool_)):
        raise TypeError(f"allow_autapses must be a bool; got {allow_autapses!r}")
    exclude = not bool(allow_autapses)
    if p is not None:
        p = _check_probability(p)
        k = None
    else:
        k = _check_in_degree(in_degree, n_pre, n_post, exclude)
    _check_connectivity_memory(_connectivity_call(n_pre, n_post, p, k), n_pre, n_post, p, k)
    seed64 = _seed64(_seed_sequence(seed))
    indptr = np.zeros(n_pre + 1, dtype=np.int64)

    if p is not None:
        if p == 0.0 or n_pre == 0 or n_post == 0:
            indices = np.empty(0, dtype=np.int32)
        else:
            log_q = math.log1p(-p) if p < 1.0 else -math.inf  # p == 1: every gap is 0
            _bernoulli_rows(n_post, log_q, seed64, exclude, indptr, np.empty(0, np.int32))
            np.cumsum(indptr, out=indptr)
            indices = np.empty(int(indptr[-1]), dtype=np.int32)
            if indices.size:
                _bernoulli_rows(n_post, log_q, seed64, exclude, indptr, indices)
    else:
        if k == 0 or n_post == 0:
            indices = np.empty(0, dtype=np.int32)
        else:
            n_chunks = _in_degree_chunks(n_pre, n_post)
            histogram = np.zeros((n_chunks, n_pre), dtype=np.int64)
            _in_degree_count(n_pre, n_post, k, seed64, exclude, histogram)
            np.cumsum(histogram.sum(axis=0), out=indptr[1:])
            _chunk_offsets(indptr, histogram)
            indices = np.empty(int(indptr[-1]), dtype=np.int32)
            _in_degree_fill(n_pre, n_post, k, seed64, exclude, histogram, indices)
    weights = np.ones(indices.shape[0], dtype=np.float32)
    return SparseWeights(
        indptr=indptr, indices=indices, weights=weights, n_pre=n_pre, n_post=n_post
    )


def _magnitude_range(name: str, value: Any) -> tuple[float, float]:
    """A constant ``w`` or a ``(low, high)`` range, both >= 0 and finite."""
    if isinstance(value, (tuple, list)) or (isinstance(value, np.ndarray) and value.ndim == 1):
        if len(value) != 2:
            raise ValueError(
                f"{name} must be a magnitude >= 0 or a (low, high) pair; got {value!r}"
            )
        low, high = (float(v) for v in value)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        low = high = float(value)
    else:
        raise TypeError(f"{name} must be a magnitude >= 0 or a (low, high) pair; got {value!r}")
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{name} must be finite; got {value!r}")
    if low < 0 or high < 0:
        raise ValueError(
            f"{name} is a magnitude and must be >= 0 (the sign comes from the neuron type); "
            f"got {value!r}"
        )
    if high < low:
        raise ValueError(f"{name} range must have low <= high; got {value!r}")
    return low, high


def _excitatory_mask(excitatory: Any, n: int, name: str = "excitatory") -> np.ndarray:
    mask = np.asarray(excitatory)
    if mask.dtype != np.bool_:
        if mask.dtype.kind not in "iu" or not np.isin(mask, (0, 1)).all():
            raise TypeError(f"{name} must be a boolean array; got dtype {mask.dtype}")
        mask = mask.astype(bool)
    if mask.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},); got {mask.shape}")
    return np.ascontiguousarray(mask)


def dale_weights(
    conn: SparseWeights,
    excitatory: Any,
    *,
    w_exc: float | tuple[float, float] = 1.0,
    w_inh: float | tuple[float, float] = 1.0,
    seed: SeedLike = None,
) -> SparseWeights:
    """Signed weights obeying Dale's law on the structure of ``conn`` (its weights are replaced).

    Args:
        conn: the synapses; the result keeps its weight dtype.
        excitatory: ``(n_pre,)`` bool, True for excitatory presynaptic neurons.
        w_exc: magnitude of excitatory weights: a constant >= 0, or ``(low, high)`` for
            magnitudes uniform in [low, high).
        w_inh: magnitude (>= 0) of inhibitory weights, same forms; the weights are its negative.
        seed: int, Generator, SeedSequence or None.

    Returns:
        ``SparseWeights`` in which every row of an excitatory neuron is >= 0 and every row of an
        inhibitory neuron is <= 0.
    """
    if not isinstance(conn, SparseWeights):
        raise TypeError(f"conn must be a SparseWeights; got {type(conn).__name__}")
    mask = _excitatory_mask(excitatory, conn.n_pre)
    exc_low, exc_high = _magnitude_range("w_exc", w_exc)
    inh_low, inh_high = _magnitude_range("w_inh", w_inh)
    seed64 = _seed64(_seed_sequence(seed))
    out = np.empty(conn.nnz, dtype=conn.weights.dtype)
    if conn.nnz:
        _signed_magnitudes(conn.indptr, mask, exc_low, exc_high, inh_low, inh_high, seed64, out)
    return conn.with_weights(out)


def scale_weights(conn: SparseWeights, mode: str | float) -> SparseWeights:
    """Weights scaled by ``mode``: ``"none"``, ``"1/sqrt(K)"``, ``"1/K"`` or a float factor.

    ``K`` is the mean in-degree ``nnz / n_post``. With no synapses the weights are returned as
    they are.
    """
    if not isinstance(conn, SparseWeights):
        raise TypeError(f"conn must be a SparseWeights; got {type(conn).__name__}")
    if isinstance(mode, str):
        key = mode.replace(" ", "").lower()
        if key == "none":
            return conn
        if key not in ("1/sqrt(k)", "1/k"):
            raise ValueError(f"mode must be 'none', '1/sqrt(K)', '1/K' or a float; got {mode!r}")
        if conn.nnz == 0:
            return conn
        k_mean = conn.nnz / conn.n_post
        factor = 1.0 / math.sqrt(k_mean) if key == "1/sqrt(k)" else 1.0 / k_mean
        return conn.scaled(factor)
    if isinstance(mode, bool) or not isinstance(mode, numbers.Real):
        raise TypeError(f"mode must be 'none', '1/sqrt(K)', '1/K' or a float; got {mode!r}")
    return conn.scaled(float(mode))


def izhikevich_2003_weights(
    population: Any,
    *,
    p: float | None = None,
    in_degree: int | None = None,
    k_reference: float = 1000,
    seed: SeedLike = None,
) -> SparseWeights:
    """Recurrent weights of Izhikevich's (2003) network, for any size.

    Excitatory presynaptic neurons get ``0.5 * U(0, 1)``, inhibitory ones ``-U(0, 1)``
    (autapses allowed, as in the original), all multiplied by ``k_reference / K`` where ``K`` is
    the expected in-degree (``p * N`` or ``in_degree``): any network then sees the mean input of
    the original 1000-neuron all-to-all network (factor exactly 1 for N = 1000 with p = 1,
    N = 10 000 with p = 0.1, or in_degree = 1000).

    Args:
        population: an ``IzhikevichPopulation`` (its ``n`` and ``excitatory`` are used).
        p: connection probability in [0, 1]; 1.0 (all to all) when neither ``p`` nor
            ``in_degree`` is given.
        in_degree: exact number of presynaptic partners per neuron, instead of ``p``.
        k_reference: in-degree of the reference network (> 0).
        seed: int, Generator, SeedSequence or None.

    Returns:
        ``(N, N)`` float32 ``SparseWeights`` (dense layout ``W[post, pre]``).

    Raises:
        MemoryBudgetError: the synapses (12 bytes each while the signed weights are drawn:
            target, unit weight and signed weight) would exceed the memory budget; checked
            before anything is drawn.
    """
    n = getattr(population, "n", None)
    excitatory = getattr(population, "excitatory", None)
    if n is None or excitatory is None:
        raise TypeError(
            "population must have n and excitatory (an IzhikevichPopulation); "
            f"got {type(population).__name__}"
        )
    if p is not None and in_degree is not None:
        raise ValueError("give exactly one of p (connection probability) or in_degree; got both")
    if p is None and in_degree is None:
        p = 1.0
    if isinstance(k_reference, bool) or not isinstance(k_reference, numbers.Real):
        raise TypeError(f"k_reference must be a real number > 0; got {k_reference!r}")
    if not (math.isfinite(k_reference) and k_reference > 0):
        raise ValueError(f"k_reference must be > 0 and finite; got {k_reference}")
    _check_izhikevich_memory(n, p, in_degree)
    conn_ss, weight_ss = _seed_sequence(seed).spawn(2)
    conn = random_connectivity(n, n, p=p, in_degree=in_degree, allow_autapses=True, seed=conn_ss)
    k_expected = float(p) * n if in_degree is None else float(in_degree)
    factor = float(k_reference) / k_expected if k_expected > 0 else 1.0
    return dale_weights(
        conn, excitatory, w_exc=(0.0, 0.5 * factor), w_inh=(0.0, factor), seed=weight_ss
    )


def _check_izhikevich_memory(n: Any, p: float | None, in_degree: int | None) -> None:
    """Refuse, before drawing anything, an Izhikevich (2003) network over the memory budget.

    Invalid arguments are left to :func:`random_connectivity`, whose messages name them.
    """
    try:
        n = _check_count("population.n", n)
        p = _check_probability(p) if p is not None else None
        k = _check_in_degree(in_degree, n, n, False) if in_degree is not None else None
    except (TypeError, ValueError):
        return
    density = f"p={p:g}" if k is None else f"in_degree={k:,}"
    what = f"synapses of the Izhikevich (2003) network of N={n:,} neurons with {density}"
    _check_connectivity_memory(what, n, n, p, k, extra_per_synapse=4)
