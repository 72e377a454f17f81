"""Fused simulation loops of a recurrent Izhikevich network.

One call advances the whole network by ``n_steps`` time steps. Each step ``g``
(global step index, ``t = g * dt_ms``) does, in this order (Brian2's order):

1. input current ``I = bias + noise + external + synaptic`` (float64), where the
   noise is ``noise_std * N(0, 1)`` redrawn every ``noise_interval_steps`` steps
   from the counter-based RNG (stream :data:`STREAM_NOISE`, counter = interval
   number, index = neuron), and ``synaptic`` is the filtered synaptic current
   (zero for delta synapses);
2. Euler update of ``v`` and ``u`` (see :mod:`spikesub.kernels.izhikevich`);
3. threshold ``v >= v_peak``; a non-finite ``v`` or ``u`` stops the loop;
4. Poisson input channels fire with probability ``rate_hz * dt_ms / 1000``
   (stream :data:`STREAM_POISSON`, counter = step, index = channel);
5. spikes of this step are delivered through the recurrent CSR weights, then
   the Poisson spikes through the input CSR weights: into ``v`` directly for
   delta synapses (``v_post += w``), else into the synaptic input buffer;
6. reset of the neurons that spiked (``v = c``, ``u += d``);
7. synaptic filter update with this step's input (exponential or
   double-exponential, :mod:`spikesub.kernels.synapses`).

State is sampled at the start of a step (before its update), every
``record_every`` steps counted from the start of the run.

The NumPy version is the reference; the Numba version performs the same
float operations in the same order and is bit-identical to it. The Numba CPU
loop gives each thread a contiguous range of neurons, which it updates and
alone receives synaptic input for (no races, no atomics), in one parallel
region per step: the region first finishes the previous step (delivery,
reset, filters) for its range, then updates and thresholds this step. The
CUDA version runs a whole chunk of steps in one cooperative launch, the
phases of a step (update and threshold, delivery with atomic additions,
reset and filters) separated by grid-wide barriers.

Argument groups (tuples, so every backend takes the same arguments):

``params = (form, a, b, c, d, C, k, v_r, v_t, v_peak, n_substeps, dt_ms)``
    form 0 = Izhikevich 2003, 1 = Izhikevich 2007; a..v_t ``(N,)`` float64
    (C, k, v_r, v_t unused for the 2003 form).
``state = (v, u, syn_a, syn_b, syn_in, noise)``
    ``(N,)`` arrays in the state dtype (``noise`` float64), updated in place.
    ``syn_a`` is the exponential current or the double-exponential ``r``,
    ``syn_b`` its ``h``, ``syn_in`` the per-step input buffer (kept at zero
    between steps), ``noise`` the held noise of the current interval.
``drive = (bias, noise_std, noise_interval_steps, seed, ext_mode, ext, encoder)``
    ``bias``, ``noise_std`` ``(N,)`` float64; ``seed`` numpy.uint64;
    ``ext_mode`` 0 = none, 1 = ``ext`` is ``(n_steps, N)``, 2 = ``ext`` is
    ``(n_steps, K)`` and the current is ``ext[n] @ encoder`` with ``encoder``
    ``(K, N)``, summed over K in ascending order.
``recurrent = (indptr, indices, weights, splits)``
    CSR by presynaptic row (weights in the state dtype); ``splits``
    ``(N, n_parts + 1)`` from :func:`spikesub.kernels.propagation.csr_partition`.
``synapse = (mode, decay_a, decay_b, dt_ms, tau_rise_ms, tau_decay_ms)``
    mode 0 = delta, 1 = exponential (``decay_a = exp(-dt/tau)``), 2 =
    double-exponential (``decay_a = exp(-dt/tau_decay)``, ``decay_b =
    exp(-dt/tau_rise)``).
``poisson = (rates_hz, indptr, indices, weights, splits)``
    ``rates_hz`` ``(n_steps or 1, P)`` float64; CSR from channels to neurons.
``record = (record_spikes, spike_steps, spike_idx, n_recorded, pop_counts,
rec_idx, record_every, run_step0, rec_v, rec_u)``
    spike buffers (grown as needed and returned), ``pop_counts``
    ``(n_steps,)`` int32 spikes per step, ``rec_idx`` ``(R,)`` int64 sampled
    neurons, ``rec_v``/``rec_u`` ``(samples, R)`` for the whole run.

Every loop returns ``(status, err_step, err_neuron, n_recorded, spike_steps,
spike_idx)``: status 0 when all steps ran, :data:`STATUS_NONFINITE` when the
state became non-finite at ``err_step`` (global) in neuron ``err_neuron``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

import spikesub.kernels.threads  # noqa: F401 - loads TBB before Numba's pool starts
from spikesub.kernels.backends import cuda_simulator_enabled
from spikesub.kernels.izhikevich import (
    izhikevich2003_scalar_cuda,
    izhikevich2003_scalar_numba,
    izhikevich2007_scalar_cuda,
    izhikevich2007_scalar_numba,
)
from spikesub.kernels.lazy_cuda import cuda
from spikesub.kernels.propagation import csr_propagate_numpy, csr_propagate_range_numba
from spikesub.kernels.rng import (
    key_numba,
    normal_cuda,
    normal_from_key_numba,
    normal_numpy,
    uniform_cuda,
    uniform_from_key_numba,
    uniform_numpy,
)

STREAM_NOISE = 1
STREAM_POISSON = 2
STATUS_OK = 0
STATUS_NONFINITE = 1

FORM_2003 = 0
FORM_2007 = 1
SYNAPSE_DELTA = 0
SYNAPSE_EXPONENTIAL = 1
SYNAPSE_DOUBLE_EXPONENTIAL = 2


# ----------------------------------------------------------------------------------------------
# Numba CPU
# ----------------------------------------------------------------------------------------------


@njit(cache=True)
def _grow(buf, n_used, n_more):
    """``buf``, or a copy with room for ``n_more`` more entries after the first ``n_used``."""
    if n_used + n_more <= buf.shape[0]:
        return buf
    out = np.empty(max(2 * buf.shape[0], n_used + n_more, 1024), dtype=buf.dtype)
    for j in range(n_used):
        out[j] = buf[j]
    return out


@njit(inline="always")
def _finish_range(prev, n_prev, in_spikes, n_in, lo, hi, part, params, state, recurrent,
                  synapse, poisson):  # fmt: skip
    """Deliver the previous step's spikes into neurons lo:hi, reset them, update filters."""
    c = params[3]
    d = params[4]
    v, u, syn_a, syn_b, syn_in, noise = state
    rec_indptr, rec_indices, rec_weights, rec_splits = recurrent
    syn_mode, decay_a, decay_b, syn_dt, tau_rise, tau_decay = synapse
    rates, in_indptr, in_indices, in_weights, in_splits = poisson
    target = v if syn_mode == 0 else syn_in
    csr_propagate_range_numba(
        prev, n_prev, rec_indptr, rec_indices, rec_weights, rec_splits, part, target
    )
    csr_propagate_range_numba(
        in_spikes, n_in, in_indptr, in_indices, in_weights, in_splits, part, target
    )
    for s in range(n_prev):
        i = prev[s]
        if lo <= i < hi:
            v[i] = c[i]
            u[i] = np.float64(u[i]) + d[i]
    if syn_mode == 1:
        for i in range(np.uint64(lo), np.uint64(hi)):
            syn_a[i] = np.float64(syn_a[i]) * decay_a + np.float64(syn_in[i])
            syn_in[i] = 0.0
    elif syn_mode == 2:
        hr_norm = 1.0 / (tau_rise * tau_decay)
        for i in range(np.uint64(lo), np.uint64(hi)):
            r_old = np.float64(syn_a[i])
            h_old = np.float64(syn_b[i])
            syn_a[i] = r_old * decay_a + syn_dt * h_old
            syn_b[i] = h_old * decay_b + np.float64(syn_in[i]) * hr_norm
            syn_in[i] = 0.0


