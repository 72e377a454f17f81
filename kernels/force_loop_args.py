"""The argument groups of the FORCE loops (:mod:`spikesub.kernels.force_loop`), as named tuples.

The FORCE job builds them (:mod:`spikesub.force_sine`); the loops check them
(:func:`spikesub.kernels.force_loop.check_force_loop_args`, which also accepts plain tuples in
this field order) and unpack them in this field order. Everything is float64.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class ForceNeuron(NamedTuple):
    """The Izhikevich (2007) neurons: nine ``(N,)`` arrays, then two floats."""

    C: np.ndarray  # pF, > 0
    k: np.ndarray  # nS/mV
    v_r: np.ndarray  # mV
    v_t: np.ndarray  # mV
    a: np.ndarray  # 1/ms
    b: np.ndarray  # nS
    v_reset: np.ndarray  # mV
    d: np.ndarray  # pA
    i_bias: np.ndarray  # pA
    v_peak: float  # mV
    dt_ms: float  # > 0


class ForceSynapse(NamedTuple):
    """Double-exponential filters ``r' = -r / tau_decay + h``, ``h' = -h / tau_rise + spikes /
    (tau_rise tau_decay)``, for the synaptic current and for the readout's rates."""

    tau_rise_ms: float
    tau_decay_ms: float


class ForceState(NamedTuple):
    """The dynamic state, updated in place: ``(N,)`` arrays and the readout ``z``."""

    v: np.ndarray  # mV
    u: np.ndarray  # pA
    ipsc: np.ndarray  # pA, the synaptic current
    h_ipsc: np.ndarray
    r: np.ndarray  # the filtered spikes the readout reads
    h_r: np.ndarray
    z: np.ndarray  # (n_out,) the readout of the last step


class ForceConnections(NamedTuple):
    """The static weights as CSR over presynaptic rows (pA), and the feedback encoder."""

    indptr: np.ndarray  # (N + 1,) int64
    indices: np.ndarray  # (nnz,) int32
    weights: np.ndarray  # (nnz,) float64, pA
    encoder: np.ndarray  # (n_out, N), pA per unit of z


class ForceLearning(NamedTuple):
    """The readout and its RLS training; ``phi`` and ``P`` are updated in place."""

    phi: np.ndarray  # (n_out, N) decoder
    P: np.ndarray  # (N, N) inverse correlation matrix
    target: np.ndarray  # (n_steps, n_out) for steps step0 .. step0 + n_steps - 1
    step0: int  # global index of this call's first step
    train_start_step: int  # global; RLS steps when train_start <= g < train_stop
    train_stop_step: int
    update_every: int  # >= 1, RLS on steps g with g % update_every == 0


class ForceRecord(NamedTuple):
    """What the loop records for this call's steps."""

    z_out: np.ndarray  # (n_steps, n_out) readout of every step
    counts: np.ndarray  # (n_steps,) int32 spikes of the network per step
    spike_idx: np.ndarray  # (R,) int64 neurons whose spikes go to spikes_out
    spikes_out: np.ndarray  # (n_steps, R) bool
    v_idx: np.ndarray  # (Rv,) int64 neurons whose v goes to v_out
    v_out: np.ndarray  # (n_steps // sample_every, Rv)
    phi_norm_out: np.ndarray  # (n_steps // sample_every,) Frobenius norm of phi
    sample_every: int  # samples at the end of local steps j with (j + 1) % sample_every == 0
