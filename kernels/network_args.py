"""The argument groups of the network loops (:mod:`spikesub.kernels.network`), as named tuples.

Every backend takes the same groups; the model layer builds them once per run
(:class:`spikesub.models.network.reservoir.IzhikevichReservoir`), and the kernels read their
fields by name (Numba compiles a named tuple's fields as a plain tuple's, on the CPU and in
CUDA kernels). Where a kernel unpacks a whole group, it does so in the field order given here.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


class NeuronParams(NamedTuple):
    """The neurons' parameters. Their arrays set the arithmetic's dtype: all float64, or all
    float32 for float32 arithmetic (one sub-step).

    Leaky integrate-and-fire neurons (``form`` 2: reset to ``v_reset``; 3: ``v`` drops by
    ``v_th - v_reset``) use the fields as ``a`` = ``exp(-dt_ms / tau_ms)``, ``b`` = resistance,
    ``c`` = ``v_reset``, ``d`` = refractory steps, ``C`` = ``v_rest``, ``v_t`` = ``v_th``, each
    ``(N,)``; ``k`` and ``v_r`` are unused, ``v_peak`` is the largest ``v_th`` (for reference
    only) and ``n_substeps`` is 1.
    """

    form: int  # 0 = Izhikevich (2003), 1 = Izhikevich (2007), 2 / 3 = LIF (zero / subtract)
    a: np.ndarray  # (N,)
    b: np.ndarray  # (N,)
    c: np.ndarray  # (N,) reset potential, mV
    d: np.ndarray  # (N,) reset increment of u
    C: np.ndarray  # (N,) pF (2007 form; zeros for 2003)
    k: np.ndarray  # (N,) (2007 form)
    v_r: np.ndarray  # (N,) mV (2007 form)
    v_t: np.ndarray  # (N,) mV (2007 form)
    v_peak: float  # mV, the spike threshold
    n_substeps: int  # Euler sub-steps per step
    dt_ms: float


class NetworkState(NamedTuple):
    """The dynamic state, ``(N,)`` arrays updated in place, in the state dtype (``noise``
    float64)."""

    v: np.ndarray  # mV
    u: np.ndarray
    syn_a: np.ndarray  # the exponential current, or the double-exponential r
    syn_b: np.ndarray  # the double-exponential h
    syn_in: np.ndarray  # the step's synaptic input, zero between steps
    noise: np.ndarray  # the noise held for the current interval
    inh_gain: np.ndarray  # (N,) float64 scale of each neuron's inhibitory synaptic input
    rate_hz: np.ndarray  # (N,) float64 each neuron's firing-rate estimate (homeostasis), Hz


class Drive(NamedTuple):
    """What drives the neurons besides their synapses."""

    bias: np.ndarray  # (N,) float64
    noise_std: np.ndarray  # (N,) float64
    noise_every: int  # steps between noise draws
    seed: np.uint64
    ext_mode: int  # 0: none; 1: ext is (n_steps, N); 2: ext is (n_steps, K), current ext @ encoder
    ext: np.ndarray  # per-step external input of this call (rows from the call's first step)
    encoder: np.ndarray  # (K, N) by channel (CurrentInput.encoder.T), summed over K ascending


class Homeostasis(NamedTuple):
    """Inhibitory homeostasis: each neuron scales its inhibitory synaptic input by its own gain
    (``NetworkState.inh_gain``, at delivery: ``w * gain[post]`` for ``w < 0``), and after every
    step its rate estimate and gain move towards its target rate::

        rate_hz <- rate_hz * rate_decay (+ rate_jump_hz if it spiked)
        inh_gain <- clip(inh_gain + gain_step * (rate_hz - target_hz), 0, gain_max)

    With ``on`` 0 nothing is scaled or updated (the gains stay as they are)."""

    on: int
    target_hz: np.ndarray  # (N,) float64 target rates, Hz
    rate_decay: float  # exp(-dt_ms / tau_ms) of the rate estimate
    rate_jump_hz: float  # 1000 / tau_ms: the estimate's jump at a spike (unit area)
    gain_step: np.ndarray  # (N,) learning rate * dt_ms / 1000 (0: this neuron's gain is fixed)
    gain_max: float


class Recurrent(NamedTuple):
    """The recurrent synapses: CSR by presynaptic row, weights in the state dtype."""

    indptr: np.ndarray  # (N + 1,) int64
    indices: np.ndarray  # (nnz,) int32, ascending within a row
    weights: np.ndarray  # (nnz,)
    splits: Any  # (N, n_parts + 1) int64 from csr_partition; None on CUDA


class Synapse(NamedTuple):
    """The synaptic filter. ``mode`` 0 = delta, 1 = exponential (``decay_a = exp(-dt/tau)``),
    2 = double-exponential (``decay_a = exp(-dt/tau_decay)``, ``decay_b = exp(-dt/tau_rise)``)."""

    mode: int
    decay_a: float
    decay_b: float
    dt_ms: float
    tau_rise_ms: float
    tau_decay_ms: float


class PoissonDrive(NamedTuple):
    """Poisson input channels: rates and CSR weights from channels to neurons."""

    rates: np.ndarray  # (n_steps or 1, P) Hz, float64
    indptr: np.ndarray  # (P + 1,) int64
    indices: np.ndarray  # (nnz,) int32
    weights: np.ndarray  # (nnz,)
    splits: Any  # (P, n_parts + 1) int64; None on CUDA


class Record(NamedTuple):
    """What a CPU loop records; the spike buffers grow as needed and are returned."""

    record_spikes: bool
    spike_steps: np.ndarray  # (capacity,) int64 global steps
    spike_idx: np.ndarray  # (capacity,) int32 neurons
    n_recorded: int  # spikes already in the buffers
    pop_counts: np.ndarray  # (n_steps,) int32 spikes per step of this call
    rec_idx: np.ndarray  # (R,) int64 sampled neurons
    record_every: int  # steps between samples, counted from run_step0
    run_step0: int  # global step of the run's start
    rec_v: np.ndarray  # (samples, R) for the whole run
    rec_u: np.ndarray  # (samples, R)


class CudaRecord(NamedTuple):
    """What the CUDA loop records: spikes as (step, neuron) pairs in a device buffer."""

    rec_buf: Any  # (capacity, 2) int64: call-local step, neuron
    spike_base: Any  # (1,) int64: pairs written
    pop_counts: Any  # (n_steps,) int32
    rec_idx: Any  # (R,) int64
    record_every: int
    run_step0: int
    rec_v: Any  # (samples, R)
    rec_u: Any  # (samples, R)