@njit(cache=True)
def _update_range(lo, hi, step, params, state, drive, syn_mode, cur):
    """Input current and Euler update of neurons lo:hi; returns how many became non-finite.

    The common cases (2003 or 2007 form, one sub-step) are straight-line loops that the
    compiler vectorises; they perform exactly the operations of the scalar functions.
    """
    form, a, b, c, d, C, k, v_r, v_t, v_peak, n_substeps, dt_ms = params
    v, u, syn_a, syn_b, syn_in, noise = state
    bias, noise_std, noise_every, seed, ext_mode, ext, encoder = drive
    # unsigned loop indices: Numba then emits no negative-index wraparound, and loops vectorise
    lo = np.uint64(lo)
    hi = np.uint64(hi)
    for i in range(lo, hi):
        cur[i] = bias[i] + noise[i]
    if ext_mode == 1:
        for i in range(lo, hi):
            cur[i] = cur[i] + ext[step, i]
    elif ext_mode == 2:
        for i in range(lo, hi):
            acc = 0.0
            for q in range(ext.shape[1]):
                acc = acc + ext[step, q] * encoder[q, i]
            cur[i] = cur[i] + acc
    if syn_mode != 0:
        for i in range(lo, hi):
            cur[i] = cur[i] + syn_a[i]
    bad = 0
    if n_substeps == 1 and form == 0:
        for i in range(lo, hi):
            vi = np.float64(v[i])
            ui = np.float64(u[i])
            v[i] = vi + dt_ms * (0.04 * vi * vi + 5.0 * vi + 140.0 - ui + cur[i])
            u[i] = ui + dt_ms * a[i] * (b[i] * vi - ui)
            vs = np.float64(v[i])
            us = np.float64(u[i])
            bad += ((vs - vs) != 0.0) | ((us - us) != 0.0)  # inf - inf and NaN are NaN
    elif n_substeps == 1:
        for i in range(lo, hi):
            vi = np.float64(v[i])
            ui = np.float64(u[i])
            v[i] = vi + dt_ms * (k[i] * (vi - v_r[i]) * (vi - v_t[i]) - ui + cur[i]) / C[i]
            u[i] = ui + dt_ms * a[i] * (b[i] * (vi - v_r[i]) - ui)
            vs = np.float64(v[i])
            us = np.float64(u[i])
            bad += ((vs - vs) != 0.0) | ((us - us) != 0.0)
    else:
        for i in range(lo, hi):
            if form == 0:
                vi, ui = izhikevich2003_scalar_numba(
                    np.float64(v[i]), np.float64(u[i]), cur[i], a[i], b[i], dt_ms, n_substeps
                )
            else:
                vi, ui = izhikevich2007_scalar_numba(
                    np.float64(v[i]), np.float64(u[i]), cur[i],
                    C[i], k[i], v_r[i], v_t[i], a[i], b[i], dt_ms, n_substeps,
                )  # fmt: skip
            v[i] = vi
            u[i] = ui
            vs = np.float64(v[i])
            us = np.float64(u[i])
            bad += ((vs - vs) != 0.0) | ((us - us) != 0.0)
    return bad


