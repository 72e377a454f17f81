"""Micro-kernels that measure what a CPU can do, for the reservoir's machine limit.

Each kernel does one kind of work the reservoir's loop does, with nothing else around it, so
its throughput is an upper bound on that work's rate (see :mod:`spikesub.roofline`, which
times them):

* :func:`stream_sum_numba` / :func:`triad_numba`: memory bandwidth (STREAM's read and triad),
  on arrays larger than the caches, one contiguous share per thread;
* :func:`izhikevich_updates_numba`: the reservoir's Izhikevich (2003) update with its spike /
  non-finite test, repeated on a block that stays in the L1 cache: the arithmetic limit;
* :func:`scatter_add_numba`: the synaptic delivery's inner loop, ``out[indices[k]] +=
  weights[k]``, repeated on data that stays in the L1 cache: the core's load/store limit.

Each has a NumPy reference that computes the same result (the tests hold them to it). Work is
split into ``n_parts`` parts (one per thread); the ``*_numba`` versions run the parts in a
``prange`` loop.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


def part_bounds(n: int, n_parts: int) -> np.ndarray:
    """``(n_parts + 1,)`` int64 boundaries of ``n_parts`` contiguous parts of ``range(n)``."""
    return (np.arange(n_parts + 1, dtype=np.int64) * n) // max(1, n_parts)


# -- memory bandwidth ---------------------------------------------------------------------------


@njit(cache=True, fastmath=True)
def _sum_range(a, lo, hi):
    """Sum of ``a[lo:hi]``; ``fastmath`` lets the compiler keep several sums in flight
    (reassociation), as a bandwidth test must. A function of its own: the loop vectorises
    there, not inside a ``prange`` body."""
    acc = 0.0
    for i in range(np.uint64(lo), np.uint64(hi)):
        acc += a[i]
    return acc


@njit(parallel=True, cache=True)
def stream_sum_numba(a, bounds, partial):
    """Sum of ``a`` (float64, read once), part by part into ``partial`` ``(n_parts,)``; returns
    the total."""
    for p in prange(bounds.shape[0] - 1):
        partial[p] = _sum_range(a, bounds[p], bounds[p + 1])
    return partial.sum()


def stream_sum_numpy(a: np.ndarray) -> float:
    """NumPy reference of :func:`stream_sum_numba` (equal up to the order of the additions)."""
    return float(np.sum(a))


@njit(cache=True)
def _triad_range(out, b, c, scalar, lo, hi):
    for i in range(np.uint64(lo), np.uint64(hi)):
        out[i] = b[i] + scalar * c[i]


@njit(parallel=True, cache=True)
def triad_numba(out, b, c, scalar, bounds):
    """STREAM triad ``out = b + scalar * c`` (float64), part by part."""
    for p in prange(bounds.shape[0] - 1):
        _triad_range(out, b, c, scalar, bounds[p], bounds[p + 1])


def triad_numpy(out: np.ndarray, b: np.ndarray, c: np.ndarray, scalar: float) -> None:
    """NumPy reference of :func:`triad_numba` (same bits)."""
    out[:] = b + scalar * c


# -- the update's arithmetic ----------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _update_block(v, u, a, b, current, dt_ms, v_peak, lo, hi):
    """One Euler step of the 2003 form for lo:hi, in the dtype of ``a`` (as the reservoir's
    loop computes it); returns the alarm (a neuron at ``v_peak`` or non-finite)."""
    f = a.dtype.type
    dt = f(dt_ms)
    c1 = f(0.04)
    c2 = f(5.0)
    c3 = f(140.0)
    zero = v.dtype.type(0.0)
    alarm = 0
    for i in range(np.uint64(lo), np.uint64(hi)):
        vi = f(v[i])
        ui = f(u[i])
        v[i] = vi + dt * (c1 * vi * vi + c2 * vi + c3 - ui + f(current[i]))
        u[i] = ui + dt * a[i] * (b[i] * vi - ui)
        vs = v[i]
        us = u[i]
        alarm |= (vs >= v_peak) | ((vs - vs) != zero) | ((us - us) != zero)
    return alarm


@njit(parallel=True, cache=True, error_model="numpy")
def izhikevich_updates_numba(v, u, a, b, current, dt_ms, v_peak, repeats, bounds):
    """``repeats`` Euler steps of every neuron, part by part (each part's block should fit the
    L1 cache); ``v``, ``u`` ``(N,)`` are updated in place. Returns the number of (neuron, step)
    updates that raised the alarm."""
    n_parts = bounds.shape[0] - 1
    alarms = np.zeros(n_parts, dtype=np.int64)
    for p in prange(n_parts):
        count = 0
        for _ in range(repeats):
            count += _update_block(v, u, a, b, current, dt_ms, v_peak, bounds[p], bounds[p + 1])
        alarms[p] = count
    return alarms.sum()


def izhikevich_updates_numpy(v, u, a, b, current, dt_ms, v_peak, repeats):
    """NumPy reference of :func:`izhikevich_updates_numba` with one part (same bits for the
    state; the alarm is counted per step, over the whole block)."""
    f = a.dtype.type
    count = 0
    for _ in range(repeats):
        vi = v.astype(a.dtype)
        ui = u.astype(a.dtype)
        with np.errstate(over="ignore", invalid="ignore"):  # no reset: spiking v runs away
            v[:] = vi + f(dt_ms) * (f(0.04) * vi * vi + f(5.0) * vi + f(140.0) - ui + current)
            u[:] = ui + f(dt_ms) * a * (b * vi - ui)
        count += int(np.any((v.astype(np.float64) >= v_peak) | ~np.isfinite(v) | ~np.isfinite(u)))
    return count


# -- the delivery's load/store work ---------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _scatter(indices, weights, row, repeats):
    for _ in range(repeats):
        for k in range(np.uint64(indices.shape[0])):
            row[np.uint64(indices[k])] += row.dtype.type(weights[k])


@njit(parallel=True, cache=True)
def scatter_add_numba(indices, weights, out, repeats):
    """``repeats`` times ``out[p, indices[k]] += weights[k]`` for every k, part by part: each
    part ``p`` has its own row of ``out`` ``(n_parts, n_targets)``; ``indices`` int32 and
    ``weights`` float32 are shared (read-only)."""
    for p in prange(out.shape[0]):
        _scatter(indices, weights, out[p], repeats)


def scatter_add_numpy(indices, weights, out, repeats):
    """NumPy reference of :func:`scatter_add_numba` (same bits: additions in the same order)."""
    for p in range(out.shape[0]):
        for _ in range(repeats):
            for k in range(indices.shape[0]):
                out[p, indices[k]] += out.dtype.type(weights[k])
