"""Izhikevich neuron kernels: the 2003 "simple model" and the 2007 form.

Both forms are integrated by forward Euler over one step of ``dt_ms``:

* ``v`` takes ``n_substeps`` Euler sub-steps of ``dt_ms / n_substeps`` with ``u``
  and the input current held (Izhikevich 2003 uses two half-steps of 0.5 ms for
  numerical stability);
* ``u`` takes one Euler step of ``dt_ms`` computed from the ``v`` at the start of
  the step (explicit Euler on the joint system, as Brian2's ``euler`` does).

A neuron spikes when ``v >= v_peak`` after the update; the reset (``v = c``,
``u += d``) is a separate kernel so that a network can deliver the step's
spikes before resetting (Brian2's order: update, threshold, synapses, reset).

Arithmetic is float64 inside every kernel whatever the storage dtype, so the
NumPy, Numba and CUDA versions round identically.

2003 form (dimensionless, v in mV, t in ms):
    v' = 0.04 v^2 + 5 v + 140 - u + I,    u' = a (b v - u)
2007 form (Izhikevich 2007, Nicola & Clopath 2017; I in pA, C in pF):
    C v' = k (v - v_r)(v - v_t) - u + I,  u' = a (b (v - v_r) - u)
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

import spikesub.kernels.threads  # noqa: F401 - loads TBB before Numba's pool starts
from spikesub.kernels.launch import THREADS_PER_BLOCK, array_length
from spikesub.kernels.lazy_cuda import cuda


def izhikevich2003_scalar(v, u, current, a, b, dt_ms, n_substeps):
    """One step of the 2003 model for one neuron; float64 in, ``(v, u)`` out."""
    h = dt_ms / n_substeps
    v_start = v
    for _ in range(n_substeps):
        v = v + h * (0.04 * v * v + 5.0 * v + 140.0 - u + current)
    u = u + dt_ms * a * (b * v_start - u)
    return v, u


def izhikevich2007_scalar(v, u, current, C, k, v_r, v_t, a, b, dt_ms, n_substeps):
    """One step of the 2007 model for one neuron; float64 in, ``(v, u)`` out."""
    h = dt_ms / n_substeps
    v_start = v
    for _ in range(n_substeps):
        v = v + h * (k * (v - v_r) * (v - v_t) - u + current) / C
    u = u + dt_ms * a * (b * (v_start - v_r) - u)
    return v, u


# Compiled scalar versions, for kernels that fuse several steps of a network.
izhikevich2003_scalar_numba = njit(inline="always", cache=True)(izhikevich2003_scalar)
izhikevich2007_scalar_numba = njit(inline="always", cache=True)(izhikevich2007_scalar)
izhikevich2003_scalar_cuda = cuda.jit(device=True)(izhikevich2003_scalar)
izhikevich2007_scalar_cuda = cuda.jit(device=True)(izhikevich2007_scalar)


# ---------------------------------------------------------------------------
# Array kernels.
#
# Every kernel updates its array arguments in place and returns None. State
# arrays ``v`` and ``u`` have shape (N,) and dtype float32 or float64; the
# per-neuron parameter arrays have shape (N,) and any float dtype; ``spiked``
# is a (N,) bool array. Values are widened to float64, advanced with the scalar
# functions above and rounded once into the state dtype. The spike test reads
# the stored (rounded) ``v``, so every backend flags the same neurons.
# ---------------------------------------------------------------------------

"""CUDA threads per block used by the ``*_cuda`` launchers."""


def _n_blocks(n: int) -> int:
    return (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


# NumPy reference versions ---------------------------------------------------


def izhikevich2003_update_numpy(
    v: np.ndarray,
    u: np.ndarray,
    current: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    dt_ms: float,
    n_substeps: int,
    v_peak: float,
    spiked: np.ndarray,
) -> None:
    """Advance the 2003 model by one step of ``dt_ms`` (no reset); flag ``v >= v_peak``.

    Args:
        v: membrane potential (N,), mV, float32 or float64; updated in place.
        u: recovery variable (N,), same dtype as ``v``; updated in place.
        current: input current (N,), dimensionless (mV/ms), any float dtype.
        a, b: model parameters (N,), any float dtype.
        dt_ms: step in ms.
        n_substeps: Euler sub-steps of ``v`` per step, >= 1.
        v_peak: spike threshold (mV) tested on the updated, stored ``v``.
        spiked: (N,) bool; set to ``v >= v_peak``.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        v_new, u_new = izhikevich2003_scalar(
            _f64(v), _f64(u), _f64(current), _f64(a), _f64(b), float(dt_ms), int(n_substeps)
        )
        v[...] = v_new
        u[...] = u_new
        spiked[...] = _f64(v) >= float(v_peak)


