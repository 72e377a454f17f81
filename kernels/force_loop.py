"""Fused closed-loop FORCE simulation: Izhikevich (2007) network, double-exponential synapses,
linear readout fed back into the network, recursive least squares on the readout.

This is the network of Nicola & Clopath (2017, Nat. Commun. 8:2208). One call advances it by
``n_steps = target.shape[0]`` steps of ``dt_ms``. Step ``g`` (global index, counted from the
start of the run; the step ends at ``t = (g + 1) * dt_ms``) does, in this order, the order of
their reference implementation:

1. input current ``I = ipsc + encoder^T z + i_bias`` (``z`` is the readout of the previous
   step, the feedback term summed over outputs in ascending order);
2. forward Euler of the 2007 model (``u`` from the ``v`` at the start of the step), see
   :func:`spikesub.kernels.izhikevich.izhikevich2007_scalar`; a non-finite ``v`` or ``u`` stops
   the loop;
3. spike detection ``v >= v_peak``;
4. the spikes of this step go through the static weights (CSR by presynaptic row) into the
   synaptic input, and both double-exponential filters advance with this step's input
   (:mod:`spikesub.kernels.synapses` form: ``ipsc`` with ``h_ipsc`` driven by the summed
   weights, ``r`` with ``h_r`` driven by 1 per spike);
5. readout ``z = phi r``;
6. when ``train_start_step <= g < train_stop_step`` and ``g % update_every == 0``: one RLS step
   with ``err = z - target[g - step0]`` (:mod:`spikesub.kernels.plasticity`); ``z`` itself is
   not recomputed, so the next step feeds back the readout from before the update;
7. reset of the neurons that spiked (``v = v_reset``, ``u += d``);
8. recording (state after the reset).

Everything is float64: RLS on a 2000-neuron network loses its positive-definite ``P`` in
float32.

Argument groups: the named tuples of :mod:`spikesub.kernels.force_loop_args`
(``neuron`` :class:`ForceNeuron`, ``synapse`` :class:`ForceSynapse`, ``state``
:class:`ForceState`, ``network`` :class:`ForceConnections`, ``learning``
:class:`ForceLearning`, ``record`` :class:`ForceRecord`), where their fields, shapes and units
are documented; plain tuples in the same field order are accepted.

Every loop returns ``(status, err_step, err_neuron)``: :data:`STATUS_OK` with ``-1, -1`` when
all steps ran, :data:`STATUS_NONFINITE` with the global step and the first neuron whose state
became non-finite.

The NumPy version is the reference, built from the project's single-step NumPy kernels. The
Numba version runs the same float operations; neuron updates, spike propagation and filters
are bit-identical, the readout dot product and the RLS update may round differently (summation
order), so the two agree to rounding while the spike trains stay the same. There is no CUDA
version: the RLS step is a dense ``N x N`` update every few steps, sequential in time, and
for the network sizes of this model (a few thousand neurons) the CPU loop is the practical
choice.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numba import njit

import spikesub.kernels.threads  # noqa: F401 - loads TBB before Numba's pool starts
from spikesub.kernels.force_loop_args import (
    ForceConnections,
    ForceLearning,
    ForceNeuron,
    ForceRecord,
    ForceState,
    ForceSynapse,
)
from spikesub.kernels.izhikevich import (
    izhikevich2007_scalar_numba,
    izhikevich2007_update_numpy,
    izhikevich_reset_numpy,
)
from spikesub.kernels.plasticity import rls_update_numpy, rls_update_parallel_numba
from spikesub.kernels.propagation import csr_propagate_numpy
from spikesub.kernels.synapses import double_exponential_synapse_update_numpy

STATUS_OK = 0
STATUS_NONFINITE = 1

_NEURON_NAMES = ForceNeuron._fields[:9]  # the (N,) arrays
_STATE_NAMES = ForceState._fields[:6]


# ----------------------------------------------------------------------------------------------
# Argument checks (shared by every backend)
# ----------------------------------------------------------------------------------------------


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number > 0; got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{name} must be finite and > 0; got {value}")
    return value


def _integer(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def _array(name: str, value, shape: tuple[int, ...], dtype) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array; got {type(value).__name__}")
    if value.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {value.shape}")
    if value.dtype != dtype:
        raise TypeError(f"{name} must have dtype {np.dtype(dtype).name}; got {value.dtype}")
    if not value.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    return value


def check_force_loop_args(neuron, synapse, state, network, learning, record):
    """Validate the argument groups of the FORCE loops; return them normalised.

    Scalars become Python ``float``/``int`` (so the compiled loop is not recompiled for other
    scalar types). Raises ``TypeError`` for wrong types or dtypes and ``ValueError`` naming the
    argument for wrong shapes, non-positive ``dt_ms``, time constants or ``update_every``,
    and a non-finite ``target``.
    """
    if len(neuron) != 11:
        raise ValueError(f"neuron must have 11 entries {(*_NEURON_NAMES, 'v_peak', 'dt_ms')}")
    v = state[0] if len(state) == 7 else None
    if v is None:
        raise ValueError(f"state must have 7 entries {(*_STATE_NAMES, 'z')}")
    if not isinstance(v, np.ndarray) or v.ndim != 1:
        raise ValueError("state v must be a 1-D (N,) float64 array")
    n = v.shape[0]
    if n < 1:
        raise ValueError("the network must have N >= 1 neurons")
    params = [
        _array(name, x, (n,), np.float64) for x, name in zip(neuron[:9], _NEURON_NAMES, strict=True)
    ]
    v_peak = neuron[9]  # ForceNeuron.v_peak (the group may be a plain tuple)
    if isinstance(v_peak, bool) or not isinstance(v_peak, numbers.Real):
        raise TypeError(f"v_peak must be a real number (mV); got {v_peak!r}")
    if not math.isfinite(float(v_peak)):
        raise ValueError(f"v_peak must be finite; got {v_peak}")
    dt_ms = _positive("dt_ms", neuron[10])  # ForceNeuron.dt_ms
    if np.any(params[0] <= 0.0):
        raise ValueError("C must be > 0 (pF) for every neuron")
    if len(synapse) != 2:
        raise ValueError("synapse must be (tau_rise_ms, tau_decay_ms)")
    tau_rise = _positive("tau_rise_ms", synapse[0])
    tau_decay = _positive("tau_decay_ms", synapse[1])

    arrays = [
        _array(name, x, (n,), np.float64) for x, name in zip(state[:6], _STATE_NAMES, strict=True)
    ]
    if len(learning) != 7:
        raise ValueError(
            "learning must be (phi, P, target, step0, train_start_step, train_stop_step, "
            "update_every)"
        )
    phi = learning[0]
    if not isinstance(phi, np.ndarray) or phi.ndim != 2 or phi.shape[0] < 1:
        raise ValueError(f"phi must be a 2-D (n_out, N = {n}) float64 array with n_out >= 1")
    n_out = phi.shape[0]
    _array("phi", phi, (n_out, n), np.float64)
    z = _array("z", state[6], (n_out,), np.float64)

    if len(network) != 4:
        raise ValueError("network must be (indptr, indices, weights, encoder)")
    indptr, indices, weights, encoder = network
    _array("indptr", indptr, (n + 1,), np.int64)
    if not isinstance(indices, np.ndarray) or indices.ndim != 1:
        raise ValueError("indices must be a 1-D (nnz,) int32 array")
    nnz = indices.shape[0]
    _array("indices", indices, (nnz,), np.int32)
    _array("weights", weights, (nnz,), np.float64)
    if indptr[0] != 0 or indptr[-1] != nnz or np.any(np.diff(indptr) < 0):
        raise ValueError(f"indptr must rise from 0 to nnz = {nnz}")
    if nnz and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"indices must lie in [0, {n - 1}]")
    _array("encoder", encoder, (n_out, n), np.float64)

    phi, P, target, step0, train_start, train_stop, update_every = learning
    _array("P", P, (n, n), np.float64)
    if not isinstance(target, np.ndarray) or target.ndim != 2:
        raise ValueError(f"target must be a 2-D (n_steps, n_out = {n_out}) float64 array")
    n_steps = target.shape[0]
    _array("target", target, (n_steps, n_out), np.float64)
    if not np.all(np.isfinite(target)):
        raise ValueError("target must be finite (no NaN or inf)")
    step0 = _integer("step0", step0, 0)
    train_start = _integer("train_start_step", train_start, 0)
    train_stop = _integer("train_stop_step", train_stop, 0)
    update_every = _integer("update_every", update_every, 1)

    if len(record) != 8:
        raise ValueError(
            "record must be (z_out, counts, spike_idx, spikes_out, v_idx, v_out, phi_norm_out, "
            "sample_every)"
        )
    z_out, counts, spike_idx, spikes_out, v_idx, v_out, phi_norm_out, sample_every = record
    sample_every = _integer("sample_every", sample_every, 1)
    n_samples = n_steps // sample_every
    _array("z_out", z_out, (n_steps, n_out), np.float64)
    _array("counts", counts, (n_steps,), np.int32)
    for idx, name in ((spike_idx, "spike_idx"), (v_idx, "v_idx")):
        if not isinstance(idx, np.ndarray) or idx.ndim != 1 or idx.dtype != np.int64:
            raise TypeError(f"{name} must be a 1-D int64 array of neuron indices")
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"{name} must lie in [0, {n - 1}]")
    _array("spikes_out", spikes_out, (n_steps, spike_idx.shape[0]), np.bool_)
    _array("v_out", v_out, (n_samples, v_idx.shape[0]), np.float64)
    _array("phi_norm_out", phi_norm_out, (n_samples,), np.float64)

    return (
        ForceNeuron(*params, float(v_peak), dt_ms),
        ForceSynapse(tau_rise, tau_decay),
        ForceState(*arrays, z),
        ForceConnections(indptr, indices, weights, encoder),
        ForceLearning(phi, P, target, step0, train_start, train_stop, update_every),
        ForceRecord(z_out, counts, spike_idx, spikes_out, v_idx, v_out, phi_norm_out, sample_every),
    )


# ----------------------------------------------------------------------------------------------
# NumPy reference
# ----------------------------------------------------------------------------------------------


def force_loop_numpy(neuron, synapse, state, network, learning, record):
    """NumPy reference of the FORCE loop (argument groups in the module docstring).

    Returns:
        ``(status, err_step, err_neuron)``.
    """
    neuron, synapse, state, network, learning, record = check_force_loop_args(
        neuron, synapse, state, network, learning, record
    )
    C, k, v_r, v_t, a, b, v_reset, d, i_bias, v_peak, dt_ms = neuron
    tau_rise, tau_decay = synapse
    v, u, ipsc, h_ipsc, r, h_r, z = state
    indptr, indices, weights, encoder = network
    phi, P, target, step0, train_start, train_stop, update_every = learning
    z_out, counts, spike_idx, spikes_out, v_idx, v_out, phi_norm_out, sample_every = record
    n = v.shape[0]
    n_out = z.shape[0]
    decay_rise = math.exp(-dt_ms / tau_rise)
    decay_decay = math.exp(-dt_ms / tau_decay)
    spiked = np.zeros(n, dtype=bool)
    syn_in = np.zeros(n)
    err = np.zeros(n_out)
    for j in range(target.shape[0]):
        g = step0 + j
        feedback = np.zeros(n)
        for q in range(n_out):
            feedback = feedback + encoder[q] * z[q]
        current = ipsc + feedback + i_bias
        izhikevich2007_update_numpy(v, u, current, C, k, v_r, v_t, a, b, dt_ms, 1, v_peak, spiked)
        bad = ~(np.isfinite(v) & np.isfinite(u))
        if bad.any():
            return STATUS_NONFINITE, g, int(np.argmax(bad))
        spikes = np.flatnonzero(spiked).astype(np.int32)
        counts[j] = spikes.size
        syn_in[:] = 0.0
        csr_propagate_numpy(spikes, spikes.size, indptr, indices, weights, syn_in)
        double_exponential_synapse_update_numpy(
            ipsc, h_ipsc, syn_in, decay_rise, decay_decay, dt_ms, tau_rise, tau_decay
        )
        double_exponential_synapse_update_numpy(
            r, h_r, spiked.astype(np.float64), decay_rise, decay_decay, dt_ms, tau_rise, tau_decay
        )
        for q in range(n_out):
            z[q] = np.dot(phi[q], r)
        if train_start <= g < train_stop and g % update_every == 0:
            err[:] = z - target[j]
            rls_update_numpy(P, phi, r, err)
        izhikevich_reset_numpy(v, u, v_reset, d, spiked)
        z_out[j] = z
        spikes_out[j] = spiked[spike_idx]
        if (j + 1) % sample_every == 0:
            row = (j + 1) // sample_every - 1
            v_out[row] = v[v_idx]
            phi_norm_out[row] = math.sqrt(float(np.sum(phi * phi)))
    return STATUS_OK, -1, -1


# ----------------------------------------------------------------------------------------------
# Numba CPU
# ----------------------------------------------------------------------------------------------


# Not cached: a cached function that calls a parallel (prange) function, here the RLS update,
# can crash when it is loaded from the cache (numba issue #8578). Compiling the loop takes a
# few seconds once per process.
@njit(cache=False, error_model="numpy")
def _force_loop_numba(neuron, synapse, state, network, learning, record):
    C, k, v_r, v_t, a, b, v_reset, d, i_bias, v_peak, dt_ms = neuron
    tau_rise, tau_decay = synapse
    v, u, ipsc, h_ipsc, r, h_r, z = state
    indptr, indices, weights, encoder = network
    phi, P, target, step0, train_start, train_stop, update_every = learning
    z_out, counts, spike_idx, spikes_out, v_idx, v_out, phi_norm_out, sample_every = record
    n = v.shape[0]
    n_out = z.shape[0]
    decay_rise = math.exp(-dt_ms / tau_rise)
    decay_decay = math.exp(-dt_ms / tau_decay)
    denom = tau_rise * tau_decay
    spiked = np.zeros(n, dtype=np.bool_)
    spikes = np.empty(n, dtype=np.int32)
    syn_in = np.zeros(n)
    current = np.empty(n)
    err = np.zeros(n_out)
    for j in range(target.shape[0]):
        g = step0 + j
        # 1. input current
        for i in range(n):
            current[i] = 0.0
        for q in range(n_out):
            zq = z[q]
            for i in range(n):
                current[i] = current[i] + encoder[q, i] * zq
        for i in range(n):
            current[i] = ipsc[i] + current[i] + i_bias[i]
        # 2. Euler step; 3. threshold
        bad = -1
        n_spikes = 0
        for i in range(n):
            vi, ui = izhikevich2007_scalar_numba(
                v[i], u[i], current[i], C[i], k[i], v_r[i], v_t[i], a[i], b[i], dt_ms, 1
            )
            v[i] = vi
            u[i] = ui
            if bad < 0 and ((vi - vi) != 0.0 or (ui - ui) != 0.0):  # NaN or inf
                bad = i
            fired = vi >= v_peak
            spiked[i] = fired
            if fired:
                spikes[n_spikes] = i
                n_spikes += 1
        if bad >= 0:
            return 1, g, bad
        counts[j] = n_spikes
        # 4. propagation and filters
        for s in range(n_spikes):
            pre = spikes[s]
            for p in range(indptr[pre], indptr[pre + 1]):
                syn_in[indices[p]] += weights[p]
        for i in range(n):
            h_old = h_ipsc[i]
            ipsc[i] = ipsc[i] * decay_decay + dt_ms * h_old
            h_ipsc[i] = h_old * decay_rise + syn_in[i] / denom
            syn_in[i] = 0.0
        for i in range(n):
            hr_old = h_r[i]
            r[i] = r[i] * decay_decay + dt_ms * hr_old
            h_r[i] = hr_old * decay_rise + (1.0 if spiked[i] else 0.0) / denom
        # 5. readout
        for q in range(n_out):
            acc = 0.0
            for i in range(n):
                acc += phi[q, i] * r[i]
            z[q] = acc
        # 6. RLS
        if train_start <= g and g < train_stop and g % update_every == 0:
            for q in range(n_out):
                err[q] = z[q] - target[j, q]
            rls_update_parallel_numba(P, phi, r, err, 1.0)
        # 7. reset
        for s in range(n_spikes):
            i = spikes[s]
            v[i] = v_reset[i]
            u[i] = u[i] + d[i]
        # 8. recording
        for q in range(n_out):
            z_out[j, q] = z[q]
        for m in range(spike_idx.shape[0]):
            spikes_out[j, m] = spiked[spike_idx[m]]
        if (j + 1) % sample_every == 0:
            row = (j + 1) // sample_every - 1
            for m in range(v_idx.shape[0]):
                v_out[row, m] = v[v_idx[m]]
            acc = 0.0
            for q in range(n_out):
                for i in range(n):
                    acc += phi[q, i] * phi[q, i]
            phi_norm_out[row] = math.sqrt(acc)
    return 0, -1, -1


def force_loop_numba(neuron, synapse, state, network, learning, record):
    """Numba CPU version of :func:`force_loop_numpy` (same arguments and result).

    The loop over steps is serial; the RLS update inside it is
    :func:`spikesub.kernels.plasticity.rls_update_parallel_numba`.
    """
    args = check_force_loop_args(neuron, synapse, state, network, learning, record)
    status, err_step, err_neuron = _force_loop_numba(*args)
    return int(status), int(err_step), int(err_neuron)
