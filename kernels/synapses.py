"""Synaptic current kernels: single and double exponential filters of spike input.

``inputs`` is the summed weight arriving at each postsynaptic neuron this step
(for instance the output of :mod:`spikesub.kernels.propagation`).

* Exponential: ``s = s * decay + inputs`` with ``decay = exp(-dt_ms / tau_ms)``;
  an input ``w`` at step 0 leaves ``w * decay**k`` after ``k`` steps.
* Double exponential (Nicola & Clopath 2017):
  ``r' = -r / tau_d + h``, ``h' = -h / tau_r + sum_k w_k delta(t - t_k) / (tau_r tau_d)``,
  stepped as ``r_new = r * decay_decay + dt_ms * h_old`` and
  ``h_new = h_old * decay_rise + inputs / (tau_rise_ms * tau_decay_ms)``, with
  ``decay_rise = exp(-dt_ms / tau_rise_ms)`` and ``decay_decay = exp(-dt_ms / tau_decay_ms)``.
  One input of weight ``w`` gives a pulse of ``r`` whose time integral is close to ``w``
  (exactly ``w`` as ``dt_ms -> 0``), rising with ``tau_rise_ms`` and decaying with
  ``tau_decay_ms``.

All arrays have shape (N,); state arrays are float32 or float64 and updated in
place; arithmetic is float64, rounded once into the state dtype.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

import spikesub.kernels.threads  # noqa: F401 - loads TBB before Numba's pool starts
from spikesub.kernels.launch import THREADS_PER_BLOCK, array_length
from spikesub.kernels.lazy_cuda import cuda

PARALLEL_MIN_NEURONS = 65536
"""Array size from which the Numba synapse kernels run multi-threaded (smaller ones run
serially, where starting threads costs more than the update; both paths give the same bits)."""


def _n_blocks(n: int) -> int:
    return (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK


# Exponential synapse ---------------------------------------------------------


def exponential_synapse_update_numpy(s: np.ndarray, inputs: np.ndarray, decay: float) -> None:
    """``s = s * decay + inputs``.

    Args:
        s: synaptic state (N,), float32 or float64; updated in place.
        inputs: weight arriving this step (N,), any float dtype.
        decay: ``exp(-dt_ms / tau_ms)``, in (0, 1].
    """
    s[...] = np.asarray(s, dtype=np.float64) * float(decay) + np.asarray(inputs, dtype=np.float64)


@njit(parallel=True, cache=True, error_model="numpy")
def exponential_synapse_update_numba(s, inputs, decay):
    """Numba version of :func:`exponential_synapse_update_numpy` (same bits)."""
    dec = np.float64(decay)
    n = s.shape[0]
    if n < PARALLEL_MIN_NEURONS:
        for i in range(n):
            s[i] = np.float64(s[i]) * dec + np.float64(inputs[i])
    else:
        for i in prange(n):
            s[i] = np.float64(s[i]) * dec + np.float64(inputs[i])


@cuda.jit
def _exponential_synapse_kernel(s, inputs, decay):
    i = cuda.grid(1)
    if i < s.shape[0]:
        s[i] = float(s[i]) * decay + float(inputs[i])


def exponential_synapse_update_cuda(s, inputs, decay: float) -> None:
    """CUDA version of :func:`exponential_synapse_update_numpy`, one thread per neuron.

    Arrays may be NumPy arrays (copied to the device and back) or device arrays / objects with
    ``__cuda_array_interface__``.
    """
    n = array_length(s)
    if n == 0:
        return
    _exponential_synapse_kernel[_n_blocks(n), THREADS_PER_BLOCK](s, inputs, float(decay))


# Double exponential synapse --------------------------------------------------


def double_exponential_synapse_update_numpy(
    r: np.ndarray,
    h: np.ndarray,
    inputs: np.ndarray,
    decay_rise: float,
    decay_decay: float,
    dt_ms: float,
    tau_rise_ms: float,
    tau_decay_ms: float,
) -> None:
    """One step of the Nicola & Clopath (2017) double exponential filter.

    Args:
        r: filtered output (N,), float32 or float64; updated in place.
        h: auxiliary variable (N,), same dtype as ``r``, in 1/ms; updated in place.
        inputs: weight arriving this step (N,).
        decay_rise: ``exp(-dt_ms / tau_rise_ms)``.
        decay_decay: ``exp(-dt_ms / tau_decay_ms)``.
        dt_ms: step in ms.
        tau_rise_ms, tau_decay_ms: rise and decay time constants in ms.
    """
    h_old = np.asarray(h, dtype=np.float64)
    denom = float(tau_rise_ms) * float(tau_decay_ms)
    r_new = np.asarray(r, dtype=np.float64) * float(decay_decay) + float(dt_ms) * h_old
    h_new = h_old * float(decay_rise) + np.asarray(inputs, dtype=np.float64) / denom
    r[...] = r_new
    h[...] = h_new


@njit(inline="always", cache=True, error_model="numpy")
def _double_exponential_one(r, h, inputs, d_rise, d_decay, dt, denom, i):
    h_old = np.float64(h[i])
    r[i] = np.float64(r[i]) * d_decay + dt * h_old
    h[i] = h_old * d_rise + np.float64(inputs[i]) / denom


@njit(parallel=True, cache=True, error_model="numpy")
def double_exponential_synapse_update_numba(
    r, h, inputs, decay_rise, decay_decay, dt_ms, tau_rise_ms, tau_decay_ms
):
    """Numba version of :func:`double_exponential_synapse_update_numpy` (same bits)."""
    d_rise = np.float64(decay_rise)
    d_decay = np.float64(decay_decay)
    dt = np.float64(dt_ms)
    denom = np.float64(tau_rise_ms) * np.float64(tau_decay_ms)
    n = r.shape[0]
    if n < PARALLEL_MIN_NEURONS:
        for i in range(n):
            _double_exponential_one(r, h, inputs, d_rise, d_decay, dt, denom, i)
    else:
        for i in prange(n):
            _double_exponential_one(r, h, inputs, d_rise, d_decay, dt, denom, i)


@cuda.jit
def _double_exponential_synapse_kernel(r, h, inputs, decay_rise, decay_decay, dt_ms, denom):
    i = cuda.grid(1)
    if i < r.shape[0]:
        h_old = float(h[i])
        r[i] = float(r[i]) * decay_decay + dt_ms * h_old
        h[i] = h_old * decay_rise + float(inputs[i]) / denom


def double_exponential_synapse_update_cuda(
    r,
    h,
    inputs,
    decay_rise: float,
    decay_decay: float,
    dt_ms: float,
    tau_rise_ms: float,
    tau_decay_ms: float,
) -> None:
    """CUDA version of :func:`double_exponential_synapse_update_numpy`, one thread per neuron."""
    n = array_length(r)
    if n == 0:
        return
    denom = float(tau_rise_ms) * float(tau_decay_ms)
    _double_exponential_synapse_kernel[_n_blocks(n), THREADS_PER_BLOCK](
        r, h, inputs, float(decay_rise), float(decay_decay), float(dt_ms), denom
    )
