"""Pair-based STDP with traces on CSR synapses, and its reward-modulated (three-factor) form.

Synapses are stored in CSR form by presynaptic row (``indptr`` ``(n_pre + 1,)`` int64,
``indices`` ``(nnz,)`` int32 postsynaptic targets, ascending within a row, ``weights``
``(nnz,)``); the dense convention is ``W[post, pre]``. A postsynaptic spike touches the
neuron's *incoming* synapses, which lie scattered over the rows: :func:`column_index` builds,
once, the column view (CSC order) as a permutation into the CSR slots.

Traces (one per neuron, float64, dimensionless), with ``decay = exp(-dt_ms / tau_ms)``:

* ``x_pre`` ``(n_pre,)``, time constant ``tau_plus_ms``;
* ``x_post`` ``(n_post,)``, time constant ``tau_minus_ms``.

A spike makes its trace jump by 1 (``trace_mode`` :data:`TRACE_ADDITIVE`, all-to-all
pairing: every earlier spike counts) or sets it to 1 (:data:`TRACE_NEAREST`, nearest-spike
pairing). The amplitudes ``a_plus``/``a_minus`` carry the size of the change, so one
pre-before-post pair ``dt`` ms apart gives ``dw = a_plus * exp(-dt / tau_plus_ms)`` and one
post-before-pre pair ``dw = -a_minus * exp(-dt / tau_minus_ms)``.

Order of operations in one time step (:func:`stdp_step_numpy` and every other backend):

1. decay: ``x_pre *= decay_pre``, ``x_post *= decay_post`` (all neurons);
2. presynaptic spikes: ``x_pre[i]`` jumps for each spiking ``i``; then every plastic synapse
   ``s`` of row ``i`` (post ``j``) is depressed, ``dw = -a_minus * x_post[j]``, with the
   postsynaptic trace *before* this step's postsynaptic jumps;
3. postsynaptic spikes: ``x_post[j]`` jumps for each spiking ``j``; then every plastic synapse
   onto ``j`` (pre ``i``) is potentiated, ``dw = +a_plus * x_pre[i]``, with the presynaptic
   trace *after* this step's presynaptic jumps.

A pre and a post spike in the same step therefore count as pre-before-post (``+a_plus``,
no depression): Brian2's order too (its ``on_pre`` pathway runs before ``on_post``).

With ``post_first`` the two phases swap (decay, then step 3, then step 2): the potentiation
reads the presynaptic trace *before* this step's presynaptic jumps and the depression reads
the postsynaptic trace *after* this step's postsynaptic jumps, so a pair in the same step
counts as post-before-pre (``-a_minus``, no potentiation). That is the order of Izhikevich's
published code (spnet.m, daspnet.m), where a spike reaches its targets one step later: a
postsynaptic spike in the spike's own step cannot have been caused by it. A pre spike ``k``
steps before a post spike then gives ``a_plus * decay_pre**k`` (``k >= 1``), a post spike
``k`` steps before a pre spike ``-a_minus * decay_post**k`` (``k >= 0``).

Bounds (``bound_mode``):

* :data:`BOUND_ADDITIVE`: ``dw`` as above, then ``w = clip(w + dw, w_min, w_max)`` after each
  of steps 2 and 3 (hard bounds);
* :data:`BOUND_MULTIPLICATIVE`: soft bounds, LTD scaled by ``(w - w_min)`` and LTP by
  ``(w_max - w)``, then the same clip (which only acts when an amplitude times a trace
  exceeds 1).

Reward-modulated STDP (Izhikevich 2007, *Cerebral Cortex* 17:2443): with
``to_eligibility`` the changes of steps 2 and 3 go into an eligibility trace ``c`` ``(nnz,)``
float64 instead (no clip; the soft-bound factors still use the current weights), and
:func:`eligibility_apply_numpy` moves the weights, every ``update_every`` steps, by

    w = clip(w + gain * c, w_min, w_max);   c = c * decay_e

with ``gain = lr * update_every * dt_ms * dopamine`` (lr per ms per unit of dopamine) and
``decay_e = exp(-update_every * dt_ms / tau_e_ms)``: the Euler step of ``dw/dt = lr d c``,
``dc/dt = -c / tau_e``, taken every ``update_every`` steps (Izhikevich's code takes it every
10 ms with ``tau_e = 1 s``). Only synapses whose ``plastic`` flag is set ever change.

Numerics: arithmetic is float64 (weights may be stored as float32 or float64; the result of
each event is rounded once into the weight dtype). Each synapse sees the same scalar
expressions in the same order on every backend, and no sum is reordered: the Numba and
CUDA-simulator versions are bit-identical to the NumPy reference. On a real GPU the compiler
may fuse a multiply and an add (FMA), so agreement there is to float tolerance.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

import spikesub.kernels.threads  # noqa: F401 - loads TBB before Numba's pool starts
from spikesub.kernels.launch import THREADS_PER_BLOCK, array_length
from spikesub.kernels.lazy_cuda import cuda
from spikesub.kernels.traces import TRACE_ADDITIVE, TRACE_NEAREST

__all__ = [
    "BOUND_ADDITIVE",
    "BOUND_MULTIPLICATIVE",
    "TRACE_ADDITIVE",
    "TRACE_NEAREST",
    "Modulation",
    "PlasticSynapses",
    "STDPRule",
    "STDPState",
    "column_index",
    "eligibility_apply_cuda",
    "eligibility_apply_numba",
    "eligibility_apply_numpy",
    "plastic_synapses",
    "stdp_run_cuda",
    "stdp_run_numba",
    "stdp_run_numpy",
    "stdp_step_cuda",
    "stdp_step_numba",
    "stdp_step_numpy",
]

BOUND_ADDITIVE = 0
"""``bound_mode``: additive changes, hard clip to ``[w_min, w_max]``."""
BOUND_MULTIPLICATIVE = 1
"""``bound_mode``: soft bounds, LTP scaled by ``(w_max - w)``, LTD by ``(w - w_min)``."""


class STDPRule(NamedTuple):
    """The rule's constants for one step of ``dt_ms`` (built once by the model layer)."""

    a_plus: float  # LTP amplitude (weight units per unit of x_pre)
    a_minus: float  # LTD amplitude (>= 0; the change is -a_minus * x_post)
    decay_pre: float  # exp(-dt_ms / tau_plus_ms)
    decay_post: float  # exp(-dt_ms / tau_minus_ms)
    trace_mode: int  # TRACE_ADDITIVE (x += 1) or TRACE_NEAREST (x = 1)
    bound_mode: int  # BOUND_ADDITIVE or BOUND_MULTIPLICATIVE
    w_min: float
    w_max: float
    to_eligibility: bool  # False: changes go to the weights; True: to the eligibility trace
    post_first: bool = False  # True: postsynaptic events first (a same-step pair depresses)