def izhikevich2007_update_numpy(
    v: np.ndarray,
    u: np.ndarray,
    current: np.ndarray,
    C: np.ndarray,
    k: np.ndarray,
    v_r: np.ndarray,
    v_t: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    dt_ms: float,
    n_substeps: int,
    v_peak: float,
    spiked: np.ndarray,
) -> None:
    """Advance the 2007 model by one step of ``dt_ms`` (no reset); flag ``v >= v_peak``.

    Args:
        v: membrane potential (N,), mV, float32 or float64; updated in place.
        u: recovery current (N,), pA, same dtype as ``v``; updated in place.
        current: input current (N,), pA.
        C: capacitance (N,), pF.  k: gain (N,), nS/mV.
        v_r, v_t: resting and threshold potentials (N,), mV.
        a: recovery rate (N,), 1/ms.  b: recovery coupling (N,), nS.
        dt_ms: step in ms.
        n_substeps: Euler sub-steps of ``v`` per step, >= 1.
        v_peak: spike cut-off (mV) tested on the updated, stored ``v``.
        spiked: (N,) bool; set to ``v >= v_peak``.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        v_new, u_new = izhikevich2007_scalar(
            _f64(v),
            _f64(u),
            _f64(current),
            _f64(C),
            _f64(k),
            _f64(v_r),
            _f64(v_t),
            _f64(a),
            _f64(b),
            float(dt_ms),
            int(n_substeps),
        )
        v[...] = v_new
        u[...] = u_new
        spiked[...] = _f64(v) >= float(v_peak)


def izhikevich_reset_numpy(
    v: np.ndarray, u: np.ndarray, c: np.ndarray, d: np.ndarray, spiked: np.ndarray
) -> None:
    """Reset the neurons that spiked: ``v = c``, ``u += d`` (both forms).

    Args:
        v, u: state (N,), float32 or float64; updated in place.
        c: reset potential (N,), mV.  d: recovery jump (N,).
        spiked: (N,) bool.
    """
    idx = np.flatnonzero(spiked)
    if idx.size == 0:
        return
    v[idx] = c[idx]
    u[idx] = _f64(u[idx]) + _f64(d[idx])


def izhikevich2003_step_numpy(
    v: np.ndarray,
    u: np.ndarray,
    current: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    d: np.ndarray,
    dt_ms: float,
    n_substeps: int,
    v_peak: float,
    spiked: np.ndarray,
) -> None:
    """:func:`izhikevich2003_update_numpy` then :func:`izhikevich_reset_numpy`."""
    izhikevich2003_update_numpy(v, u, current, a, b, dt_ms, n_substeps, v_peak, spiked)
    izhikevich_reset_numpy(v, u, c, d, spiked)


def izhikevich2007_step_numpy(
    v: np.ndarray,
    u: np.ndarray,
    current: np.ndarray,
    C: np.ndarray,
    k: np.ndarray,
    v_r: np.ndarray,
    v_t: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    d: np.ndarray,
    dt_ms: float,
    n_substeps: int,
    v_peak: float,
    spiked: np.ndarray,
) -> None:
    """:func:`izhikevich2007_update_numpy` then :func:`izhikevich_reset_numpy`."""
    izhikevich2007_update_numpy(
        v, u, current, C, k, v_r, v_t, a, b, dt_ms, n_substeps, v_peak, spiked
    )
    izhikevich_reset_numpy(v, u, c, d, spiked)


# Numba CPU versions ------------------------------------------------------------
#
# Populations of at least PARALLEL_MIN_NEURONS neurons are split over threads
# (prange); smaller ones run serially, where starting the threads would cost more
# than the update itself. Both paths run the same per-neuron code, so the result
# does not depend on the path or the number of threads.

PARALLEL_MIN_NEURONS = 8192
"""Population size from which the Numba neuron kernels run multi-threaded."""


@njit(inline="always", cache=True, error_model="numpy")
def _update2003_neuron(v, u, current, a, b, dt, n_substeps, peak, spiked, i):
    vi, ui = izhikevich2003_scalar_numba(
        np.float64(v[i]),
        np.float64(u[i]),
        np.float64(current[i]),
        np.float64(a[i]),
        np.float64(b[i]),
        dt,
        n_substeps,
    )
    v[i] = vi
    u[i] = ui
    fired = np.float64(v[i]) >= peak
    spiked[i] = fired
    return fired


@njit(inline="always", cache=True, error_model="numpy")
def _update2007_neuron(v, u, current, C, k, v_r, v_t, a, b, dt, n_substeps, peak, spiked, i):
    vi, ui = izhikevich2007_scalar_numba(
        np.float64(v[i]),
        np.float64(u[i]),
        np.float64(current[i]),
        np.float64(C[i]),
        np.float64(k[i]),
        np.float64(v_r[i]),
        np.float64(v_t[i]),
        np.float64(a[i]),
        np.float64(b[i]),
        dt,
        n_substeps,
    )
    v[i] = vi
    u[i] = ui
    fired = np.float64(v[i]) >= peak
    spiked[i] = fired
    return fired


@njit(inline="always", cache=True, error_model="numpy")
def _reset_neuron(v, u, c, d, i):
    v[i] = c[i]
    u[i] = np.float64(u[i]) + np.float64(d[i])


@njit(parallel=True, cache=True, error_model="numpy")
def izhikevich2003_update_numba(v, u, current, a, b, dt_ms, n_substeps, v_peak, spiked):
    """Numba version of :func:`izhikevich2003_update_numpy` (same arguments, same bits)."""
    dt = np.float64(dt_ms)
    peak = np.float64(v_peak)
    n = v.shape[0]
    if n < PARALLEL_MIN_NEURONS:
        for i in range(n):
            _update2003_neuron(v, u, current, a, b, dt, n_substeps, peak, spiked, i)
    else:
        for i in prange(n):
            _update2003_neuron(v, u, current, a, b, dt, n_substeps, peak, spiked, i)


@njit(parallel=True, cache=True, error_model="numpy")
def izhikevich2007_update_numba(
    v, u, current, C, k, v_r, v_t, a, b, dt_ms, n_substeps, v_peak, spiked
):
    """Numba version of :func:`izhikevich2007_update_numpy` (same arguments, same bits)."""
    dt = np.float64(dt_ms)
    peak = np.float64(v_peak)
    n = v.shape[0]
    if n < PARALLEL_MIN_NEURONS:
        for i in range(n):
            _update2007_neuron(v, u, current, C, k, v_r, v_t, a, b, dt, n_substeps, peak, spiked, i)
    else:
        for i in prange(n):
            _update2007_neuron(v, u, current, C, k, v_r, v_t, a, b, dt, n_substeps, peak, spiked, i)


@njit(parallel=True, cache=True, error_model="numpy")
def izhikevich_reset_numba(v, u, c, d, spiked):
    """Numba version of :func:`izhikevich_reset_numpy` (same bits)."""
    n = v.shape[0]
    if n < PARALLEL_MIN_NEURONS:
        for i in range(n):
            if spiked[i]:
                _reset_neuron(v, u, c, d, i)
    else:
        for i in prange(n):
            if spiked[i]:
                _reset_neuron(v, u, c, d, i)


@njit(parallel=True, cache=True, error_model="numpy")
def izhikevich2003_step_numba(v, u, current, a, b, c, d, dt_ms, n_substeps, v_peak, spiked):
    """Numba version of :func:`izhikevich2003_step_numpy`: update and reset in one pass."""
    dt = np.float64(dt_ms)
    peak = np.float64(v_peak)
    n = v.shape[0]
    if n < PARALLEL_MIN_NEURONS:
        for i in range(n):
            if _update2003_neuron(v, u, current, a, b, dt, n_substeps, peak, spiked, i):
                _reset_neuron(v, u, c, d, i)
    else:
        for i in prange(n):
            if _update2003_neuron(v, u, current, a, b, dt, n_substeps, peak, spiked, i):
                _reset_neuron(v, u, c, d, i)


@njit(parallel=True, cache=True, error_model="numpy")
def izhikevich2007_step_numba(
    v, u, current, C, k, v_r, v_t, a, b, c, d, dt_ms, n_substeps, v_peak, spiked
):
    """Numba version of :func:`izhikevich2007_step_numpy`: update and reset in one pass."""
    dt = np.float64(dt_ms)
    peak = np.float64(v_peak)
    n = v.shape[0]
    if n < PARALLEL_MIN_NEURONS:
        for i in range(n):
            if _update2007_neuron(
                v, u, current, C, k, v_r, v_t, a, b, dt, n_substeps, peak, spiked, i
            ):
                _reset_neuron(v, u, c, d, i)
    else:
        for i in prange(n):
            if _update2007_neuron(
                v, u, current, C, k, v_r, v_t, a, b, dt, n_substeps, peak, spiked, i
            ):
                _reset_neuron(v, u, c, d, i)


# CUDA versions: one thread per neuron ----------------------------------------


@cuda.jit
def _izhikevich2003_update_kernel(v, u, current, a, b, dt_ms, n_substeps, v_peak, spiked):
    i = cuda.grid(1)
    if i < v.shape[0]:
        vi, ui = izhikevich2003_scalar_cuda(
            float(v[i]), float(u[i]), float(current[i]), float(a[i]), float(b[i]), dt_ms, n_substeps
        )
        v[i] = vi
        u[i] = ui
        spiked[i] = float(v[i]) >= v_peak


@cuda.jit
def _izhikevich2007_update_kernel(
    v, u, current, C, k, v_r, v_t, a, b, dt_ms, n_substeps, v_peak, spiked
):
    i = cuda.grid(1)
    if i < v.shape[0]:
        vi, ui = izhikevich2007_scalar_cuda(
            float(v[i]),
            float(u[i]),
            float(current[i]),
            float(C[i]),
            float(k[i]),
            float(v_r[i]),
            float(v_t[i]),
            float(a[i]),
            float(b[i]),
            dt_ms,
            n_substeps,
        )
        v[i] = vi
        u[i] = ui
        spiked[i] = float(v[i]) >= v_peak


@cuda.jit
def _izhikevich_reset_kernel(v, u, c, d, spiked):
    i = cuda.grid(1)
    if i < v.shape[0] and spiked[i]:
        v[i] = c[i]
        u[i] = float(u[i]) + float(d[i])


@cuda.jit
def _izhikevich2003_step_kernel(v, u, current, a, b, c, d, dt_ms, n_substeps, v_peak, spiked):
    i = cuda.grid(1)
    if i < v.shape[0]:
        vi, ui = izhikevich2003_scalar_cuda(
            float(v[i]), float(u[i]), float(current[i]), float(a[i]), float(b[i]), dt_ms, n_substeps
        )
        v[i] = vi
        u[i] = ui
        fired = float(v[i]) >= v_peak
        spiked[i] = fired
        if fired:
            v[i] = c[i]
            u[i] = float(u[i]) + float(d[i])


@cuda.jit
def _izhikevich2007_step_kernel(
    v, u, current, C, k, v_r, v_t, a, b, c, d, dt_ms, n_substeps, v_peak, spiked
):
    i = cuda.grid(1)
    if i < v.shape[0]:
        vi, ui = izhikevich2007_scalar_cuda(
            float(v[i]),
            float(u[i]),
            float(current[i]),
            float(C[i]),
            float(k[i]),
            float(v_r[i]),
            float(v_t[i]),
            float(a[i]),
            float(b[i]),
            dt_ms,
            n_substeps,
        )
        v[i] = vi
        u[i] = ui
        fired = float(v[i]) >= v_peak
        spiked[i] = fired
        if fired:
            v[i] = c[i]
            u[i] = float(u[i]) + float(d[i])


def izhikevich2003_update_cuda(v, u, current, a, b, dt_ms, n_substeps, v_peak, spiked) -> None:
    """CUDA version of :func:`izhikevich2003_update_numpy`.

    Arrays may be NumPy arrays (copied to the device and back) or device arrays / objects with
    ``__cuda_array_interface__`` (updated on the device). One thread per neuron.
    """
    n = array_length(v)
    if n == 0:
        return
    _izhikevich2003_update_kernel[_n_blocks(n), THREADS_PER_BLOCK](
        v, u, current, a, b, float(dt_ms), int(n_substeps), float(v_peak), spiked
    )


def izhikevich2007_update_cuda(
    v, u, current, C, k, v_r, v_t, a, b, dt_ms, n_substeps, v_peak, spiked
) -> None:
    """CUDA version of :func:`izhikevich2007_update_numpy` (arrays as in
    :func:`izhikevich2003_update_cuda`)."""
    n = array_length(v)
    if n == 0:
        return
    _izhikevich2007_update_kernel[_n_blocks(n), THREADS_PER_BLOCK](
        v, u, current, C, k, v_r, v_t, a, b, float(dt_ms), int(n_substeps), float(v_peak), spiked
    )


def izhikevich_reset_cuda(v, u, c, d, spiked) -> None:
    """CUDA version of :func:`izhikevich_reset_numpy`."""
    n = array_length(v)
    if n == 0:
        return
    _izhikevich_reset_kernel[_n_blocks(n), THREADS_PER_BLOCK](v, u, c, d, spiked)


def izhikevich2003_step_cuda(v, u, current, a, b, c, d, dt_ms, n_substeps, v_peak, spiked) -> None:
    """CUDA version of :func:`izhikevich2003_step_numpy`: update and reset in one kernel."""
    n = array_length(v)
    if n == 0:
        return
    _izhikevich2003_step_kernel[_n_blocks(n), THREADS_PER_BLOCK](
        v, u, current, a, b, c, d, float(dt_ms), int(n_substeps), float(v_peak), spiked
    )


def izhikevich2007_step_cuda(
    v, u, current, C, k, v_r, v_t, a, b, c, d, dt_ms, n_substeps, v_peak, spiked
) -> None:
    """CUDA version of :func:`izhikevich2007_step_numpy`: update and reset in one kernel."""
    n = array_length(v)
    if n == 0:
        return
    _izhikevich2007_step_kernel[_n_blocks(n), THREADS_PER_BLOCK](
        v,
        u,
        current,
        C,
        k,
        v_r,
        v_t,
        a,
        b,
        c,
        d,
        float(dt_ms),
        int(n_substeps),
        float(v_peak),
        spiked,
    )