def _network_loop(params, state, drive, recurrent, synapse, poisson, step0, n_steps, record):
    v_peak = params[9]
    v, u, syn_a, syn_b, syn_in, noise = state
    bias, noise_std, noise_every, seed, ext_mode, ext, encoder = drive
    rec_splits = recurrent[3]
    syn_mode = synapse[0]
    rates = poisson[0]
    dt_ms = params[11]
    (record_spikes, spike_steps, spike_idx, n_recorded, pop_counts,
     rec_idx, record_every, run_step0, rec_v, rec_u) = record  # fmt: skip

    n = v.shape[0]
    # Thread ``part`` owns neurons bounds[part]:bounds[part + 1]: it updates them, and it is
    # the only one to deliver synaptic input to them, so no two threads write the same neuron.
    # One parallel region per step: it first finishes the previous step (delivery, reset,
    # filters) and then updates and thresholds this one, which keeps Brian2's order.
    n_parts = rec_splits.shape[1] - 1
    bounds = np.empty(n_parts + 1, dtype=np.int64)
    for part in range(n_parts + 1):
        bounds[part] = (n * part) // n_parts
    part_count = np.zeros(n_parts, dtype=np.int64)
    part_bad = np.zeros(n_parts, dtype=np.int64)
    n_channels = rates.shape[1]
    n_rec = rec_idx.shape[0]
    cur = np.empty(n, dtype=np.float64)
    spikes = np.empty(n, dtype=np.int32)  # this step's spikes (per part, then compacted)
    prev = np.empty(n, dtype=np.int32)  # the previous step's, delivered in this step's region
    in_spikes = np.empty(n_channels, dtype=np.int32)
    seed64 = np.uint64(seed)
    noise_on = False
    for i in range(n):
        if noise_std[i] != 0.0:
            noise_on = True
    n_prev = 0
    n_in = 0

    for step in range(n_steps + 1):
        g = step0 + step
        finishing = step > 0
        last = step == n_steps
        sample = (not last) and n_rec > 0 and (g - run_step0) % record_every == 0
        refresh = (not last) and noise_on and (step == 0 or g % noise_every == 0)
        noise_key = key_numba(seed64, np.uint64(STREAM_NOISE), np.uint64(g // noise_every))
        for part in prange(n_parts):
            lo = bounds[part]
            hi = bounds[part + 1]
            if finishing:
                _finish_range(prev, n_prev, in_spikes, n_in, lo, hi, part, params, state,
                              recurrent, synapse, poisson)  # fmt: skip
            if not last:
                if sample:
                    row = (g - run_step0) // record_every
                    for r in range(n_rec):
                        j = rec_idx[r]
                        if lo <= j < hi:
                            rec_v[row, r] = v[j]
                            rec_u[row, r] = u[j]
                if refresh:
                    for i in range(np.uint64(lo), np.uint64(hi)):
                        noise[i] = noise_std[i] * normal_from_key_numba(noise_key, i)
                part_bad[part] = _update_range(lo, hi, step, params, state, drive, syn_mode, cur)
                count = 0
                for i in range(np.uint64(lo), np.uint64(hi)):
                    if np.float64(v[i]) >= v_peak:
                        spikes[lo + count] = i
                        count += 1
                part_count[part] = count
        if last:
            break
        for part in range(n_parts):
            if part_bad[part] > 0:
                for i in range(bounds[part], bounds[part + 1]):
                    if not (math.isfinite(v[i]) and math.isfinite(u[i])):
                        return STATUS_NONFINITE, g, i, n_recorded, spike_steps, spike_idx
        # compact this step's spikes into ``prev`` (ascending), for delivery in the next region
        n_prev = 0
        for part in range(n_parts):
            lo = bounds[part]
            for s in range(part_count[part]):
                prev[n_prev + s] = spikes[lo + s]
            n_prev += part_count[part]
        pop_counts[step] = n_prev
        if record_spikes and n_prev > 0:
            spike_steps = _grow(spike_steps, n_recorded, n_prev)
            spike_idx = _grow(spike_idx, n_recorded, n_prev)
            for s in range(n_prev):
                spike_steps[n_recorded + s] = g
                spike_idx[n_recorded + s] = prev[s]
            n_recorded += n_prev
        n_in = 0
        if n_channels > 0:
            row = step if rates.shape[0] > 1 else 0
            in_key = key_numba(seed64, np.uint64(STREAM_POISSON), np.uint64(g))
            for q in range(n_channels):
                p_fire = rates[row, q] * dt_ms * 1e-3
                if uniform_from_key_numba(in_key, np.uint64(q)) < p_fire:
                    in_spikes[n_in] = q
                    n_in += 1
    return STATUS_OK, -1, -1, n_recorded, spike_steps, spike_idx


# Two compiled variants of one loop. They need distinct functions: Numba's cache is keyed by
# the function's name and line, and one shared entry would hand a variant the other's code.
_network_loop_inline = njit(inline="always")(_network_loop)


@njit(cache=True)
def run_network_numba_serial(
    params, state, drive, recurrent, synapse, poisson, step0, n_steps, record
):
    """Single-threaded Numba loop (small networks: no per-step thread hand-off)."""
    return _network_loop_inline(
        params, state, drive, recurrent, synapse, poisson, step0, n_steps, record
    )


@njit(cache=True, parallel=True)
def run_network_numba_parallel(
    params, state, drive, recurrent, synapse, poisson, step0, n_steps, record
):
    """Multi-threaded Numba loop: one thread per part of ``recurrent``'s ``splits``."""
    return _network_loop_inline(
        params, state, drive, recurrent, synapse, poisson, step0, n_steps, record
    )


def run_network_numba(params, state, drive, recurrent, synapse, poisson, step0, n_steps, record):
    """Numba CPU loop; parallel when the recurrent ``splits`` have more than one part."""
    parallel = recurrent[3].shape[1] > 2
    fn = run_network_numba_parallel if parallel else run_network_numba_serial
    return fn(params, state, drive, recurrent, synapse, poisson, step0, n_steps, record)


# ----------------------------------------------------------------------------------------------
# NumPy reference
# ----------------------------------------------------------------------------------------------


def run_network_numpy(params, state, drive, recurrent, synapse, poisson, step0, n_steps, record):
    """NumPy reference of the fused loop (same arguments and result as the Numba version)."""
    form, a, b, c, d, C, k, v_r, v_t, v_peak, n_substeps, dt_ms = params
    v, u, syn_a, syn_b, syn_in, noise = state
    bias, noise_std, noise_every, seed, ext_mode, ext, encoder = drive
    rec_indptr, rec_indices, rec_weights, _ = recurrent
    syn_mode, decay_a, decay_b, syn_dt, tau_rise, tau_decay = synapse
    rates, in_indptr, in_indices, in_weights, _ = poisson
    (record_spikes, spike_steps, spike_idx, n_recorded, pop_counts,
     rec_idx, record_every, run_step0, rec_v, rec_u) = record  # fmt: skip
    n = v.shape[0]
    neurons = np.arange(n, dtype=np.uint64)
    channels = np.arange(rates.shape[1], dtype=np.uint64)
    noise_on = bool(np.any(noise_std != 0.0))
    h = dt_ms / n_substeps
    steps_out, idx_out = [], []

    def finish(status, err_step, err_neuron):
        nonlocal spike_steps, spike_idx, n_recorded
        if steps_out:
            new_steps = np.concatenate(steps_out)
            total = n_recorded + new_steps.size
            if total > spike_steps.shape[0]:
                spike_steps = np.resize(spike_steps, total)
                spike_idx = np.resize(spike_idx, total)
            spike_steps[n_recorded:total] = new_steps
            spike_idx[n_recorded:total] = np.concatenate(idx_out)
            n_recorded = total
        return status, err_step, err_neuron, n_recorded, spike_steps, spike_idx

    for step in range(n_steps):
        g = step0 + step
        if rec_idx.size > 0 and (g - run_step0) % record_every == 0:
            row = (g - run_step0) // record_every
            rec_v[row] = v[rec_idx]
            rec_u[row] = u[rec_idx]
        if noise_on and (step == 0 or g % noise_every == 0):
            noise[:] = noise_std * normal_numpy(int(seed), STREAM_NOISE, g // noise_every, neurons)
        current = bias + noise
        if ext_mode == 1:
            current = current + ext[step]
        elif ext_mode == 2:
            acc = np.zeros(n)
            for q in range(ext.shape[1]):
                acc = acc + ext[step, q] * encoder[q]
            current = current + acc
        if syn_mode != 0:
            current = current + syn_a
        v64 = v.astype(np.float64)
        u64 = u.astype(np.float64)
        v_start = v64
        if form == FORM_2003:
            for _ in range(n_substeps):
                v64 = v64 + h * (0.04 * v64 * v64 + 5.0 * v64 + 140.0 - u64 + current)
            u64 = u64 + dt_ms * a * (b * v_start - u64)
        else:
            for _ in range(n_substeps):
                v64 = v64 + h * (k * (v64 - v_r) * (v64 - v_t) - u64 + current) / C
            u64 = u64 + dt_ms * a * (b * (v_start - v_r) - u64)
        v[:] = v64
        u[:] = u64
        bad = ~(np.isfinite(v) & np.isfinite(u))
        if bad.any():
            return finish(STATUS_NONFINITE, g, int(np.argmax(bad)))
        spikes = np.flatnonzero(v.astype(np.float64) >= v_peak).astype(np.int32)
        pop_counts[step] = spikes.size
        if record_spikes and spikes.size:
            steps_out.append(np.full(spikes.size, g, dtype=np.int64))
            idx_out.append(spikes)
        in_spikes = np.zeros(0, dtype=np.int32)
        if rates.shape[1] > 0:
            row = step if rates.shape[0] > 1 else 0
            draws = uniform_numpy(int(seed), STREAM_POISSON, g, channels)
            in_spikes = np.flatnonzero(draws < rates[row] * dt_ms * 1e-3).astype(np.int32)
        target = v if syn_mode == SYNAPSE_DELTA else syn_in
        csr_propagate_numpy(spikes, spikes.size, rec_indptr, rec_indices, rec_weights, target)
        csr_propagate_numpy(in_spikes, in_spikes.size, in_indptr, in_indices, in_weights, target)
        v[spikes] = c[spikes]
        u[spikes] = u[spikes].astype(np.float64) + d[spikes]
        if syn_mode == SYNAPSE_EXPONENTIAL:
            syn_a[:] = syn_a.astype(np.float64) * decay_a + syn_in.astype(np.float64)
            syn_in[:] = 0.0
        elif syn_mode == SYNAPSE_DOUBLE_EXPONENTIAL:
            r_old = syn_a.astype(np.float64)
            h_old = syn_b.astype(np.float64)
            syn_a[:] = r_old * decay_a + syn_dt * h_old
            syn_b[:] = h_old * decay_b + syn_in.astype(np.float64) * (1.0 / (tau_rise * tau_decay))
            syn_in[:] = 0.0
    return finish(STATUS_OK, -1, -1)


# ----------------------------------------------------------------------------------------------
# Numba CUDA
# ----------------------------------------------------------------------------------------------

# The CUDA simulator runs every thread as a Python thread: small launches keep tests quick.
_SIMULATED = cuda_simulator_enabled()
_THREADS = 16 if _SIMULATED else 128
_MAX_DELIVER_BLOCKS = 2 if _SIMULATED else 4096


@cuda.jit(device=True)
def _update_one(i, params, state, drive, syn_mode, g, step, spiked, spikes, counters, slot, err):
    """Input current, neuron update and threshold of neuron ``i``; appends it to ``spikes``
    (through the counter ``counters[slot]``) when it fires."""
    form, a, b, c, d, C, k, v_r, v_t, v_peak, n_substeps, dt_ms = params
    v, u, syn_a, syn_b, syn_in, noise = state
    bias, noise_std, noise_every, seed, ext_mode, ext, encoder = drive
    if noise_std[i] != 0.0 and (step == 0 or g % noise_every == 0):
        noise[i] = noise_std[i] * normal_cuda(
            np.uint64(seed), np.uint64(1), np.uint64(g // noise_every), np.uint64(i)
        )
    current = bias[i] + noise[i]
    if ext_mode == 1:
        current = current + ext[step, i]
    elif ext_mode == 2:
        acc = 0.0
        for q in range(ext.shape[1]):
            acc = acc + ext[step, q] * encoder[q, i]
        current = current + acc
    if syn_mode != 0:
        current = current + syn_a[i]
    if form == 0:
        vi, ui = izhikevich2003_scalar_cuda(
            np.float64(v[i]), np.float64(u[i]), current, a[i], b[i], dt_ms, n_substeps
        )
    else:
        vi, ui = izhikevich2007_scalar_cuda(
            np.float64(v[i]), np.float64(u[i]), current,
            C[i], k[i], v_r[i], v_t[i], a[i], b[i], dt_ms, n_substeps,
        )  # fmt: skip
    v[i] = vi
    u[i] = ui
    if not (math.isfinite(v[i]) and math.isfinite(u[i])):
        cuda.atomic.min(err, 0, g * v.shape[0] + i)
    fired = np.float64(v[i]) >= v_peak
    spiked[i] = fired
    if fired:
        spikes[cuda.atomic.add(counters, slot, 1)] = i


@cuda.jit(device=True)
def _deliver_part(
    block, n_blocks, thread, n_threads, spikes, n_spikes, indptr, indices, weights, rates, step,
    g, seed, dt_ms, in_indptr, in_indices, in_weights, target,
):  # fmt: skip
    """This block's share of the delivery: a block per spike, threads over its row, then the
    Poisson channels spread over all threads; atomic additions into ``target``."""
    for s in range(block, n_spikes, n_blocks):
        i = spikes[s]
        for j in range(indptr[i] + thread, indptr[i + 1], n_threads):
            cuda.atomic.add(target, indices[j], weights[j])
    n_channels = rates.shape[1]
    row = step if rates.shape[0] > 1 else 0
    for q in range(block * n_threads + thread, n_channels, n_blocks * n_threads):
        p_fire = rates[row, q] * dt_ms * 1e-3
        if uniform_cuda(np.uint64(seed), np.uint64(2), np.uint64(g), np.uint64(q)) < p_fire:
            for j in range(in_indptr[q], in_indptr[q + 1]):
                cuda.atomic.add(target, in_indices[j], in_weights[j])


@cuda.jit(device=True)
def _finish_one(i, params, state, synapse, spiked, step, spike_base, rec_buf):
    """Reset, synaptic filters and spike recording of neuron ``i``."""
    c = params[3]
    d = params[4]
    v, u, syn_a, syn_b, syn_in, noise = state
    syn_mode, decay_a, decay_b, syn_dt, tau_rise, tau_decay = synapse
    if spiked[i]:
        v[i] = c[i]
        u[i] = np.float64(u[i]) + d[i]
        if rec_buf.shape[0] > 0:
            slot = cuda.atomic.add(spike_base, 0, 1)
            if slot < rec_buf.shape[0]:
                rec_buf[slot, 0] = step
                rec_buf[slot, 1] = i
    if syn_mode == 1:
        syn_a[i] = np.float64(syn_a[i]) * decay_a + np.float64(syn_in[i])
        syn_in[i] = 0.0
    elif syn_mode == 2:
        r_old = np.float64(syn_a[i])
        h_old = np.float64(syn_b[i])
        syn_a[i] = r_old * decay_a + syn_dt * h_old
        syn_b[i] = h_old * decay_b + np.float64(syn_in[i]) * (1.0 / (tau_rise * tau_decay))
        syn_in[i] = 0.0


@cuda.jit
def _cuda_update(params, state, drive, syn_mode, g, step, spiked, spikes, counters, err):
    i = cuda.grid(1)
    if i < state[0].shape[0]:
        _update_one(i, params, state, drive, syn_mode, g, step, spiked, spikes, counters, 0, err)


@cuda.jit
def _cuda_deliver(
    spikes, counters, indptr, indices, weights, rates, step, g, seed, dt_ms, in_indptr, in_indices,
    in_weights, target,
):  # fmt: skip
    _deliver_part(
        cuda.blockIdx.x, cuda.gridDim.x, cuda.threadIdx.x, cuda.blockDim.x, spikes, counters[0],
        indptr, indices, weights, rates, step, g, seed, dt_ms, in_indptr, in_indices, in_weights,
        target,
    )  # fmt: skip


@cuda.jit
def _cuda_finish(params, state, synapse, spiked, counters, step, pop_counts, spike_base, rec_buf):
    i = cuda.grid(1)
    if i == 0:
        pop_counts[step] = counters[0]
    if i < state[0].shape[0]:
        _finish_one(i, params, state, synapse, spiked, step, spike_base, rec_buf)


@cuda.jit(device=True)
def _sample_one(r, state, rec_idx, rec_v, rec_u, row):
    """v and u of the ``r``-th recorded neuron into row ``row`` of the samples."""
    rec_v[row, r] = state[0][rec_idx[r]]
    rec_u[row, r] = state[1][rec_idx[r]]


@cuda.jit
def _cuda_sample(state, rec_idx, rec_v, rec_u, row):
    r = cuda.grid(1)
    if r < rec_idx.shape[0]:
        _sample_one(r, state, rec_idx, rec_v, rec_u, row)


@cuda.jit
def _cuda_zero_counter(counters):
    if cuda.grid(1) == 0:
        counters[0] = 0


@cuda.jit
def _cuda_run_persistent(
    params, state, drive, synapse, recurrent, poisson, target, step0, n_steps, spiked, spikes,
    counters, err, record,
):  # fmt: skip
    """All ``n_steps`` steps in one cooperative launch, the phases of a step separated by
    grid-wide barriers; threads stride over neurons, blocks over spikes.

    ``counters`` holds two spike counters used on alternate steps, so that the next step's
    counter is zeroed while this step's is still read.
    """
    rec_buf, spike_base, pop_counts, rec_idx, record_every, run_step0, rec_v, rec_u = record
    indptr, indices, weights = recurrent
    rates, in_indptr, in_indices, in_weights = poisson
    grid = cuda.cg.this_grid()
    n = state[0].shape[0]
    n_rec = rec_idx.shape[0]
    tid = cuda.grid(1)
    stride = cuda.gridsize(1)
    syn_mode = synapse[0]
    dt_ms = params[11]
    seed = drive[3]
    for step in range(n_steps):
        g = step0 + step
        slot = step % 2
        if n_rec > 0 and (g - run_step0) % record_every == 0:
            row = (g - run_step0) // record_every
            for r in range(tid, n_rec, stride):
                _sample_one(r, state, rec_idx, rec_v, rec_u, row)
            grid.sync()  # samples are read before any neuron of this step updates
        if tid == 0:
            counters[1 - slot] = 0
        for i in range(tid, n, stride):
            _update_one(i, params, state, drive, syn_mode, g, step, spiked, spikes, counters,
                        slot, err)  # fmt: skip
        grid.sync()
        _deliver_part(
            cuda.blockIdx.x, cuda.gridDim.x, cuda.threadIdx.x, cuda.blockDim.x, spikes,
            counters[slot], indptr, indices, weights, rates, step, g, seed, dt_ms, in_indptr,
            in_indices, in_weights, target,
        )  # fmt: skip
        grid.sync()
        if tid == 0:
            pop_counts[step] = counters[slot]
        for i in range(tid, n, stride):
            _finish_one(i, params, state, synapse, spiked, step, spike_base, rec_buf)
        grid.sync()


def _cooperative_blocks(kernel, args, threads: int) -> int:
    """How many blocks of ``threads`` can run ``kernel`` at once in a cooperative grid."""
    if _SIMULATED:
        return kernel.overloads[None].max_cooperative_grid_blocks(threads)
    argtypes = tuple(kernel.typeof_pyval(a) for a in args)
    return kernel.compile(argtypes).max_cooperative_grid_blocks(threads)


def run_network_cuda(
    params, state, drive, recurrent, synapse, poisson, step0, n_steps, record, persistent=True
):
    """CUDA loop: every array argument must already be on the device (``cuda.to_device``).

    ``record`` differs from the CPU loops: ``(rec_buf, spike_base, pop_counts, rec_idx,
    record_every, run_step0, rec_v, rec_u)`` with ``rec_buf`` a device ``(capacity, 2)`` int64
    buffer of (chunk step, neuron) pairs and ``spike_base`` a device ``(1,)`` int64 counter; when
    more spikes than ``capacity`` fired, the counter exceeds the capacity and the caller must
    replay the chunk with a larger buffer. Returns ``(status, err_step, err_neuron)``.

    ``persistent=True`` runs all steps in one cooperative launch (grid-wide barriers between
    the phases of a step): a step then costs a few microseconds of synchronisation instead of
    the host's launch overhead of four kernels (about 0.6 ms a step with Numba's dispatch).
    ``False``, or a device that cannot hold a cooperative grid of this kernel, launches the
    phases of every step as separate kernels; both give the same result.
    """
    v = state[0]
    n = v.shape[0]
    spiked = cuda.device_array(n, dtype=np.bool_)
    spikes = cuda.device_array(n, dtype=np.int32)
    counters = cuda.to_device(np.zeros(2, dtype=np.int32))
    err = cuda.to_device(np.array([np.iinfo(np.int64).max], dtype=np.int64))
    target = v if synapse[0] == SYNAPSE_DELTA else state[4]
    blocks = 0
    if persistent and n_steps > 0:
        args = (params, state, drive, synapse, recurrent[:3], poisson[:4], target, step0,
                n_steps, spiked, spikes, counters, err, record)  # fmt: skip
        blocks = min(_cooperative_blocks(_cuda_run_persistent, args, _THREADS),
                     (n + _THREADS - 1) // _THREADS)  # fmt: skip
        if blocks >= 1:
            _cuda_run_persistent[blocks, _THREADS](*args)
    if blocks < 1:
        _run_steps_by_launches(params, state, drive, recurrent, synapse, poisson, step0, n_steps,
                               record, spiked, spikes, counters, err, target)  # fmt: skip
    first_bad = int(err.copy_to_host()[0])
    if first_bad != np.iinfo(np.int64).max:
        return STATUS_NONFINITE, first_bad // n, first_bad % n
    return STATUS_OK, -1, -1


def _run_steps_by_launches(
    params, state, drive, recurrent, synapse, poisson, step0, n_steps, record, spiked, spikes,
    counters, err, target,
):  # fmt: skip
    rec_buf, spike_base, pop_counts, rec_idx, record_every, run_step0, rec_v, rec_u = record
    n = state[0].shape[0]
    blocks = (n + _THREADS - 1) // _THREADS
    deliver_blocks = max(1, min(_MAX_DELIVER_BLOCKS, n))
    syn_mode = synapse[0]
    dt_ms = params[11]
    seed = drive[3]
    indptr, indices, weights, _ = recurrent
    rates, in_indptr, in_indices, in_weights, _ = poisson
    n_rec = rec_idx.shape[0]
    for step in range(n_steps):
        g = step0 + step
        if n_rec > 0 and (g - run_step0) % record_every == 0:
            row = (g - run_step0) // record_every
            _cuda_sample[(n_rec + _THREADS - 1) // _THREADS, _THREADS](
                state, rec_idx, rec_v, rec_u, row
            )
        _cuda_zero_counter[1, 1](counters)
        _cuda_update[blocks, _THREADS](
            params, state, drive, syn_mode, g, step, spiked, spikes, counters, err
        )
        _cuda_deliver[deliver_blocks, _THREADS](
            spikes, counters, indptr, indices, weights, rates, step, g, seed, dt_ms,
            in_indptr, in_indices, in_weights, target,
        )  # fmt: skip
        _cuda_finish[blocks, _THREADS](
            params, state, synapse, spiked, counters, step, pop_counts, spike_base, rec_buf
        )
