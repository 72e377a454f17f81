"""A network of Izhikevich (2003) neurons whose recurrent synapses learn by STDP or R-STDP.

The loop runs ``n_steps`` steps of ``dt_ms`` over CSR synapses (by presynaptic row, dense
convention ``W[post, pre]``); the synapses are delta synapses with a delay of one step: a
spike in step ``n`` adds its weight to the target's input current of step ``n + 1``. One
step ``n`` (global step ``g = step0 + n``, neuron ``i``):

1. input: ``I_i = (bias_i + noise_i) + syn_in_i`` with ``noise_i = amp_i * (2 U - 1)``,
   ``U`` uniform in [0, 1) from the counter-based generator of
   :mod:`spikesub.kernels.rng` (``seed``, stream 0, counter ``g``, index ``i``): the same
   draws on every backend and whatever the length of the calls;
2. neuron: one step of the 2003 model (:func:`~spikesub.kernels.izhikevich.izhikevich2003_scalar`,
   ``n_substeps`` Euler sub-steps of ``v``); a non-finite ``v`` or ``u`` stops the run (its
   step and neuron are reported);
3. spike and reset: ``v >= v_peak`` spikes (recorded in the step's raster row), then
   ``v = c``, ``u += d``;
4. delivery: ``syn_in`` is cleared and every spiking neuron adds the weights of its row
   (ascending presynaptic neuron; the weights as they were before this step's plasticity);
5. plasticity: one step of :func:`~spikesub.kernels.stdp.stdp_step_numpy` with the step's
   spikes as both the presynaptic and the postsynaptic spikes (its own order: trace decay,
   presynaptic events, postsynaptic events, or the events the other way round with the
   rule's ``post_first``);
6. dopamine: ``level = level * decay + reward[n]`` (``reward`` in units of dopamine per step,
   ``decay = exp(-dt_ms / tau_dopamine_ms)``); the step's ``level`` is recorded; with R-STDP,
   when ``g % update_every == 0``,
   :func:`~spikesub.kernels.stdp.eligibility_apply_numpy` moves the plastic weights with
   ``gain = gain_per_dopamine * (tonic + level)``.

Arithmetic is float64 (``v``, ``u``, traces, eligibility, input); weights are float32 or
float64. Every sum has one order on every backend (the CUDA delivery gathers each target's
input over its column, which is the same ascending-presynaptic order), so the Numba and
CUDA-simulator versions are bit-identical to the NumPy reference (on a real GPU, to float
tolerance: the compiler may fuse multiplies and adds).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

import spikesub.kernels.threads  # noqa: F401 - loads TBB before Numba's pool starts
from spikesub.kernels.izhikevich import (
    izhikevich2003_scalar,
    izhikevich2003_scalar_cuda,
    izhikevich2003_scalar_numba,
)
from spikesub.kernels.launch import THREADS_PER_BLOCK
from spikesub.kernels.lazy_cuda import cuda
from spikesub.kernels.rng import (
    key_cuda,
    key_numba,
    uniform_from_key_cuda,
    uniform_from_key_numba,
    uniform_numpy,
)
from spikesub.kernels.stdp import (
    PlasticSynapses,
    STDPRule,
    STDPState,
    cuda_blocks,
    eligibility_apply_numba,
    eligibility_apply_numpy,
    eligibility_launch_cuda,
    eligibility_placeholder,
    row_slots,
    stdp_launch_cuda,
    stdp_step_numba,
    stdp_step_numpy,
    typed_rule,
)

__all__ = [
    "Dopamine",
    "Neurons2003",
    "NoiseDrive",
    "plastic_run_cuda",
    "plastic_run_numba",
    "plastic_run_numpy",
]


class Neurons2003(NamedTuple):
    """Izhikevich (2003) neurons: ``(N,)`` float64 parameters."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray  # reset potential, mV
    d: np.ndarray  # reset increment of u
    v_peak: float  # mV
    n_substeps: int  # Euler sub-steps of v per step
    dt_ms: float