class PlasticSynapses(NamedTuple):
    """CSR synapses with their column view and plasticity flags (built by
    :func:`plastic_synapses`)."""

    indptr: np.ndarray  # (n_pre + 1,) int64
    indices: np.ndarray  # (nnz,) int32 post neuron of each CSR slot
    col_ptr: np.ndarray  # (n_post + 1,) int64; column j is col_ptr[j]:col_ptr[j + 1]
    col_slots: np.ndarray  # (nnz,) int64 CSR slot of each synapse in CSC order
    col_pre: np.ndarray  # (nnz,) int32 pre neuron of each synapse in CSC order
    plastic: np.ndarray  # (nnz,) bool, by CSR slot


class STDPState(NamedTuple):
    """What the rule changes, in place."""

    x_pre: np.ndarray  # (n_pre,) float64
    x_post: np.ndarray  # (n_post,) float64
    weights: np.ndarray  # (nnz,) float32 or float64, by CSR slot
    eligibility: np.ndarray  # (nnz,) float64 (R-STDP), or (0,) when unused


class Modulation(NamedTuple):
    """The third factor of a run (:func:`stdp_run_numpy`): after step ``n``'s spikes, when
    ``(step0 + n) % update_every == 0``, apply :func:`eligibility_apply_numpy` with
    ``gain[n]``."""

    update_every: int  # steps between weight updates (>= 1)
    decay_e: float  # exp(-update_every * dt_ms / tau_e_ms)
    gain: np.ndarray  # (n_steps,) float64: lr * update_every * dt_ms * dopamine(step)
    step0: int  # global index of the run's first step


