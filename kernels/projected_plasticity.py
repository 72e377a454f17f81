"""The three-factor rule whose eligibility sees a projected presynaptic factor.

Orthogonal-projection continual learning (HLOP, Xiao et al. 2024; GPM, Saha et al. 2021)
on a readout ``y = W r``: a lateral circuit feeds back ``H^T (H r)`` and the synapse's
eligibility takes ``p = r - H^T (H r)`` as its presynaptic factor, while the output still
reads the whole ``r``. Per step ``t`` (all arithmetic float64, stored in the arrays' dtypes):

1. output ``y = W r_t``, written to ``out[t]``;
2. eligibility ``e <- decay * e + (1 - decay) * p_t`` (one trace per input);
3. for outputs with ``gate[t, i] > 0``: ``W[i] += learning_rate * gate[t, i] *
   (targets[t, i] - y_i) * e``.

``p`` is given as its own array (the lateral feedback is a function of the step's ``r``
alone, so the caller computes it for the whole recording); with ``p = r`` this is
:func:`spikesub.kernels.plasticity.three_factor_run_numpy` with every output online.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from spikesub.kernels.plasticity import _read_outputs

__all__ = ["projected_three_factor_run_numba", "projected_three_factor_run_numpy"]


def projected_three_factor_run_numpy(
    w, elig, traces, presynaptic, targets, gate, learning_rate, decay, out
):
    """Stream a recording through the projected three-factor rule (module docstring).

    Args:
        w: (n_out, N) weights, updated in place.
        elig: (1, N) float64 eligibility traces, updated in place.
        traces: (T, N) presynaptic traces ``r`` (the output reads them).
        presynaptic: (T, N) the eligibility's presynaptic factor ``p`` (projected ``r``).
        targets: (T, n_out). gate: (T, 1) or (T, n_out), values in [0, 1].
        learning_rate: > 0. decay: ``exp(-dt_ms / tau_eligibility_ms)`` in [0, 1).
        out: (T, n_out) outputs, written.

    Returns:
        The first step whose output or updated weights are not finite (the loop stops
        there), or -1.
    """
    lr = float(learning_rate)
    dec = float(decay)
    gain = 1.0 - dec
    n_out = w.shape[0]
    for t in range(traces.shape[0]):
        y = np.asarray(w, dtype=np.float64) @ np.asarray(traces[t], dtype=np.float64)
        out[t] = y
        if not np.isfinite(y).all():
            return t
        elig[0] = dec * elig[0] + gain * np.asarray(presynaptic[t], dtype=np.float64)
        g = gate[t] if gate.shape[1] > 1 else np.full(n_out, gate[t, 0])
        g = np.asarray(g, dtype=np.float64)
        a = lr * g * (np.asarray(targets[t], dtype=np.float64) - y)
        rows = g > 0
        if not rows.any():
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            w[rows] = np.asarray(w[rows], dtype=np.float64) + a[rows][:, None] * elig[0][None, :]
        if not np.isfinite(w[rows]).all():
            return t
    return -1


@njit(cache=True, error_model="numpy")
def projected_three_factor_run_numba(
    w, elig, traces, presynaptic, targets, gate, learning_rate, decay, out
):
    """Numba version of :func:`projected_three_factor_run_numpy` (agrees to rounding)."""
    n_steps = traces.shape[0]
    n_out = w.shape[0]
    n = w.shape[1]
    lr = np.float64(learning_rate)
    dec = np.float64(decay)
    gain = 1.0 - dec
    gate_stride = 1 if gate.shape[1] > 1 else 0
    y = np.empty(n_out, dtype=np.float64)
    for t in range(n_steps):
        if not _read_outputs(w, traces, t, n, y, out):
            return t
        for j in range(n):
            elig[0, j] = dec * elig[0, j] + gain * np.float64(presynaptic[t, j])
        for o in range(n_out):
            g = np.float64(gate[t, o * gate_stride])
            if not g > 0.0:
                continue
            a = lr * g * (np.float64(targets[t, o]) - y[o])
            bad = False
            for j in range(n):
                w[o, j] = np.float64(w[o, j]) + a * elig[0, j]
                bad |= not np.isfinite(w[o, j])
            if bad:
                return t
    return -1
