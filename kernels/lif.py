"""Leaky integrate-and-fire kernels.

Per neuron and step of ``dt_ms``, with ``decay = exp(-dt_ms / tau_ms)`` precomputed:

* a refractory neuron (``refractory_left > 0``) counts one step down, is clamped
  to ``v_reset`` and does not spike;
* otherwise ``v`` is integrated exactly for a current held over the step,
  ``v = v_rest + (v - v_rest) * decay + (1 - decay) * resistance * current``,
  stored in the state dtype, and the neuron spikes when the stored ``v >= v_th``;
  a spiking neuron is reset (``reset_mode`` 0: ``v = v_reset``; 1: ``v -= v_th -
  v_reset``) and made refractory for ``refractory_steps`` steps.

With a refractory period of ``r`` steps the neuron sits at ``v_reset`` for the
``r`` steps after a spike, so the inter-spike interval grows by exactly ``r``
steps.

Units: ``v``, ``v_rest``, ``v_th``, ``v_reset`` in mV; ``resistance`` in MOhm and
``current`` in nA (so ``resistance * current`` is in mV), or any consistent pair.
Arithmetic is float64 inside every kernel, rounded once into the state dtype.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

import spikesub.kernels.threads  # noqa: F401 - loads TBB before Numba's pool starts
from spikesub.kernels.launch import THREADS_PER_BLOCK, array_length
from spikesub.kernels.lazy_cuda import cuda

LIF_RESET_ZERO = 0
"""``reset_mode``: a spiking neuron's ``v`` is set to ``v_reset``."""
LIF_RESET_SUBTRACT = 1
"""``reset_mode``: a spiking neuron's ``v`` drops by ``v_th - v_reset`` (keeps the overshoot)."""


def lif_update_numpy(
    v: np.ndarray,
    current: np.ndarray,
    refractory_left: np.ndarray,
    decay: np.ndarray,
    v_rest: np.ndarray,
    v_th: np.ndarray,
    v_reset: np.ndarray,
    resistance: np.ndarray,
    refractory_steps: int,
    reset_mode: int,
    spiked: np.ndarray,
) -> None:
    """Advance LIF neurons by one step, with threshold, reset and refractory period.

    Args:
        v: membrane potential (N,), mV, float32 or float64; updated in place.
        current: input current (N,), nA (held over the step).
        refractory_left: (N,) int32, refractory steps left; updated in place.
        decay: (N,) ``exp(-dt_ms / tau_ms)``, in (0, 1].
        v_rest, v_th, v_reset: (N,) potentials, mV.
        resistance: (N,) membrane resistance, MOhm.
        refractory_steps: steps a neuron stays refractory after a spike, >= 0.
        reset_mode: :data:`LIF_RESET_ZERO` or :data:`LIF_RESET_SUBTRACT`.
        spiked: (N,) bool; set to whether each neuron spiked this step.
    """
    if reset_mode not in (LIF_RESET_ZERO, LIF_RESET_SUBTRACT):
        raise ValueError(f"reset_mode must be 0 (reset) or 1 (subtract); got {reset_mode!r}")
    with np.errstate(over="ignore", invalid="ignore"):
        dec = np.asarray(decay, dtype=np.float64)
        vr = np.asarray(v_rest, dtype=np.float64)
        vreset = np.asarray(v_reset, dtype=np.float64)
        x = (
            vr
            + (np.asarray(v, dtype=np.float64) - vr) * dec
            + (1.0 - dec)
            * np.asarray(resistance, dtype=np.float64)
            * np.asarray(current, dtype=np.float64)
        )
        refractory = refractory_left > 0
        v[...] = np.where(refractory, vreset, x)
        v_stored = np.asarray(v, dtype=np.float64)
        th = np.asarray(v_th, dtype=np.float64)
        fired = ~refractory & (v_stored >= th)
        if reset_mode == LIF_RESET_ZERO:
            v_after = vreset
        else:
            v_after = v_stored - (th - vreset)
        v[fired] = v_after[fired]
    refractory_left[refractory] -= 1
    refractory_left[fired] = refractory_steps
    spiked[...] = fired


