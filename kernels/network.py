"""Fused simulation loops of a recurrent Izhikevich network.

One call advances the whole network by ``n_steps`` time steps. Each step ``g``
(global step index, ``t = g * dt_ms``) does, in this order (Brian2's order):

1. input current ``I = bias + noise + external + synaptic`` (in the arithmetic's
   dtype, see below), where the
   noise is ``noise_std * N(0, 1)`` redrawn every ``noise_interval_steps`` steps
   from the counter-based RNG (stream :data:`STREAM_NOISE`, counter = interval
   number, index = neuron), and ``synaptic`` is the filtered synaptic current
   (zero for delta synapses);
2. Euler update of ``v`` and ``u`` (see :mod:`spikesub.kernels.izhikevich`), or for
   leaky integrate-and-fire neurons the exact update of :mod:`spikesub.kernels.lif`
   (``u`` then counts the refractory steps left: a refractory neuron counts one down and
   is held at ``v_reset``);
3. threshold ``v >= v_peak`` (LIF: ``v >= v_th`` of each neuron); a non-finite ``v`` or
   ``u`` stops the loop;
4. Poisson input channels fire with probability ``rate_hz * dt_ms / 1000``
   (stream :data:`STREAM_POISSON`, counter = step, index = channel);
5. spikes of this step are delivered through the recurrent CSR weights, then
   the Poisson spikes through the input CSR weights: into ``v`` directly for
   delta synapses (``v_post += w``), else into the synaptic input buffer;
6. reset of the neurons that spiked (``v = c``, ``u += d``; LIF: ``v = v_reset`` or
   ``v -= v_th - v_reset``, and ``u`` = the refractory steps);
7. synaptic filter update with this step's input (exponential or
   double-exponential, :mod:`spikesub.kernels.synapses`).

State is sampled at the start of a step (before its update), every
``record_every`` steps counted from the start of the run.

Arithmetic: the update runs in the dtype of the neuron parameters in ``params``:
float64 (the default; every backend agrees) or float32 (the reservoir's
``precision="float32"``: float32 parameters, held input and Euler step with one
sub-step; several sub-steps stay float64). The NumPy version is the reference;
the Numba version performs the same float operations in the same order and is
bit-identical to it, in either dtype.

The Numba CPU loop splits the neurons into contiguous parts (one per thread);
the step of a part finishes the previous step for its neurons (delivery, reset,
filters), then updates and thresholds them, and nobody else writes them (no
races on the state). All steps of a call run in one parallel region: each
worker claims parts with atomic counters (its own part first), waits until
every part of the step is done, and one worker does the step's serial rest
(spike bookkeeping, Poisson draws) while the others wait: a few hundred
nanoseconds a step instead of a parallel region's start and end, and a late or
descheduled worker never holds the others up, since they step its part. Within
a part, neurons are updated in blocks of :data:`_BLOCK` that are thresholded
while in cache, and the synapses of the spikes found so far are prefetched a
few cache lines per block, so that the delivery finds them in cache. The CUDA
version runs a whole chunk of steps in one cooperative launch, the phases of a
step (update and threshold, delivery with atomic additions, reset and filters)
separated by grid-wide barriers.

Argument groups: the named tuples of :mod:`spikesub.kernels.network_args`, the same for
every backend (``params`` :class:`NeuronParams`, ``state`` :class:`NetworkState`, ``drive``
:class:`Drive`, ``recurrent`` :class:`Recurrent`, ``synapse`` :class:`Synapse`,
``homeostasis`` :class:`Homeostasis`, ``poisson``
:class:`PoissonDrive`, and ``record`` :class:`Record` on the CPU or :class:`CudaRecord` on
CUDA), where their fields, shapes and units are documented.

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
from spikesub.kernels.intrinsics import (
    atomic_add_numba,
    atomic_load_numba,
    atomic_store_numba,
    prefetch_numba,
    wait_until_at_least_numba,
)
from spikesub.kernels.izhikevich import (
    izhikevich2003_scalar_cuda,
    izhikevich2003_scalar_numba,
    izhikevich2007_scalar_cuda,
    izhikevich2007_scalar_numba,
)
from spikesub.kernels.lazy_cuda import cuda
from spikesub.kernels.network_args import Record
from spikesub.kernels.propagation import (
    CACHE_LINE_BYTES,
    csr_prefetch_range_numba,
    csr_propagate_gain_numpy,
    csr_propagate_numpy,
    csr_propagate_range_gain_numba,
    csr_propagate_range_numba,
)
from spikesub.kernels.rng import (
    key_numba,
    normal_cuda,
    normal_fill_numba,
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
FORM_LIF_ZERO = 2
"""Leaky integrate-and-fire neurons reset to ``v_reset`` (see :class:`NeuronParams`)."""
FORM_LIF_SUBTRACT = 3
"""Leaky integrate-and-fire neurons whose ``v`` drops by ``v_th - v_reset`` at a spike."""
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


# Neurons updated before their threshold is tested, while they are still in the L1 cache.
_BLOCK = 128
# Cache lines of the synapses of spikes already found that are prefetched after each block:
# spread over the update, prefetches overlap its arithmetic; issued all at once, they fill the
# core's miss buffers and stall it (measured: 0.87x the time of a burst at each spike).
_PREFETCH_LINES_PER_BLOCK = 16


@njit(inline="always")
def _finish_range(prev, n_prev, in_spikes, n_in, lo, hi, part, params, state, recurrent,
                  synapse, homeostasis, poisson):  # fmt: skip
    """Deliver the previous step's spikes into neurons lo:hi, reset them, update filters.

    The synapses of spikes found by other parts are prefetched first, all at once (this part's
    own spikes had theirs prefetched during the update, see :func:`_prefetch_ahead`).
    """
    form = params.form
    c = params.c
    d = params.d
    v_t = params.v_t
    v, u, syn_a, syn_b, syn_in, noise, inh_gain, rate_hz = state
    rec_indptr = recurrent.indptr
    rec_indices = recurrent.indices
    rec_weights = recurrent.weights
    rec_splits = recurrent.splits
    syn_mode, decay_a, decay_b, syn_dt, tau_rise, tau_decay = synapse
    rates, in_indptr, in_indices, in_weights, in_splits = poisson
    target = v if syn_mode == 0 else syn_in
    for s in range(n_prev):
        i = prev[s]
        if not (lo <= i < hi):
            csr_prefetch_range_numba(i, rec_indices, rec_weights, rec_splits, part)
    if homeostasis.on:
        csr_propagate_range_gain_numba(
            prev, n_prev, rec_splits, rec_indices, rec_weights, inh_gain, part, target
        )
    else:
        csr_propagate_range_numba(
            prev, n_prev, rec_indptr, rec_indices, rec_weights, rec_splits, part, target
        )
    csr_propagate_range_numba(
        in_spikes, n_in, in_indptr, in_indices, in_weights, in_splits, part, target
    )
    for s in range(n_prev):
        i = prev[s]
        if lo <= i < hi:
            if form == FORM_LIF_SUBTRACT:
                v[i] = np.float64(v[i]) - (np.float64(v_t[i]) - np.float64(c[i]))
            else:
                v[i] = c[i]
            u[i] = np.float64(u[i]) + d[i]
    if homeostasis.on:
        _homeostasis_range(lo, hi, prev, n_prev, homeostasis, inh_gain, rate_hz)
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


@njit(inline="always")
def _homeostasis_range(lo, hi, prev, n_prev, homeostasis, inh_gain, rate_hz):
    """After step ``t``'s delivery and reset, for neurons lo:hi: decay the rate estimates, add
    the jump of those among the ``prev`` spikes, and move each inhibitory gain by its rate
    error (see :class:`spikesub.kernels.network_args.Homeostasis`)."""
    decay = homeostasis.rate_decay
    for i in range(lo, hi):
        rate_hz[i] = rate_hz[i] * decay
    for s in range(n_prev):
        i = prev[s]
        if lo <= i < hi:
            rate_hz[i] = rate_hz[i] + homeostasis.rate_jump_hz
    target = homeostasis.target_hz
    gain_step = homeostasis.gain_step
    gain_max = homeostasis.gain_max
    for i in range(lo, hi):
        g = inh_gain[i] + gain_step[i] * (rate_hz[i] - target[i])
        inh_gain[i] = min(max(g, 0.0), gain_max)


@njit(cache=True, error_model="numpy")
def _hold_input(lo, hi, key, refresh, bias, noise_std, noise, held, p_buf, tail_buf):
    """Redraw the noise of neurons lo:hi when ``refresh`` (``noise_std * N(0, 1)``, see
    :func:`spikesub.kernels.rng.normal_fill_numba`), and set ``held = bias + noise`` there
    (rounded to ``held``'s dtype, the arithmetic's): the part of the input current that stays
    the same until the next draw."""
    if refresh:
        normal_fill_numba(key, lo, hi, noise_std, noise, p_buf, tail_buf)
    for i in range(np.uint64(lo), np.uint64(hi)):
        held[i] = bias[i] + noise[i]


@njit(inline="always")
def _input_current(lo, hi, step, held, drive, state, syn_mode, cur):
    """The step's input current of neurons lo:hi: ``held`` itself when there is nothing to add,
    else ``cur`` filled with ``held + external + synaptic`` (added in that order, each sum
    rounded to ``cur``'s dtype)."""
    ext_mode = drive.ext_mode
    ext = drive.ext
    encoder = drive.encoder
    syn_a = state.syn_a
    if ext_mode == 0 and syn_mode == 0:
        return held
    for i in range(lo, hi):
        cur[i] = held[i]
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
    return cur


@njit(inline="always")
def _threshold_in_state_dtype(v, v_peak):
    """The smallest value ``t`` of ``v``'s dtype with ``t >= v_peak``: for every ``x`` of that
    dtype, ``x >= t`` exactly when ``float64(x) >= v_peak``, so the test needs no conversion."""
    t = v.dtype.type(v_peak)
    if np.float64(t) < v_peak:
        t = np.nextafter(t, v.dtype.type(np.inf))
    return t


@njit(inline="always")
def _euler_2003(lo, hi, params, state, current, v_peak):
    """Euler step of the 2003 form (one sub-step) for neurons lo:hi, in the dtype of the
    parameters (float64, or float32 for the fast precision); a straight-line loop that the
    compiler vectorises, with exactly the operations of the scalar function.

    Returns the alarm: nonzero when a neuron reached ``v_peak`` (given in the state dtype, see
    :func:`_threshold_in_state_dtype`) or became non-finite; :func:`_scan_block` then says which.
    """
    a = params.a
    b = params.b
    v = state.v
    u = state.u
    f = a.dtype.type
    dt_ms = f(params.dt_ms)
    c1 = f(0.04)
    c2 = f(5.0)
    c3 = f(140.0)
    zero = v.dtype.type(0.0)
    alarm = 0
    for i in range(lo, hi):
        vi = f(v[i])
        ui = f(u[i])
        v[i] = vi + dt_ms * (c1 * vi * vi + c2 * vi + c3 - ui + f(current[i]))
        u[i] = ui + dt_ms * a[i] * (b[i] * vi - ui)
        vs = v[i]
        us = u[i]
        # inf - inf and NaN - NaN are NaN
        alarm |= (vs >= v_peak) | ((vs - vs) != zero) | ((us - us) != zero)
    return alarm


@njit(inline="always")
def _euler_2007(lo, hi, params, state, current, v_peak):
    """:func:`_euler_2003` for the 2007 form."""
    form, a, b, c, d, C, k, v_r, v_t, v_peak64, n_substeps, dt_ms = params
    v = state.v
    u = state.u
    f = a.dtype.type
    dt = f(dt_ms)
    zero = v.dtype.type(0.0)
    alarm = 0
    for i in range(lo, hi):
        vi = f(v[i])
        ui = f(u[i])
        v[i] = vi + dt * (k[i] * (vi - v_r[i]) * (vi - v_t[i]) - ui + f(current[i])) / C[i]
        u[i] = ui + dt * a[i] * (b[i] * (vi - v_r[i]) - ui)
        vs = v[i]
        us = u[i]
        alarm |= (vs >= v_peak) | ((vs - vs) != zero) | ((us - us) != zero)
    return alarm


@njit(inline="always")
def _euler_substeps(lo, hi, params, state, current, v_peak):
    """:func:`_euler_2003` for either form with several sub-steps (the scalar functions, in
    float64 whatever the parameters' dtype)."""
    form, a, b, c, d, C, k, v_r, v_t, v_peak64, n_substeps, dt_ms = params
    v = state.v
    u = state.u
    zero = v.dtype.type(0.0)
    alarm = 0
    for i in range(lo, hi):
        if form == 0:
            vi, ui = izhikevich2003_scalar_numba(
                np.float64(v[i]), np.float64(u[i]), current[i], a[i], b[i], dt_ms, n_substeps
            )
        else:
            vi, ui = izhikevich2007_scalar_numba(
                np.float64(v[i]), np.float64(u[i]), current[i],
                C[i], k[i], v_r[i], v_t[i], a[i], b[i], dt_ms, n_substeps,
            )  # fmt: skip
        v[i] = vi
        u[i] = ui
        vs = v[i]
        us = u[i]
        alarm |= (vs >= v_peak) | ((vs - vs) != zero) | ((us - us) != zero)
    return alarm


@njit(inline="always")
def _lif_block(lo, hi, params, state, current):
    """Exact step of leaky integrate-and-fire neurons lo:hi for a current held over the step
    (``a`` = ``exp(-dt / tau)``, ``b`` = resistance, ``C`` = ``v_rest``, ``c`` = ``v_reset``,
    ``v_t`` = ``v_th``; ``u`` = refractory steps left), in the parameters' dtype.

    Returns the alarm: nonzero when a neuron reached its ``v_th`` or became non-finite;
    :func:`_scan_block_lif` then says which.
    """
    decay = params.a
    resistance = params.b
    v_reset = params.c
    v_rest = params.C
    v_th = params.v_t
    v = state.v
    u = state.u
    f = decay.dtype.type
    one = f(1.0)
    zero = v.dtype.type(0.0)
    alarm = 0
    for i in range(lo, hi):
        ui = u[i]
        if ui > zero:
            u[i] = ui - v.dtype.type(1.0)
            v[i] = v_reset[i]
        else:
            vr = v_rest[i]
            dec = decay[i]
            v[i] = vr + (f(v[i]) - vr) * dec + (one - dec) * resistance[i] * f(current[i])
        vs = v[i]
        alarm |= (f(vs) >= v_th[i]) | ((vs - vs) != zero)
    return alarm


@njit(inline="always")
def _scan_block_lif(lo, hi, params, state, spikes, slot):
    """:func:`_scan_block` with each neuron's own threshold ``v_th`` (``params.v_t``)."""
    v_th = params.v_t
    f = v_th.dtype.type
    v = state.v
    zero = v.dtype.type(0.0)
    bad = 0
    for i in range(lo, hi):
        vs = v[i]
        if f(vs) >= v_th[i]:
            spikes[slot] = i
            slot += 1
        if (vs - vs) != zero:
            bad += 1
    return slot, bad


@njit(inline="always")
def _scan_block(lo, hi, state, v_peak, spikes, slot):
    """After an alarm in lo:hi: append the neurons with ``v >= v_peak`` to ``spikes[slot:]``
    (ascending) and count the non-finite ones. Returns ``(next free slot, non-finite count)``."""
    v = state.v
    u = state.u
    zero = v.dtype.type(0.0)
    bad = 0
    for i in range(lo, hi):
        vs = v[i]
        if vs >= v_peak:
            spikes[slot] = i
            slot += 1
        if ((vs - vs) != zero) | ((u[i] - u[i]) != zero):
            bad += 1
    return slot, bad


@njit(inline="always")
def _prefetch_ahead(spikes, slot, next_spike, next_synapse, recurrent, part):
    """Prefetch up to :data:`_PREFETCH_LINES_PER_BLOCK` cache lines of the synapses (into this
    part's range) of the spikes found so far, ``spikes[next_spike:slot]``, continuing from
    synapse ``next_synapse`` (-1: the row's first); returns where to continue."""
    indices = recurrent.indices
    weights = recurrent.weights
    splits = recurrent.splits
    stride = CACHE_LINE_BYTES // weights.itemsize
    budget = _PREFETCH_LINES_PER_BLOCK
    while budget > 0 and next_spike < slot:
        i = spikes[next_spike]
        end = splits[i, part + 1]
        next_synapse = max(next_synapse, splits[i, part])
        while budget > 0 and next_synapse < end:
            prefetch_numba(indices, next_synapse)
            prefetch_numba(weights, next_synapse)
            next_synapse += stride
            budget -= 1
        if next_synapse >= end:
            next_spike += 1
            next_synapse = -1
    return next_spike, next_synapse


@njit(cache=True, error_model="numpy")
def _update_range(lo, hi, step, params, state, drive, held, syn_mode, cur, spikes, recurrent,
                  part):  # fmt: skip
    """Input current, Euler update and threshold of neurons lo:hi, block by block.

    A block of :data:`_BLOCK` neurons is updated, then, only when one of them reached
    ``v_peak`` or became non-finite, scanned while it is still in cache: spikes go to
    ``spikes[lo:]`` in ascending order. After each block a few cache lines of the synapses of
    the spikes found so far are prefetched, so that the memory traffic of the delivery
    overlaps the rest of the update. Returns ``(bad, count)``: how many neurons became
    non-finite and how many spiked.

    The form is chosen once, outside the block loop, and the block loops are written out: a
    choice inside the loop, or its tail moved into an inlined function, kept the compiler from
    vectorising the update as well (measured 1.2x and 1.6x slower).
    """
    form = params.form
    n_substeps = params.n_substeps
    v_peak = _threshold_in_state_dtype(state.v, params.v_peak)
    # unsigned loop indices: Numba then emits no negative-index wraparound, and loops vectorise
    lo = np.uint64(lo)
    hi = np.uint64(hi)
    block = np.uint64(_BLOCK)
    current = _input_current(lo, hi, step, held, drive, state, syn_mode, cur)
    bad = 0
    slot = np.int64(lo)
    next_spike = np.int64(lo)  # the next spike and synapse whose cache lines to prefetch
    next_synapse = np.int64(-1)
    if form >= FORM_LIF_ZERO:
        for b0 in range(lo, hi, block):
            b1 = min(b0 + block, hi)
            if _lif_block(b0, b1, params, state, current):
                slot, n_bad = _scan_block_lif(b0, b1, params, state, spikes, slot)
                bad += n_bad
            if next_spike < slot:
                next_spike, next_synapse = _prefetch_ahead(
                    spikes, slot, next_spike, next_synapse, recurrent, part
                )
    elif n_substeps == 1 and form == 0:
        for b0 in range(lo, hi, block):
            b1 = min(b0 + block, hi)
            if _euler_2003(b0, b1, params, state, current, v_peak):
                slot, n_bad = _scan_block(b0, b1, state, v_peak, spikes, slot)
                bad += n_bad
            if next_spike < slot:
                next_spike, next_synapse = _prefetch_ahead(
                    spikes, slot, next_spike, next_synapse, recurrent, part
                )
    elif n_substeps == 1:
        for b0 in range(lo, hi, block):
            b1 = min(b0 + block, hi)
            if _euler_2007(b0, b1, params, state, current, v_peak):
                slot, n_bad = _scan_block(b0, b1, state, v_peak, spikes, slot)
                bad += n_bad
            if next_spike < slot:
                next_spike, next_synapse = _prefetch_ahead(
                    spikes, slot, next_spike, next_synapse, recurrent, part
                )
    else:
        for b0 in range(lo, hi, block):
            b1 = min(b0 + block, hi)
            if _euler_substeps(b0, b1, params, state, current, v_peak):
                slot, n_bad = _scan_block(b0, b1, state, v_peak, spikes, slot)
                bad += n_bad
            if next_spike < slot:
                next_spike, next_synapse = _prefetch_ahead(
                    spikes, slot, next_spike, next_synapse, recurrent, part
                )
    return bad, slot - np.int64(lo)


# Shared scalars of a sub-run, in one int64 array that every worker reads and one writes.
_N_PREV = 0  # spikes of the previous step, in ``prev``
_N_IN = 1  # Poisson input spikes of the previous step, in ``in_spikes``
_LAST = 2  # the sub-run's last step (call-local index); that step only finishes the one before
_STATUS = 3
_ERR_STEP = 4
_ERR_NEURON = 5
_N_RECORDED = 6
_N_SHARED = 7
# Synchronisation counters of one step: a claim per part, then these three.
_PARTS_DONE = 0
_SERIAL_CLAIMED = 1
_SERIAL_DONE = 2
_N_COUNTERS = 3


@njit(inline="always")
def _step_part(t, first, p, step0, params, state, drive, recurrent, synapse, homeostasis, poisson,
               record, scratch, shared, noise_on):  # fmt: skip
    """Step ``t`` (call-local index) for part ``p``: finish step ``t - 1`` for its neurons
    (delivery, reset, filters), then, unless ``t`` is the sub-run's last index, sample, draw
    the noise, update and threshold them."""
    v = state.v
    u = state.u
    noise = state.noise
    bias, noise_std, noise_every, seed, ext_mode, ext, encoder = drive
    rec_idx = record.rec_idx
    record_every = record.record_every
    run_step0 = record.run_step0
    rec_v = record.rec_v
    rec_u = record.rec_u
    bounds, part_count, part_bad, cur, held, p_buf, tail_buf, spikes, prev, in_spikes = scratch
    g = step0 + t
    lo = bounds[p]
    hi = bounds[p + 1]
    if t > first:
        n_prev = atomic_load_numba(shared, _N_PREV)
        n_in = atomic_load_numba(shared, _N_IN)
        _finish_range(prev, n_prev, in_spikes, n_in, lo, hi, p, params, state, recurrent,
                      synapse, homeostasis, poisson)  # fmt: skip
    if t == atomic_load_numba(shared, _LAST):
        return
    n_rec = rec_idx.shape[0]
    if n_rec > 0 and (g - run_step0) % record_every == 0:
        row = (g - run_step0) // record_every
        for r in range(n_rec):
            j = rec_idx[r]
            if lo <= j < hi:
                rec_v[row, r] = v[j]
                rec_u[row, r] = u[j]
    refresh = noise_on and (t == first or g % noise_every == 0)
    if refresh or t == first:
        key = key_numba(np.uint64(seed), np.uint64(STREAM_NOISE), np.uint64(g // noise_every))
        _hold_input(lo, hi, key, refresh, bias, noise_std, noise, held, p_buf, tail_buf)
    part_bad[p], part_count[p] = _update_range(
        lo, hi, t, params, state, drive, held, synapse.mode, cur, spikes, recurrent, p
    )


@njit(inline="always")
def _serial_phase(t, step0, params, state, drive, poisson, record, scratch, shared):
    """What one thread does for step ``t`` once every part is updated: stop at a non-finite
    neuron; gather the step's spikes into ``prev`` (ascending); count and record them; draw
    the Poisson input spikes. Ends the sub-run after this step when the spike buffers have no
    room left for another step of spikes."""
    v = state.v
    u = state.u
    seed = drive.seed
    rates = poisson.rates
    dt_ms = params.dt_ms
    record_spikes = record.record_spikes
    spike_steps = record.spike_steps
    spike_idx = record.spike_idx
    pop_counts = record.pop_counts
    bounds, part_count, part_bad, cur, held, p_buf, tail_buf, spikes, prev, in_spikes = scratch
    n_parts = part_count.shape[0]
    g = step0 + t
    for part in range(n_parts):
        if part_bad[part] > 0:
            for i in range(bounds[part], bounds[part + 1]):
                if not (math.isfinite(v[i]) and math.isfinite(u[i])):
                    shared[_STATUS] = STATUS_NONFINITE
                    shared[_ERR_STEP] = g
                    shared[_ERR_NEURON] = i
                    return
    n_prev = 0
    for part in range(n_parts):
        lo = bounds[part]
        for j in range(part_count[part]):
            prev[n_prev + j] = spikes[lo + j]
        n_prev += part_count[part]
    shared[_N_PREV] = n_prev
    pop_counts[t] = n_prev
    if record_spikes:
        n_recorded = atomic_load_numba(shared, _N_RECORDED)
        for j in range(n_prev):
            spike_steps[n_recorded + j] = g
            spike_idx[n_recorded + j] = prev[j]
        n_recorded += n_prev
        shared[_N_RECORDED] = n_recorded
        if spike_steps.shape[0] - n_recorded < v.shape[0]:
            shared[_LAST] = t + 1
    n_in = 0
    n_channels = rates.shape[1]
    if n_channels > 0:
        row = t if rates.shape[0] > 1 else 0
        in_key = key_numba(np.uint64(seed), np.uint64(STREAM_POISSON), np.uint64(g))
        for q in range(n_channels):
            p_fire = rates[row, q] * dt_ms * 1e-3
            if uniform_from_key_numba(in_key, np.uint64(q)) < p_fire:
                in_spikes[n_in] = q
                n_in += 1
    shared[_N_IN] = n_in


@njit(cache=True, error_model="numpy")
def _worker(part, first, step0, params, state, drive, recurrent, synapse, homeostasis, poisson,
            record, scratch, shared, counters, noise_on):  # fmt: skip
    """One thread's share of steps ``first .. shared[_LAST]`` (call-local indices).

    Each step, the worker first claims its own part, then the others in turn: a part is
    stepped by whichever worker claims it first, so a late or descheduled worker holds no one
    up (and one worker alone runs the whole sub-run). It waits until every part is done; then
    one worker (the first to claim it) does the serial phase while the others wait for it.
    The counters are atomic; a worker reads what the others wrote only after an atomic load
    that shows their work done, and reads the shared scalars with atomic loads too.
    """
    n_parts = scratch[1].shape[0]
    stride = n_parts + _N_COUNTERS
    t = first
    while True:
        base = (t - first) * stride
        for k in range(n_parts):
            p = (part + k) % n_parts
            if atomic_add_numba(counters, base + p, 1) == 0:
                _step_part(t, first, p, step0, params, state, drive, recurrent, synapse,
                           homeostasis, poisson, record, scratch, shared, noise_on)  # fmt: skip
                atomic_add_numba(counters, base + n_parts + _PARTS_DONE, 1)
        wait_until_at_least_numba(counters, base + n_parts + _PARTS_DONE, n_parts)
        if t == atomic_load_numba(shared, _LAST):
            return
        if atomic_add_numba(counters, base + n_parts + _SERIAL_CLAIMED, 1) == 0:
            _serial_phase(t, step0, params, state, drive, poisson, record, scratch, shared)
            atomic_store_numba(counters, base + n_parts + _SERIAL_DONE, 1)
        else:
            wait_until_at_least_numba(counters, base + n_parts + _SERIAL_DONE, 1)
        if atomic_load_numba(shared, _STATUS) != STATUS_OK:
            return
        t += 1


def _network_loop(
    params, state, drive, recurrent, synapse, homeostasis, poisson, step0, n_steps, record
):
    v = state.v
    noise_std = drive.noise_std
    rec_splits = recurrent.splits
    rates = poisson.rates
    (record_spikes, spike_steps, spike_idx, n_recorded, pop_counts,
     rec_idx, record_every, run_step0, rec_v, rec_u) = record  # fmt: skip

    n = v.shape[0]
    # Part ``p`` holds neurons bounds[p]:bounds[p + 1]: the worker that steps it updates them,
    # and is the only one to deliver synaptic input to them, so no two workers write the same
    # neuron. A step of a part first finishes the previous step (delivery, reset, filters) for
    # its neurons and then updates and thresholds them, which keeps Brian2's order.
    n_parts = rec_splits.shape[1] - 1
    bounds = np.empty(n_parts + 1, dtype=np.int64)
    for part in range(n_parts + 1):
        bounds[part] = (n * part) // n_parts
    work = params.a.dtype  # the arithmetic's dtype: the neuron parameters'
    scratch = (
        bounds,
        np.zeros(n_parts, dtype=np.int64),  # spikes of each part this step
        np.zeros(n_parts, dtype=np.int64),  # non-finite neurons of each part this step
        np.empty(n, dtype=work),  # the step's input current, when not just ``held``
        np.empty(n, dtype=work),  # ``held``: bias + held noise
        np.empty(n, dtype=np.float64),  # scratch of the noise draws
        np.empty(n, dtype=np.uint64),
        np.empty(n, dtype=np.int32),  # this step's spikes, per part
        np.empty(n, dtype=np.int32),  # ``prev``: the previous step's, ascending
        np.empty(rates.shape[1], dtype=np.int32),  # the previous step's Poisson spikes
    )
    # No literal constants in the workers' arguments: Numba would compile them once with the
    # literal's type and once more with the variable's (measured: 2x the compile time).
    noise_on = np.any(noise_std != 0.0)
    shared = np.zeros(_N_SHARED, dtype=np.int64)
    shared[_N_RECORDED] = n_recorded
    first = np.int64(0)
    # Sub-runs: each ends early when the spike buffers fill up, and they grow in between.
    while first < n_steps:
        if record_spikes:
            room = max(8 * n, 1024)
            spike_steps = _grow(spike_steps, n_recorded, room)
            spike_idx = _grow(spike_idx, n_recorded, room)
        shared[_LAST] = n_steps
        shared[_N_PREV] = 0
        shared[_N_IN] = 0
        counters = np.zeros((n_steps - first + 1) * (n_parts + _N_COUNTERS), dtype=np.int64)
        sub_record = Record(record_spikes, spike_steps, spike_idx, n_recorded, pop_counts,
                            rec_idx, record_every, run_step0, rec_v, rec_u)  # fmt: skip
        for part in prange(n_parts):
            _worker(part, first, step0, params, state, drive, recurrent, synapse, homeostasis,
                    poisson, sub_record, scratch, shared, counters, noise_on)  # fmt: skip
        # atomic loads: the compiler must not take the values stored before the region for
        # what the workers left (it did, with plain loads, in the threaded variant)
        status = atomic_load_numba(shared, _STATUS)
        n_recorded = atomic_load_numba(shared, _N_RECORDED)
        if status != STATUS_OK:
            err_step = atomic_load_numba(shared, _ERR_STEP)
            err_neuron = atomic_load_numba(shared, _ERR_NEURON)
            return status, err_step, err_neuron, n_recorded, spike_steps, spike_idx
        first = atomic_load_numba(shared, _LAST)
    return STATUS_OK, -1, -1, n_recorded, spike_steps, spike_idx


# Two compiled variants of one loop. They need distinct functions: Numba's cache is keyed by
# the function's name and line, and one shared entry would hand a variant the other's code.
_network_loop_inline = njit(inline="always")(_network_loop)


@njit(cache=True, error_model="numpy")
def run_network_numba_serial(
    params, state, drive, recurrent, synapse, homeostasis, poisson, step0, n_steps, record
):
    """Single-threaded Numba loop (small networks: no per-step thread hand-off). Given splits
    of several parts, it steps them one after the other."""
    return _network_loop_inline(
        params, state, drive, recurrent, synapse, homeostasis, poisson, step0, n_steps, record
    )


@njit(cache=True, parallel=True, error_model="numpy")
def run_network_numba_parallel(
    params, state, drive, recurrent, synapse, homeostasis, poisson, step0, n_steps, record
):
    """Multi-threaded Numba loop: one worker per part of ``recurrent``'s ``splits``, all steps
    of a chunk in one parallel region (see :func:`_worker`)."""
    return _network_loop_inline(
        params, state, drive, recurrent, synapse, homeostasis, poisson, step0, n_steps, record
    )


def run_network_numba(
    params, state, drive, recurrent, synapse, homeostasis, poisson, step0, n_steps, record
):
    """Numba CPU loop; parallel when the recurrent ``splits`` have more than one part."""
    parallel = recurrent.splits.shape[1] > 2
    fn = run_network_numba_parallel if parallel else run_network_numba_serial
    return fn(
        params, state, drive, recurrent, synapse, homeostasis, poisson, step0, n_steps, record
    )


# ----------------------------------------------------------------------------------------------
# NumPy reference
# ----------------------------------------------------------------------------------------------


def _euler_numpy(form, v, u, current, params):
    """One Euler step (one sub-step) in the parameters' dtype: new ``(v, u)``."""
    form, a, b, c, d, C, k, v_r, v_t, v_peak, n_substeps, dt_ms = params
    f = a.dtype.type
    dt = f(dt_ms)
    v_old = v.astype(a.dtype)
    u_old = u.astype(a.dtype)
    if form >= FORM_LIF_ZERO:
        refractory = u > 0
        integrated = C + (v_old - C) * a + (f(1.0) - a) * b * current
        return np.where(refractory, c, integrated), np.where(refractory, u - 1, u)
    if form == FORM_2003:
        v_new = v_old + dt * (f(0.04) * v_old * v_old + f(5.0) * v_old + f(140.0) - u_old + current)
        u_new = u_old + dt * a * (b * v_old - u_old)
    else:
        v_new = v_old + dt * (k * (v_old - v_r) * (v_old - v_t) - u_old + current) / C
        u_new = u_old + dt * a * (b * (v_old - v_r) - u_old)
    return v_new, u_new


def _euler_substeps_numpy(form, v, u, current, params):
    """``n_substeps`` Euler sub-steps of ``v`` and one step of ``u``, in float64 (as the scalar
    functions, whatever the parameters' dtype): new ``(v, u)``."""
    form, a, b, c, d, C, k, v_r, v_t, v_peak, n_substeps, dt_ms = params
    a, b, C, k, v_r, v_t = (np.asarray(x, dtype=np.float64) for x in (a, b, C, k, v_r, v_t))
    h = dt_ms / n_substeps
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
    return v64, u64


def run_network_numpy(
    params, state, drive, recurrent, synapse, homeostasis, poisson, step0, n_steps, record
):
    """NumPy reference of the fused loop (same arguments and result as the Numba version)."""
    form, a, b, c, d, C, k, v_r, v_t, v_peak, n_substeps, dt_ms = params
    v, u, syn_a, syn_b, syn_in, noise, inh_gain, rate_hz = state
    bias, noise_std, noise_every, seed, ext_mode, ext, encoder = drive
    rec_indptr, rec_indices, rec_weights, _ = recurrent
    syn_mode, decay_a, decay_b, syn_dt, tau_rise, tau_decay = synapse
    rates, in_indptr, in_indices, in_weights, _ = poisson
    (record_spikes, spike_steps, spike_idx, n_recorded, pop_counts,
     rec_idx, record_every, run_step0, rec_v, rec_u) = record  # fmt: skip
    n = v.shape[0]
    work = a.dtype  # the arithmetic's dtype (one sub-step): float64, or float32
    neurons = np.arange(n, dtype=np.uint64)
    channels = np.arange(rates.shape[1], dtype=np.uint64)
    noise_on = bool(np.any(noise_std != 0.0))
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
        # each sum rounded to the arithmetic's dtype, as the Numba loop stores it
        current = (bias + noise).astype(work)
        if ext_mode == 1:
            current = (current + ext[step]).astype(work)
        elif ext_mode == 2:
            acc = np.zeros(n)
            for q in range(ext.shape[1]):
                acc = acc + ext[step, q] * encoder[q]
            current = (current + acc).astype(work)
        if syn_mode != 0:
            current = (current + syn_a).astype(work)
        if n_substeps == 1:
            v[:], u[:] = _euler_numpy(form, v, u, current, params)
        else:
            v[:], u[:] = _euler_substeps_numpy(form, v, u, current, params)
        bad = ~(np.isfinite(v) & np.isfinite(u))
        if bad.any():
            return finish(STATUS_NONFINITE, g, int(np.argmax(bad)))
        if form >= FORM_LIF_ZERO:
            spikes = np.flatnonzero(v.astype(v_t.dtype) >= v_t).astype(np.int32)
        else:
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
        if homeostasis.on:
            csr_propagate_gain_numpy(
                spikes, spikes.size, rec_indptr, rec_indices, rec_weights, inh_gain, target
            )
        else:
            csr_propagate_numpy(spikes, spikes.size, rec_indptr, rec_indices, rec_weights, target)
        csr_propagate_numpy(in_spikes, in_spikes.size, in_indptr, in_indices, in_weights, target)
        if form == FORM_LIF_SUBTRACT:
            drop = v_t[spikes].astype(np.float64) - c[spikes].astype(np.float64)
            v[spikes] = v[spikes].astype(np.float64) - drop
        else:
            v[spikes] = c[spikes]
        u[spikes] = u[spikes].astype(np.float64) + d[spikes]
        if homeostasis.on:
            rate_hz *= homeostasis.rate_decay
            rate_hz[spikes] += homeostasis.rate_jump_hz
            gain = inh_gain + homeostasis.gain_step * (rate_hz - homeostasis.target_hz)
            inh_gain[:] = np.minimum(np.maximum(gain, 0.0), homeostasis.gain_max)
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
    v = state.v
    u = state.u
    syn_a = state.syn_a
    noise = state.noise
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
    threshold = v_peak
    if form >= 2:
        threshold = np.float64(v_t[i])
        ui = np.float64(u[i])
        if ui > 0.0:
            vi = np.float64(c[i])
            ui = ui - 1.0
        else:
            vr = np.float64(C[i])
            dec = np.float64(a[i])
            vi = vr + (np.float64(v[i]) - vr) * dec + (1.0 - dec) * np.float64(b[i]) * current
    elif form == 0:
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
    fired = np.float64(v[i]) >= threshold
    spiked[i] = fired
    if fired:
        spikes[cuda.atomic.add(counters, slot, 1)] = i


@cuda.jit(device=True)
def _deliver_part(
    block, n_blocks, thread, n_threads, spikes, n_spikes, indptr, indices, weights, gain_on,
    inh_gain, rates, step, g, seed, dt_ms, in_indptr, in_indices, in_weights, target,
):  # fmt: skip
    """This block's share of the delivery: a block per spike, threads over its row (inhibitory
    weights scaled by their target's ``inh_gain`` when ``gain_on``), then the Poisson channels
    spread over all threads; atomic additions into ``target``."""
    for s in range(block, n_spikes, n_blocks):
        i = spikes[s]
        for j in range(indptr[i] + thread, indptr[i + 1], n_threads):
            post = indices[j]
            if gain_on and weights[j] < 0.0:
                # the product in float64, rounded to the target's dtype by the addition
                cuda.atomic.add(target, post, np.float64(weights[j]) * inh_gain[post])
            else:
                cuda.atomic.add(target, post, weights[j])
    n_channels = rates.shape[1]
    row = step if rates.shape[0] > 1 else 0
    for q in range(block * n_threads + thread, n_channels, n_blocks * n_threads):
        p_fire = rates[row, q] * dt_ms * 1e-3
        if uniform_cuda(np.uint64(seed), np.uint64(2), np.uint64(g), np.uint64(q)) < p_fire:
            for j in range(in_indptr[q], in_indptr[q + 1]):
                cuda.atomic.add(target, in_indices[j], in_weights[j])


@cuda.jit(device=True)
def _finish_one(i, params, state, synapse, homeostasis, spiked, step, spike_base, rec_buf):
    """Reset, homeostasis, synaptic filters and spike recording of neuron ``i``."""
    form = params.form
    c = params.c
    d = params.d
    v, u, syn_a, syn_b, syn_in, noise, inh_gain, rate_hz = state
    syn_mode, decay_a, decay_b, syn_dt, tau_rise, tau_decay = synapse
    if spiked[i]:
        if form == 3:
            v[i] = np.float64(v[i]) - (np.float64(params.v_t[i]) - np.float64(c[i]))
        else:
            v[i] = c[i]
        u[i] = np.float64(u[i]) + d[i]
        if rec_buf.shape[0] > 0:
            slot = cuda.atomic.add(spike_base, 0, 1)
            if slot < rec_buf.shape[0]:
                rec_buf[slot, 0] = step
                rec_buf[slot, 1] = i
    if homeostasis.on:
        rate = rate_hz[i] * homeostasis.rate_decay
        if spiked[i]:
            rate = rate + homeostasis.rate_jump_hz
        rate_hz[i] = rate
        gain = inh_gain[i] + homeostasis.gain_step[i] * (rate - homeostasis.target_hz[i])
        inh_gain[i] = min(max(gain, 0.0), homeostasis.gain_max)
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
    if i < state.v.shape[0]:
        _update_one(i, params, state, drive, syn_mode, g, step, spiked, spikes, counters, 0, err)


@cuda.jit
def _cuda_deliver(
    spikes, counters, indptr, indices, weights, gain_on, inh_gain, rates, step, g, seed, dt_ms,
    in_indptr, in_indices, in_weights, target,
):  # fmt: skip
    _deliver_part(
        cuda.blockIdx.x, cuda.gridDim.x, cuda.threadIdx.x, cuda.blockDim.x, spikes, counters[0],
        indptr, indices, weights, gain_on, inh_gain, rates, step, g, seed, dt_ms, in_indptr,
        in_indices, in_weights, target,
    )  # fmt: skip


@cuda.jit
def _cuda_finish(
    params, state, synapse, homeostasis, spiked, counters, step, pop_counts, spike_base, rec_buf
):
    i = cuda.grid(1)
    if i == 0:
        pop_counts[step] = counters[0]
    if i < state.v.shape[0]:
        _finish_one(i, params, state, synapse, homeostasis, spiked, step, spike_base, rec_buf)


@cuda.jit(device=True)
def _sample_one(r, state, rec_idx, rec_v, rec_u, row):
    """v and u of the ``r``-th recorded neuron into row ``row`` of the samples."""
    rec_v[row, r] = state.v[rec_idx[r]]
    rec_u[row, r] = state.u[rec_idx[r]]


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
    params, state, drive, synapse, recurrent, homeostasis, poisson, target, step0, n_steps, spiked,
    spikes, counters, err, record,
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
    n = state.v.shape[0]
    n_rec = rec_idx.shape[0]
    tid = cuda.grid(1)
    stride = cuda.gridsize(1)
    syn_mode = synapse.mode
    dt_ms = params.dt_ms
    seed = drive.seed
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
            counters[slot], indptr, indices, weights, homeostasis.on, state.inh_gain, rates, step,
            g, seed, dt_ms, in_indptr, in_indices, in_weights, target,
        )  # fmt: skip
        grid.sync()
        if tid == 0:
            pop_counts[step] = counters[slot]
        for i in range(tid, n, stride):
            _finish_one(i, params, state, synapse, homeostasis, spiked, step, spike_base, rec_buf)
        grid.sync()


def _cooperative_blocks(kernel, args, threads: int) -> int:
    """How many blocks of ``threads`` can run ``kernel`` at once in a cooperative grid."""
    if _SIMULATED:
        return kernel.overloads[None].max_cooperative_grid_blocks(threads)
    argtypes = tuple(kernel.typeof_pyval(a) for a in args)
    return kernel.compile(argtypes).max_cooperative_grid_blocks(threads)


def run_network_cuda(
    params, state, drive, recurrent, synapse, homeostasis, poisson, step0, n_steps, record,
    persistent=True,
):  # fmt: skip
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
    v = state.v
    n = v.shape[0]
    spiked = cuda.device_array(n, dtype=np.bool_)
    spikes = cuda.device_array(n, dtype=np.int32)
    counters = cuda.to_device(np.zeros(2, dtype=np.int32))
    err = cuda.to_device(np.array([np.iinfo(np.int64).max], dtype=np.int64))
    target = v if synapse.mode == SYNAPSE_DELTA else state.syn_in
    blocks = 0
    if persistent and n_steps > 0:
        csr = (recurrent.indptr, recurrent.indices, recurrent.weights)
        channels = (poisson.rates, poisson.indptr, poisson.indices, poisson.weights)
        args = (params, state, drive, synapse, csr, homeostasis, channels, target,
                step0, n_steps, spiked, spikes, counters, err, record)  # fmt: skip
        blocks = min(_cooperative_blocks(_cuda_run_persistent, args, _THREADS),
                     (n + _THREADS - 1) // _THREADS)  # fmt: skip
        if blocks >= 1:
            _cuda_run_persistent[blocks, _THREADS](*args)
    if blocks < 1:
        _run_steps_by_launches(params, state, drive, recurrent, synapse, homeostasis, poisson,
                               step0, n_steps, record, spiked, spikes, counters, err,
                               target)  # fmt: skip
    first_bad = int(err.copy_to_host()[0])
    if first_bad != np.iinfo(np.int64).max:
        return STATUS_NONFINITE, first_bad // n, first_bad % n
    return STATUS_OK, -1, -1


def _run_steps_by_launches(
    params, state, drive, recurrent, synapse, homeostasis, poisson, step0, n_steps, record, spiked,
    spikes, counters, err, target,
):  # fmt: skip
    rec_buf, spike_base, pop_counts, rec_idx, record_every, run_step0, rec_v, rec_u = record
    n = state.v.shape[0]
    blocks = (n + _THREADS - 1) // _THREADS
    deliver_blocks = max(1, min(_MAX_DELIVER_BLOCKS, n))
    syn_mode = synapse.mode
    dt_ms = params.dt_ms
    seed = drive.seed
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
            spikes, counters, indptr, indices, weights, homeostasis.on, state.inh_gain, rates,
            step, g, seed, dt_ms, in_indptr, in_indices, in_weights, target,
        )  # fmt: skip
        _cuda_finish[blocks, _THREADS](
            params, state, synapse, homeostasis, spiked, counters, step, pop_counts, spike_base,
            rec_buf,
        )  # fmt: skip