class NoiseDrive(NamedTuple):
    """External input: a constant bias and uniform noise redrawn every step."""

    bias: np.ndarray  # (N,) float64
    noise_amp: np.ndarray  # (N,) float64: noise uniform in [-amp, amp)
    seed: int  # of the counter-based generator (uint64 range)


class Dopamine(NamedTuple):
    """The global third factor (used only when the rule has ``to_eligibility``)."""

    decay: float  # exp(-dt_ms / tau_dopamine_ms)
    tonic: float  # added to the phasic level when the weights move
    gain_per_dopamine: float  # lr * update_every * dt_ms
    update_every: int  # steps between weight updates
    decay_e: float  # exp(-update_every * dt_ms / tau_e_ms)


# ---------------------------------------------------------------------------------------------
# NumPy reference


def _first_bad(v: np.ndarray, u: np.ndarray) -> int:
    bad = ~(np.isfinite(v) & np.isfinite(u))
    return int(np.argmax(bad)) if bad.any() else -1


def plastic_run_numpy(
    neurons: Neurons2003,
    drive: NoiseDrive,
    syn: PlasticSynapses,
    rule: STDPRule,
    dopa: Dopamine,
    v: np.ndarray,
    u: np.ndarray,
    syn_in: np.ndarray,
    stdp: STDPState,
    level: np.ndarray,
    reward: np.ndarray,
    step0: int,
    raster: np.ndarray,
    level_out: np.ndarray,
) -> tuple[int, int]:
    """Run ``n_steps = reward.shape[0]`` steps in place (see the module's docstring).

    Args:
        neurons, drive, syn, rule, dopa: the network's constants.
        v, u: ``(N,)`` float64 state (mV and the recovery variable).
        syn_in: ``(N,)`` float64, the input the previous step's spikes deliver.
        stdp: traces ``(N,)``, weights ``(nnz,)`` and eligibility ``(nnz,)`` or ``(0,)``.
        level: ``(1,)`` float64 phasic dopamine level.
        reward: ``(n_steps,)`` float64 dopamine added in each step.
        step0: global index of the first step.
        raster: ``(n_steps, N)`` bool output, the spikes of each step.
        level_out: ``(n_steps,)`` float64 output, the dopamine level after each step.

    Returns:
        ``(step, neuron)`` of the first non-finite state (global step), or ``(-1, -1)``.
    """
    n = v.shape[0]
    index = np.arange(n)
    for k in range(reward.shape[0]):
        g = step0 + k
        noise = drive.noise_amp * (2.0 * uniform_numpy(drive.seed, 0, g, index) - 1.0)
        current = (drive.bias + noise) + syn_in
        v[...], u[...] = izhikevich2003_scalar(
            v, u, current, neurons.a, neurons.b, neurons.dt_ms, neurons.n_substeps
        )
        bad = _first_bad(v, u)
        if bad >= 0:
            return g, bad
        spiked = v >= neurons.v_peak
        raster[k] = spiked
        v[spiked] = neurons.c[spiked]
        u[spiked] = u[spiked] + neurons.d[spiked]
        slots = row_slots(syn.indptr, np.flatnonzero(spiked))
        syn_in[...] = 0.0
        np.add.at(syn_in, syn.indices[slots], np.asarray(stdp.weights[slots], np.float64))
        stdp_step_numpy(syn, rule, stdp, spiked, spiked)
        level[0] = level[0] * dopa.decay + reward[k]
        level_out[k] = level[0]
        if rule.to_eligibility and g % dopa.update_every == 0:
            eligibility_apply_numpy(
                stdp.weights, stdp.eligibility, syn.plastic,
                dopa.gain_per_dopamine * (dopa.tonic + level[0]), dopa.decay_e,
                rule.w_min, rule.w_max,
            )  # fmt: skip
    return -1, -1


# ---------------------------------------------------------------------------------------------
# Numba CPU (serial: at N ~ 1000 a step costs microseconds, less than waking threads)