def column_index(
    indptr: np.ndarray, indices: np.ndarray, n_post: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The column (CSC) view of CSR synapses, as a permutation of the CSR slots.

    Args:
        indptr: ``(n_pre + 1,)`` row pointers.
        indices: ``(nnz,)`` postsynaptic neuron of each slot.
        n_post: number of postsynaptic neurons.

    Returns:
        ``col_ptr`` ``(n_post + 1,)`` int64, ``col_slots`` ``(nnz,)`` int64 (CSR slot of each
        synapse in column order, ascending presynaptic neuron within a column) and ``col_pre``
        ``(nnz,)`` int32 (its presynaptic neuron).
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices)
    n_pre = indptr.shape[0] - 1
    col_slots = np.argsort(indices, kind="stable").astype(np.int64)
    counts = np.bincount(indices, minlength=n_post) if indices.size else np.zeros(n_post, int)
    col_ptr = np.zeros(n_post + 1, dtype=np.int64)
    np.cumsum(counts, out=col_ptr[1:])
    pre = np.repeat(np.arange(n_pre, dtype=np.int32), np.diff(indptr))
    return col_ptr, col_slots, np.ascontiguousarray(pre[col_slots])


def plastic_synapses(
    indptr: np.ndarray, indices: np.ndarray, n_post: int, plastic: np.ndarray | None = None
) -> PlasticSynapses:
    """:class:`PlasticSynapses` for CSR synapses; ``plastic`` ``(nnz,)`` bool (None: all)."""
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices, dtype=np.int32)
    nnz = indices.shape[0]
    flags = np.ones(nnz, bool) if plastic is None else np.asarray(plastic, dtype=bool)
    if flags.shape != (nnz,):
        raise ValueError(f"plastic must have shape (nnz,) = ({nnz},); got {flags.shape}")
    col_ptr, col_slots, col_pre = column_index(indptr, indices, n_post)
    return PlasticSynapses(
        indptr, indices, col_ptr, col_slots, col_pre, np.ascontiguousarray(flags)
    )


# ---------------------------------------------------------------------------------------------
# Scalar pieces, shared by the Numba and CUDA versions (the NumPy reference writes the same
# expressions over arrays)


def _ltd_scalar(w, x_post, a_minus, bound_mode, w_min):
    dw = -a_minus * x_post
    if bound_mode == 1:
        dw = dw * (w - w_min)
    return dw


def _ltp_scalar(w, x_pre, a_plus, bound_mode, w_max):
    dw = a_plus * x_pre
    if bound_mode == 1:
        dw = dw * (w_max - w)
    return dw


def _clip_scalar(w, w_min, w_max):
    return min(max(w, w_min), w_max)


def _jump_scalar(x, trace_mode):
    if trace_mode == 1:
        return 1.0
    return x + 1.0


_ltd_numba = njit(inline="always", cache=True)(_ltd_scalar)
_ltp_numba = njit(inline="always", cache=True)(_ltp_scalar)
_clip_numba = njit(inline="always", cache=True)(_clip_scalar)
_jump_numba = njit(inline="always", cache=True)(_jump_scalar)
_ltd_cuda = cuda.jit(device=True)(_ltd_scalar)
_ltp_cuda = cuda.jit(device=True)(_ltp_scalar)
_clip_cuda = cuda.jit(device=True)(_clip_scalar)
_jump_cuda = cuda.jit(device=True)(_jump_scalar)


# ---------------------------------------------------------------------------------------------
# NumPy reference


