"""Spike trace kernels (pre/post-synaptic traces for plasticity rules).

Per neuron and step, with ``decay = exp(-dt_ms / tau_ms)``:

* :data:`TRACE_ADDITIVE` (0): ``x = x * decay + increment * spiked`` (all-to-all
  pairing: every past spike contributes);
* :data:`TRACE_NEAREST` (1): ``x = increment`` if the neuron spiked, else
  ``x * decay`` (nearest-spike pairing: the trace restarts at each spike).

After one spike at step 0 from ``x = 0`` and ``increment = 1``, ``x == decay**k``
``k`` steps later in both modes. ``x`` has shape (N,), float32 or float64, and is
updated in place; ``spiked`` is (N,) bool; arithmetic is float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

import spikesub.kernels.threads  # noqa: F401 - loads TBB before Numba's pool starts
from spikesub.kernels.launch import THREADS_PER_BLOCK, array_length
from spikesub.kernels.lazy_cuda import cuda

TRACE_ADDITIVE = 0
"""``mode``: each spike adds ``increment`` to the decayed trace."""
TRACE_NEAREST = 1
"""``mode``: each spike sets the trace to ``increment``."""


PARALLEL_MIN_NEURONS = 65536
"""Array size from which :func:`trace_update_numba` runs multi-threaded (smaller ones run
serially, where starting threads costs more than the update; both paths give the same bits)."""


def trace_update_numpy(
    x: np.ndarray, spiked: np.ndarray, decay: float, increment: float, mode: int
) -> None:
    """Decay the traces and register this step's spikes.

    Args:
        x: traces (N,), float32 or float64; updated in place.
        spiked: (N,) bool.
        decay: ``exp(-dt_ms / tau_ms)``, in (0, 1].
        increment: jump (additive) or value (nearest) at a spike.
        mode: :data:`TRACE_ADDITIVE` or :data:`TRACE_NEAREST`.
    """
    decayed = np.asarray(x, dtype=np.float64) * float(decay)
    if mode == TRACE_ADDITIVE:
        x[...] = decayed + float(increment) * np.asarray(spiked, dtype=np.float64)
    elif mode == TRACE_NEAREST:
        x[...] = np.where(spiked, float(increment), decayed)
    else:
        raise ValueError(f"mode must be 0 (additive) or 1 (nearest); got {mode!r}")


@njit(inline="always", cache=True, error_model="numpy")
def _trace_one(x, spiked, dec, inc, nearest, i):
    if nearest:
        if spiked[i]:
            x[i] = inc
        else:
            x[i] = np.float64(x[i]) * dec
    else:
        x[i] = np.float64(x[i]) * dec + inc * (1.0 if spiked[i] else 0.0)


@njit(parallel=True, cache=True, error_model="numpy")
def trace_update_numba(x, spiked, decay, increment, mode):
    """Numba version of :func:`trace_update_numpy` (same bits)."""
    dec = np.float64(decay)
    inc = np.float64(increment)
    nearest = mode == 1
    n = x.shape[0]
    if n < PARALLEL_MIN_NEURONS:
        for i in range(n):
            _trace_one(x, spiked, dec, inc, nearest, i)
    else:
        for i in prange(n):
            _trace_one(x, spiked, dec, inc, nearest, i)


@cuda.jit
def _trace_kernel(x, spiked, decay, increment, mode):
    i = cuda.grid(1)
    if i < x.shape[0]:
        if mode == 1:
            if spiked[i]:
                x[i] = increment
            else:
                x[i] = float(x[i]) * decay
        else:
            x[i] = float(x[i]) * decay + increment * (1.0 if spiked[i] else 0.0)


def trace_update_cuda(x, spiked, decay: float, increment: float, mode: int) -> None:
    """CUDA version of :func:`trace_update_numpy`, one thread per neuron.

    Arrays may be NumPy arrays (copied to the device and back) or device arrays / objects with
    ``__cuda_array_interface__``.
    """
    n = array_length(x)
    if n == 0:
        return
    blocks = (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    _trace_kernel[blocks, THREADS_PER_BLOCK](x, spiked, float(decay), float(increment), int(mode))