PARALLEL_MIN_NEURONS = 8192
"""Population size from which :func:`lif_update_numba` runs multi-threaded (smaller ones run
serially, where starting threads costs more than the update; both paths give the same bits)."""


@njit(inline="always", cache=True, error_model="numpy")
def _lif_neuron(
    v,
    current,
    refractory_left,
    decay,
    v_rest,
    v_th,
    v_reset,
    resistance,
    refractory_steps,
    reset_mode,
    spiked,
    i,
):
    if refractory_left[i] > 0:
        refractory_left[i] -= 1
        v[i] = v_reset[i]
        spiked[i] = False
    else:
        dec = np.float64(decay[i])
        vr = np.float64(v_rest[i])
        x = (
            vr
            + (np.float64(v[i]) - vr) * dec
            + (1.0 - dec) * np.float64(resistance[i]) * np.float64(current[i])
        )
        v[i] = x
        v_stored = np.float64(v[i])
        th = np.float64(v_th[i])
        if v_stored >= th:
            spiked[i] = True
            if reset_mode == 0:
                v[i] = v_reset[i]
            else:
                v[i] = v_stored - (th - np.float64(v_reset[i]))
            refractory_left[i] = refractory_steps
        else:
            spiked[i] = False


@njit(parallel=True, cache=True, error_model="numpy")
def lif_update_numba(
    v,
    current,
    refractory_left,
    decay,
    v_rest,
    v_th,
    v_reset,
    resistance,
    refractory_steps,
    reset_mode,
    spiked,
):
    """Numba version of :func:`lif_update_numpy` (same arguments, same bits)."""
    n = v.shape[0]
    if n < PARALLEL_MIN_NEURONS:
        for i in range(n):
            _lif_neuron(
                v, current, refractory_left, decay, v_rest, v_th, v_reset, resistance,
                refractory_steps, reset_mode, spiked, i,
            )  # fmt: skip
    else:
        for i in prange(n):
            _lif_neuron(
                v, current, refractory_left, decay, v_rest, v_th, v_reset, resistance,
                refractory_steps, reset_mode, spiked, i,
            )  # fmt: skip


@cuda.jit
def _lif_update_kernel(
    v,
    current,
    refractory_left,
    decay,
    v_rest,
    v_th,
    v_reset,
    resistance,
    refractory_steps,
    reset_mode,
    spiked,
):
    i = cuda.grid(1)
    if i < v.shape[0]:
        if refractory_left[i] > 0:
            refractory_left[i] -= 1
            v[i] = v_reset[i]
            spiked[i] = False
        else:
            dec = float(decay[i])
            vr = float(v_rest[i])
            x = (
                vr
                + (float(v[i]) - vr) * dec
                + (1.0 - dec) * float(resistance[i]) * float(current[i])
            )
            v[i] = x
            v_stored = float(v[i])
            th = float(v_th[i])
            if v_stored >= th:
                spiked[i] = True
                if reset_mode == 0:
                    v[i] = v_reset[i]
                else:
                    v[i] = v_stored - (th - float(v_reset[i]))
                refractory_left[i] = refractory_steps
            else:
                spiked[i] = False


def lif_update_cuda(
    v,
    current,
    refractory_left,
    decay,
    v_rest,
    v_th,
    v_reset,
    resistance,
    refractory_steps,
    reset_mode,
    spiked,
) -> None:
    """CUDA version of :func:`lif_update_numpy`, one thread per neuron.

    Arrays may be NumPy arrays (copied to the device and back) or device arrays / objects with
    ``__cuda_array_interface__`` (updated on the device).
    """
    n = array_length(v)
    if n == 0:
        return
    blocks = (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    _lif_update_kernel[blocks, THREADS_PER_BLOCK](
        v,
        current,
        refractory_left,
        decay,
        v_rest,
        v_th,
        v_reset,
        resistance,
        int(refractory_steps),
        int(reset_mode),
        spiked,
    )