def row_slots(indptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """CSR slots of ``rows`` (ascending rows, ascending slots within a row), int64."""
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    if lengths.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return (np.arange(int(lengths.sum()), dtype=np.int64) + offsets).astype(np.int64)


def _apply_numpy(target, weights, slots, dw, rule):
    if rule.to_eligibility:
        target[slots] = target[slots] + dw
    else:
        new = np.asarray(weights[slots], dtype=np.float64) + dw
        weights[slots] = np.minimum(np.maximum(new, rule.w_min), rule.w_max)


def _pre_phase_numpy(syn, rule, state, pre_spiked):
    rows = np.flatnonzero(pre_spiked)
    if rows.size == 0:
        return
    if rule.trace_mode == TRACE_NEAREST:
        state.x_pre[rows] = 1.0
    else:
        state.x_pre[rows] = state.x_pre[rows] + 1.0
    slots = row_slots(syn.indptr, rows)
    slots = slots[syn.plastic[slots]]
    w = np.asarray(state.weights[slots], dtype=np.float64)
    dw = -float(rule.a_minus) * state.x_post[syn.indices[slots]]
    if rule.bound_mode == BOUND_MULTIPLICATIVE:
        dw = dw * (w - float(rule.w_min))
    _apply_numpy(state.eligibility, state.weights, slots, dw, rule)


def _post_phase_numpy(syn, rule, state, post_spiked):
    cols = np.flatnonzero(post_spiked)
    if cols.size == 0:
        return
    if rule.trace_mode == TRACE_NEAREST:
        state.x_post[cols] = 1.0
    else:
        state.x_post[cols] = state.x_post[cols] + 1.0
    pos = row_slots(syn.col_ptr, cols)
    slots = syn.col_slots[pos]
    keep = syn.plastic[slots]
    slots, pre = slots[keep], syn.col_pre[pos[keep]]
    w = np.asarray(state.weights[slots], dtype=np.float64)
    dw = float(rule.a_plus) * state.x_pre[pre]
    if rule.bound_mode == BOUND_MULTIPLICATIVE:
        dw = dw * (float(rule.w_max) - w)
    _apply_numpy(state.eligibility, state.weights, slots, dw, rule)


def stdp_step_numpy(
    syn: PlasticSynapses,
    rule: STDPRule,
    state: STDPState,
    pre_spiked: np.ndarray,
    post_spiked: np.ndarray,
) -> None:
    """One time step of STDP (decay, presynaptic events, postsynaptic events; the events the
    other way round with ``rule.post_first``), in place.

    Args:
        syn: the synapses (:func:`plastic_synapses`).
        rule: the rule's constants.
        state: traces, weights and eligibility; updated in place.
        pre_spiked: ``(n_pre,)`` bool, the presynaptic neurons that spiked this step.
        post_spiked: ``(n_post,)`` bool, the postsynaptic neurons that spiked this step.
    """
    state.x_pre[...] = state.x_pre * float(rule.decay_pre)
    state.x_post[...] = state.x_post * float(rule.decay_post)
    pre_spiked = np.asarray(pre_spiked, dtype=bool)
    post_spiked = np.asarray(post_spiked, dtype=bool)
    if rule.post_first:
        _post_phase_numpy(syn, rule, state, post_spiked)
        _pre_phase_numpy(syn, rule, state, pre_spiked)
    else:
        _pre_phase_numpy(syn, rule, state, pre_spiked)
        _post_phase_numpy(syn, rule, state, post_spiked)


def eligibility_apply_numpy(
    weights: np.ndarray,
    eligibility: np.ndarray,
    plastic: np.ndarray,
    gain: float,
    decay_e: float,
    w_min: float,
    w_max: float,
) -> None:
    """Move the plastic weights along their eligibility, then decay it, in place.

    ``w = clip(w + gain * c, w_min, w_max)``; ``c = c * decay_e`` (plastic synapses only).

    Args:
        weights: ``(nnz,)`` float32 or float64.
        eligibility: ``(nnz,)`` float64.
        plastic: ``(nnz,)`` bool.
        gain: ``lr * update_every * dt_ms * dopamine``.
        decay_e: ``exp(-update_every * dt_ms / tau_e_ms)``.
        w_min, w_max: weight bounds.
    """
    slots = np.flatnonzero(plastic)
    c = eligibility[slots]
    new = np.asarray(weights[slots], dtype=np.float64) + float(gain) * c
    weights[slots] = np.minimum(np.maximum(new, float(w_min)), float(w_max))
    eligibility[slots] = c * float(decay_e)


def _modulation_due(mod: Modulation, n: int) -> bool:
    return (mod.step0 + n) % mod.update_every == 0


def stdp_run_numpy(
    syn: PlasticSynapses,
    rule: STDPRule,
    state: STDPState,
    pre_raster: np.ndarray,
    post_raster: np.ndarray,
    mod: Modulation | None = None,
) -> None:
    """STDP over given spike trains: :func:`stdp_step_numpy` for each step, then (R-STDP,
    ``mod`` given) :func:`eligibility_apply_numpy` on the steps ``mod`` says.

    Args:
        pre_raster: ``(n_steps, n_pre)`` bool.
        post_raster: ``(n_steps, n_post)`` bool.
        mod: the third factor; None for plain STDP.
    """
    for n in range(pre_raster.shape[0]):
        stdp_step_numpy(syn, rule, state, pre_raster[n], post_raster[n])
        if mod is not None and _modulation_due(mod, n):
            eligibility_apply_numpy(
                state.weights, state.eligibility, syn.plastic, mod.gain[n], mod.decay_e,
                rule.w_min, rule.w_max,
            )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Numba CPU (serial: a step touches only the synapses of the neurons that spiked)


@njit(cache=True, error_model="numpy")
def _decay_numba(x, decay):
    for i in range(x.shape[0]):
        x[i] = x[i] * decay


@njit(inline="always", cache=True, error_model="numpy")
def _apply_numba(rule, state, s, w, dw, w_min, w_max):
    """Synapse ``s``'s change ``dw``: into its eligibility (R-STDP), or onto its weight ``w``,
    clipped to [w_min, w_max]."""
    if rule.to_eligibility:
        state.eligibility[s] = state.eligibility[s] + dw
    else:
        state.weights[s] = _clip_numba(w + dw, w_min, w_max)


@njit(cache=True, error_model="numpy")
def _pre_phase_numba(syn, rule, state, pre_spiked):
    w_min, w_max = np.float64(rule.w_min), np.float64(rule.w_max)
    for i in range(pre_spiked.shape[0]):
        if not pre_spiked[i]:
            continue
        state.x_pre[i] = _jump_numba(state.x_pre[i], rule.trace_mode)
        for s in range(syn.indptr[i], syn.indptr[i + 1]):
            if not syn.plastic[s]:
                continue
            w = np.float64(state.weights[s])
            dw = _ltd_numba(w, state.x_post[syn.indices[s]], rule.a_minus, rule.bound_mode, w_min)
            _apply_numba(rule, state, s, w, dw, w_min, w_max)


@njit(cache=True, error_model="numpy")
def _post_phase_numba(syn, rule, state, post_spiked):
    w_min, w_max = np.float64(rule.w_min), np.float64(rule.w_max)
    for j in range(post_spiked.shape[0]):
        if not post_spiked[j]:
            continue
        state.x_post[j] = _jump_numba(state.x_post[j], rule.trace_mode)
        for k in range(syn.col_ptr[j], syn.col_ptr[j + 1]):
            s = syn.col_slots[k]
            if not syn.plastic[s]:
                continue
            w = np.float64(state.weights[s])
            dw = _ltp_numba(w, state.x_pre[syn.col_pre[k]], rule.a_plus, rule.bound_mode, w_max)
            _apply_numba(rule, state, s, w, dw, w_min, w_max)


@njit(cache=True, error_model="numpy")
def stdp_step_numba(syn, rule, state, pre_spiked, post_spiked):
    """Numba version of :func:`stdp_step_numpy` (same bits)."""
    _decay_numba(state.x_pre, np.float64(rule.decay_pre))
    _decay_numba(state.x_post, np.float64(rule.decay_post))
    if rule.post_first:
        _post_phase_numba(syn, rule, state, post_spiked)
        _pre_phase_numba(syn, rule, state, pre_spiked)
    else:
        _pre_phase_numba(syn, rule, state, pre_spiked)
        _post_phase_numba(syn, rule, state, post_spiked)


@njit(cache=True, error_model="numpy")
def eligibility_apply_numba(weights, eligibility, plastic, gain, decay_e, w_min, w_max):
    """Numba version of :func:`eligibility_apply_numpy` (same bits)."""
    g, dec = np.float64(gain), np.float64(decay_e)
    lo, hi = np.float64(w_min), np.float64(w_max)
    for s in range(weights.shape[0]):
        if plastic[s]:
            c = eligibility[s]
            weights[s] = _clip_numba(np.float64(weights[s]) + g * c, lo, hi)
            eligibility[s] = c * dec


@njit(cache=True, error_model="numpy")
def _stdp_run_numba(syn, rule, state, pre_raster, post_raster, use_mod, mod):
    for n in range(pre_raster.shape[0]):
        stdp_step_numba(syn, rule, state, pre_raster[n], post_raster[n])
        if use_mod and (mod.step0 + n) % mod.update_every == 0:
            eligibility_apply_numba(
                state.weights, state.eligibility, syn.plastic, mod.gain[n], mod.decay_e,
                rule.w_min, rule.w_max,
            )  # fmt: skip


def _no_modulation(n_steps: int) -> Modulation:
    return Modulation(1, 1.0, np.zeros(n_steps), 0)


def stdp_run_numba(syn, rule, state, pre_raster, post_raster, mod=None) -> None:
    """Numba version of :func:`stdp_run_numpy` (same bits)."""
    use = mod is not None
    mod = mod if use else _no_modulation(pre_raster.shape[0])
    mod = Modulation(int(mod.update_every), float(mod.decay_e), mod.gain, int(mod.step0))
    _stdp_run_numba(
        syn, typed_rule(rule), state, np.ascontiguousarray(pre_raster, dtype=np.bool_),
        np.ascontiguousarray(post_raster, dtype=np.bool_), use, mod,
    )  # fmt: skip


def typed_rule(rule: STDPRule) -> STDPRule:
    """The rule with Python scalars of fixed types (one compiled specialisation)."""
    return STDPRule(
        float(rule.a_plus), float(rule.a_minus), float(rule.decay_pre), float(rule.decay_post),
        int(rule.trace_mode), int(rule.bound_mode), float(rule.w_min), float(rule.w_max),
        bool(rule.to_eligibility), bool(rule.post_first),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# CUDA: one thread per neuron for the trace decay, per spiking row (pre events) and per
# spiking column (post events); a synapse belongs to one row and one column, so no two
# threads write the same slot within a launch, and the launches run in the order above.


@cuda.jit
def _decay_kernel(x, decay):
    i = cuda.grid(1)
    if i < x.shape[0]:
        x[i] = x[i] * decay


@cuda.jit
def _pre_phase_kernel(
    indptr, indices, plastic, x_pre, x_post, weights, elig, pre_spiked,
    a_minus, trace_mode, bound_mode, w_min, w_max, to_elig,
):  # fmt: skip
    i = cuda.grid(1)
    if i >= pre_spiked.shape[0] or not pre_spiked[i]:
        return
    x_pre[i] = _jump_cuda(x_pre[i], trace_mode)
    for s in range(indptr[i], indptr[i + 1]):
        if plastic[s]:
            w = float(weights[s])
            dw = _ltd_cuda(w, x_post[indices[s]], a_minus, bound_mode, w_min)
            if to_elig:
                elig[s] = elig[s] + dw
            else:
                weights[s] = _clip_cuda(w + dw, w_min, w_max)


@cuda.jit
def _post_phase_kernel(
    col_ptr, col_slots, col_pre, plastic, x_pre, x_post, weights, elig, post_spiked,
    a_plus, trace_mode, bound_mode, w_min, w_max, to_elig,
):  # fmt: skip
    j = cuda.grid(1)
    if j >= post_spiked.shape[0] or not post_spiked[j]:
        return
    x_post[j] = _jump_cuda(x_post[j], trace_mode)
    for k in range(col_ptr[j], col_ptr[j + 1]):
        s = col_slots[k]
        if plastic[s]:
            w = float(weights[s])
            dw = _ltp_cuda(w, x_pre[col_pre[k]], a_plus, bound_mode, w_max)
            if to_elig:
                elig[s] = elig[s] + dw
            else:
                weights[s] = _clip_cuda(w + dw, w_min, w_max)


@cuda.jit
def _eligibility_kernel(weights, elig, plastic, gain, decay_e, w_min, w_max):
    s = cuda.grid(1)
    if s < weights.shape[0] and plastic[s]:
        c = elig[s]
        weights[s] = _clip_cuda(float(weights[s]) + gain * c, w_min, w_max)
        elig[s] = c * decay_e


def cuda_blocks(n: int) -> int:
    return max(1, (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK)


def stdp_launch_cuda(syn, rule, state, pre_spiked, post_spiked) -> None:
    """The launches of one step; every array already on the device."""
    tpb = THREADS_PER_BLOCK
    n_pre, n_post = array_length(state.x_pre), array_length(state.x_post)
    trace_mode, bound_mode = int(rule.trace_mode), int(rule.bound_mode)
    w_min, w_max, to_elig = float(rule.w_min), float(rule.w_max), bool(rule.to_eligibility)
    _decay_kernel[cuda_blocks(n_pre), tpb](state.x_pre, float(rule.decay_pre))
    _decay_kernel[cuda_blocks(n_post), tpb](state.x_post, float(rule.decay_post))
    post_first = bool(rule.post_first)
    if post_first:
        _post_launch_cuda(syn, rule, state, post_spiked, n_post)
    _pre_phase_kernel[cuda_blocks(n_pre), tpb](
        syn.indptr, syn.indices, syn.plastic, state.x_pre, state.x_post, state.weights,
        state.eligibility, pre_spiked, float(rule.a_minus), trace_mode, bound_mode, w_min,
        w_max, to_elig,
    )  # fmt: skip
    if not post_first:
        _post_launch_cuda(syn, rule, state, post_spiked, n_post)


def _post_launch_cuda(syn, rule, state, post_spiked, n_post) -> None:
    _post_phase_kernel[cuda_blocks(n_post), THREADS_PER_BLOCK](
        syn.col_ptr, syn.col_slots, syn.col_pre, syn.plastic, state.x_pre, state.x_post,
        state.weights, state.eligibility, post_spiked, float(rule.a_plus), int(rule.trace_mode),
        int(rule.bound_mode), float(rule.w_min), float(rule.w_max), bool(rule.to_eligibility),
    )  # fmt: skip


def eligibility_launch_cuda(weights, eligibility, plastic, gain, decay_e, w_min, w_max) -> None:
    _eligibility_kernel[cuda_blocks(array_length(weights)), THREADS_PER_BLOCK](
        weights, eligibility, plastic, float(gain), float(decay_e), float(w_min), float(w_max)
    )


def eligibility_placeholder(eligibility: np.ndarray) -> np.ndarray:
    """A (1,) placeholder for an unused (0,) eligibility (a device array must not be empty)."""
    return eligibility if eligibility.shape[0] else np.zeros(1)


def _to_device(syn: PlasticSynapses, state: STDPState):
    d_syn = PlasticSynapses(*(cuda.to_device(np.ascontiguousarray(a)) for a in syn))
    arrays = (state.x_pre, state.x_post, state.weights, eligibility_placeholder(state.eligibility))
    return d_syn, STDPState(*(cuda.to_device(a) for a in arrays))


def _from_device(d_state: STDPState, state: STDPState) -> None:
    state.x_pre[...] = d_state.x_pre.copy_to_host()
    state.x_post[...] = d_state.x_post.copy_to_host()
    state.weights[...] = d_state.weights.copy_to_host()
    if state.eligibility.shape[0]:
        state.eligibility[...] = d_state.eligibility.copy_to_host()


def stdp_step_cuda(syn, rule, state, pre_spiked, post_spiked) -> None:
    """CUDA version of :func:`stdp_step_numpy` on NumPy arrays (copied to the device and
    back)."""
    stdp_run_cuda(syn, rule, state, np.asarray(pre_spiked)[None], np.asarray(post_spiked)[None])


def eligibility_apply_cuda(weights, eligibility, plastic, gain, decay_e, w_min, w_max) -> None:
    """CUDA version of :func:`eligibility_apply_numpy`, one thread per synapse; arrays may be
    NumPy arrays (copied to the device and back) or device arrays."""
    if array_length(weights) == 0:
        return
    eligibility_launch_cuda(weights, eligibility, plastic, gain, decay_e, w_min, w_max)


def stdp_run_cuda(syn, rule, state, pre_raster, post_raster, mod=None) -> None:
    """CUDA version of :func:`stdp_run_numpy`: the synapses and state stay on the device for
    the whole run; the state is copied back at the end."""
    pre_raster = np.ascontiguousarray(pre_raster, dtype=np.bool_)
    post_raster = np.ascontiguousarray(post_raster, dtype=np.bool_)
    d_syn, d_state = _to_device(syn, state)
    for n in range(pre_raster.shape[0]):
        d_pre, d_post = cuda.to_device(pre_raster[n]), cuda.to_device(post_raster[n])
        stdp_launch_cuda(d_syn, rule, d_state, d_pre, d_post)
        if mod is not None and _modulation_due(mod, n) and syn.indices.shape[0]:
            eligibility_launch_cuda(
                d_state.weights, d_state.eligibility, d_syn.plastic, mod.gain[n], mod.decay_e,
                rule.w_min, rule.w_max,
            )  # fmt: skip
    _from_device(d_state, state)