@njit(cache=True, error_model="numpy")
def _run_numba(
    neurons, drive, syn, rule, dopa, v, u, syn_in, stdp, level, reward, step0, raster, level_out,
    spiked,
):  # fmt: skip
    n = v.shape[0]
    seed = np.uint64(drive.seed)
    for k in range(reward.shape[0]):
        g = step0 + k
        key = key_numba(seed, np.uint64(0), np.uint64(g))
        for i in range(n):
            noise = drive.noise_amp[i] * (2.0 * uniform_from_key_numba(key, np.uint64(i)) - 1.0)
            current = (drive.bias[i] + noise) + syn_in[i]
            vi, ui = izhikevich2003_scalar_numba(
                v[i], u[i], current, neurons.a[i], neurons.b[i], neurons.dt_ms,
                neurons.n_substeps,
            )  # fmt: skip
            v[i] = vi
            u[i] = ui
        for i in range(n):
            if not (np.isfinite(v[i]) and np.isfinite(u[i])):
                return g, i
        for i in range(n):
            s = v[i] >= neurons.v_peak
            spiked[i] = s
            raster[k, i] = s
            if s:
                v[i] = neurons.c[i]
                u[i] = u[i] + neurons.d[i]
        syn_in[:] = 0.0
        for i in range(n):
            if spiked[i]:
                for s in range(syn.indptr[i], syn.indptr[i + 1]):
                    syn_in[syn.indices[s]] += np.float64(stdp.weights[s])
        stdp_step_numba(syn, rule, stdp, spiked, spiked)
        level[0] = level[0] * dopa.decay + reward[k]
        level_out[k] = level[0]
        if rule.to_eligibility and g % dopa.update_every == 0:
            eligibility_apply_numba(
                stdp.weights, stdp.eligibility, syn.plastic,
                dopa.gain_per_dopamine * (dopa.tonic + level[0]), dopa.decay_e,
                rule.w_min, rule.w_max,
            )  # fmt: skip
    return -1, -1


def _typed(neurons: Neurons2003, drive: NoiseDrive, dopa: Dopamine):
    """The groups with Python scalars of fixed types (one compiled specialisation)."""
    neurons = neurons._replace(
        v_peak=float(neurons.v_peak), n_substeps=int(neurons.n_substeps),
        dt_ms=float(neurons.dt_ms),
    )  # fmt: skip
    drive = drive._replace(seed=int(drive.seed))
    dopa = Dopamine(
        float(dopa.decay), float(dopa.tonic), float(dopa.gain_per_dopamine),
        int(dopa.update_every), float(dopa.decay_e),
    )  # fmt: skip
    return neurons, drive, dopa


def plastic_run_numba(
    neurons, drive, syn, rule, dopa, v, u, syn_in, stdp, level, reward, step0, raster, level_out
) -> tuple[int, int]:
    """Numba version of :func:`plastic_run_numpy` (same bits)."""
    neurons, drive, dopa = _typed(neurons, drive, dopa)
    spiked = np.zeros(v.shape[0], dtype=np.bool_)
    step, neuron = _run_numba(
        neurons, drive, syn, typed_rule(rule), dopa, v, u, syn_in, stdp, level,
        np.ascontiguousarray(reward, dtype=np.float64), int(step0), raster, level_out, spiked,
    )  # fmt: skip
    return int(step), int(neuron)


# ---------------------------------------------------------------------------------------------
# CUDA: one launch for the neurons, one for the delivery (a gather over each target's column),
# the STDP launches of :mod:`spikesub.kernels.stdp`, and the eligibility launch when due.


@cuda.jit
def _neuron_kernel(
    v, u, syn_in, a, b, c, d, v_peak, n_substeps, dt_ms, bias, noise_amp, seed, g, k,
    spiked, raster, bad_at,
):  # fmt: skip
    i = cuda.grid(1)
    if i >= v.shape[0]:
        return
    key = key_cuda(seed, np.uint64(0), np.uint64(g))
    noise = noise_amp[i] * (2.0 * uniform_from_key_cuda(key, np.uint64(i)) - 1.0)
    current = (bias[i] + noise) + syn_in[i]
    vi, ui = izhikevich2003_scalar_cuda(v[i], u[i], current, a[i], b[i], dt_ms, n_substeps)
    if not (math.isfinite(vi) and math.isfinite(ui)):
        if bad_at[i] < 0:
            bad_at[i] = g
        v[i] = vi
        u[i] = ui
        spiked[i] = False
        return
    s = vi >= v_peak
    spiked[i] = s
    raster[k, i] = s
    if s:
        vi = c[i]
        ui = ui + d[i]
    v[i] = vi
    u[i] = ui


