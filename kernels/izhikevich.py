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

from numba import cuda, njit


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