@cuda.jit
def _deliver_kernel(col_ptr, col_slots, col_pre, weights, spiked, syn_in):
    j = cuda.grid(1)
    if j >= syn_in.shape[0]:
        return
    acc = 0.0
    for k in range(col_ptr[j], col_ptr[j + 1]):
        if spiked[col_pre[k]]:
            acc += float(weights[col_slots[k]])
    syn_in[j] = acc


def plastic_run_cuda(
    neurons, drive, syn, rule, dopa, v, u, syn_in, stdp, level, reward, step0, raster, level_out
) -> tuple[int, int]:
    """CUDA version of :func:`plastic_run_numpy` on NumPy arrays: everything is copied to the
    device once, the steps run there (the dopamine level, a scalar, is stepped on the host in
    the same float64 operations), and the state is copied back at the end. A non-finite
    neuron keeps running (as NaN) to the end of the call; the step reported is its first."""
    n = v.shape[0]
    tpb, nb = THREADS_PER_BLOCK, cuda_blocks(n)
    dev = cuda.to_device
    d_v, d_u, d_in = dev(v), dev(u), dev(syn_in)
    d_params = [dev(np.ascontiguousarray(x)) for x in (neurons.a, neurons.b, neurons.c, neurons.d)]
    d_bias, d_amp = dev(drive.bias), dev(drive.noise_amp)
    d_syn = PlasticSynapses(*(dev(np.ascontiguousarray(x)) for x in syn))
    elig = eligibility_placeholder(stdp.eligibility)
    d_stdp = STDPState(dev(stdp.x_pre), dev(stdp.x_post), dev(stdp.weights), dev(elig))
    d_spiked = cuda.device_array(n, dtype=np.bool_)
    d_raster = dev(np.zeros(raster.shape, dtype=np.bool_))
    d_bad = dev(np.full(n, -1, dtype=np.int64))
    seed = np.uint64(drive.seed)
    lev = float(level[0])
    for k in range(reward.shape[0]):
        g = int(step0) + k
        _neuron_kernel[nb, tpb](
            d_v, d_u, d_in, *d_params, float(neurons.v_peak), int(neurons.n_substeps),
            float(neurons.dt_ms), d_bias, d_amp, seed, np.int64(g), k, d_spiked, d_raster, d_bad,
        )  # fmt: skip
        _deliver_kernel[nb, tpb](
            d_syn.col_ptr, d_syn.col_slots, d_syn.col_pre, d_stdp.weights, d_spiked, d_in
        )
        stdp_launch_cuda(d_syn, rule, d_stdp, d_spiked, d_spiked)
        lev = lev * float(dopa.decay) + float(reward[k])
        level_out[k] = lev
        if rule.to_eligibility and g % int(dopa.update_every) == 0 and syn.indices.shape[0]:
            gain = float(dopa.gain_per_dopamine) * (float(dopa.tonic) + lev)
            eligibility_launch_cuda(
                d_stdp.weights, d_stdp.eligibility, d_syn.plastic, gain, dopa.decay_e,
                rule.w_min, rule.w_max,
            )  # fmt: skip
    level[0] = lev
    v[...], u[...], syn_in[...] = d_v.copy_to_host(), d_u.copy_to_host(), d_in.copy_to_host()
    raster[...] = d_raster.copy_to_host()
    stdp.x_pre[...] = d_stdp.x_pre.copy_to_host()
    stdp.x_post[...] = d_stdp.x_post.copy_to_host()
    stdp.weights[...] = d_stdp.weights.copy_to_host()
    if stdp.eligibility.shape[0]:
        stdp.eligibility[...] = d_stdp.eligibility.copy_to_host()
    bad_at = d_bad.copy_to_host()
    if (bad_at >= 0).any():
        step = int(bad_at[bad_at >= 0].min())
        return step, int(np.flatnonzero(bad_at == step)[0])
    return -1, -1
