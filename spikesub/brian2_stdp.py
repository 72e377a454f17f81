"""STDP and reward-modulated STDP in Brian2, for cross-checking spikesub's kernels.

:func:`brian2_stdp` gives the same presynaptic and postsynaptic spike trains (two
``SpikeGeneratorGroup``s) to a Brian2 ``Synapses`` whose ``on_pre``/``on_post`` code is the
textbook trace form of :class:`~spikesub.models.network.plasticity.STDP`, and returns the
weights (and, for :class:`~spikesub.models.network.plasticity.RewardSTDP`, the eligibility
traces) at the end; :func:`spikesub_stdp` runs the same trains through spikesub's kernels
(:func:`spikesub.kernels.stdp.stdp_run_numpy` and its Numba and CUDA versions). The two
agree to float tolerance (Brian2 decays its traces exactly from the last event,
``exp(-(t - lastupdate) / tau)``; the kernels multiply by ``exp(-dt / tau)`` each step).

Brian2's model, per synapse (traces are per synapse in Brian2, per neuron in spikesub, which
is the same thing when every synapse sees its neurons' spikes)::

    dapre/dt = -apre / tau_plus   (event-driven)
    dapost/dt = -apost / tau_minus (event-driven)
    on_pre:  apre += 1  (or apre = 1);  w = clip(w - A_minus * apost [* (w - w_min)], ...)
    on_post: apost += 1 (or apost = 1); w = clip(w + A_plus * apre [* (w_max - w)], ...)

With R-STDP the changes go into ``c`` instead of ``w``, and a ``run_regularly`` operation
every ``update_every_ms`` (at the end of the step, so after that step's spikes, from t = 0)
does ``w = clip(w + gain(t) * c, w_min, w_max); c = c * decay_e``, ``gain`` being a
``TimedArray`` of ``lr * update_every_ms * (tonic_dopamine + dopamine[n])``. Brian2 runs
its ``on_pre`` pathway before ``on_post`` in a step, the kernels' order too.

Only the plastic synapses are given to Brian2 (the others cannot change). Brian2 runs in
its runtime mode with the ``numpy`` code generation target by default (no compilation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spikesub.brian2_reference import import_brian2
from spikesub.kernels.backends import resolve_backend
from spikesub.kernels.stdp import (
    Modulation,
    STDPState,
    plastic_synapses,
    stdp_run_cuda,
    stdp_run_numba,
    stdp_run_numpy,
)
from spikesub.models.network.connectivity import SparseWeights
from spikesub.models.network.plasticity import STDP, RewardSTDP

__all__ = ["STDPOutcome", "brian2_stdp", "spikesub_stdp"]

_RUNS = {"numpy": stdp_run_numpy, "numba": stdp_run_numba, "cuda": stdp_run_cuda}


@dataclass
class STDPOutcome:
    """Weights after a run over given spike trains.

    Attributes:
        weights: ``(nnz,)`` float64 weights by CSR slot.
        eligibility: ``(nnz,)`` float64 eligibility traces (R-STDP), else None.
    """

    weights: np.ndarray
    eligibility: np.ndarray | None


def _stdp_of(rule: STDP | RewardSTDP) -> STDP:
    if isinstance(rule, RewardSTDP):
        return rule.stdp
    if isinstance(rule, STDP):
        return rule
    raise TypeError(f"rule must be STDP or RewardSTDP; got {type(rule).__name__}")


def _rasters(weights: SparseWeights, pre_raster: Any, post_raster: Any):
    pre = np.asarray(pre_raster, dtype=bool)
    post = np.asarray(post_raster, dtype=bool)
    if pre.ndim != 2 or pre.shape[1] != weights.n_pre:
        raise ValueError(f"pre_raster must be (n_steps, n_pre={weights.n_pre}); got {pre.shape}")
    if post.shape != (pre.shape[0], weights.n_post):
        raise ValueError(
            f"post_raster must be (n_steps, n_post) = ({pre.shape[0]}, {weights.n_post}); "
            f"got {post.shape}"
        )
    return pre, post


def _gain(rule: STDP | RewardSTDP, dopamine: Any, n_steps: int, dt_ms: float) -> np.ndarray:
    """``(n_steps,)`` gain of the weight step after each step (R-STDP)."""
    level = np.zeros(n_steps) if dopamine is None else np.asarray(dopamine, dtype=np.float64)
    if level.shape != (n_steps,):
        raise ValueError(f"dopamine must have shape (n_steps,) = ({n_steps},); got {level.shape}")
    k = rule.update_every_steps(dt_ms)
    return rule.lr * k * dt_ms * (rule.tonic_dopamine + level)


def _flags(plastic: Any, nnz: int) -> np.ndarray:
    return np.ones(nnz, bool) if plastic is None else np.asarray(plastic, dtype=bool)


def spikesub_stdp(
    weights: SparseWeights,
    rule: STDP | RewardSTDP,
    pre_raster: Any,
    post_raster: Any,
    *,
    dt_ms: float = 1.0,
    dopamine: Any = None,
    plastic: Any = None,
    backend: str = "numpy",
) -> STDPOutcome:
    """spikesub's kernels over given spike trains.

    Args:
        weights: the synapses and their initial weights (``W[post, pre]`` convention).
        rule: :class:`STDP` or :class:`RewardSTDP`.
        pre_raster: ``(n_steps, n_pre)`` bool, presynaptic spikes per step.
        post_raster: ``(n_steps, n_post)`` bool, postsynaptic spikes per step.
        dt_ms: the step (ms).
        dopamine: ``(n_steps,)`` phasic dopamine level per step (R-STDP; None: zero).
        plastic: ``(nnz,)`` bool, the synapses that learn (None: all).
        backend: ``"numpy"``, ``"numba"`` or ``"cuda"``.
    """
    pre, post = _rasters(weights, pre_raster, post_raster)
    stdp = _stdp_of(rule)
    reward_mod = isinstance(rule, RewardSTDP)
    syn = plastic_synapses(
        weights.indptr, weights.indices, weights.n_post, _flags(plastic, weights.nnz)
    )
    state = STDPState(
        np.zeros(weights.n_pre), np.zeros(weights.n_post),
        np.array(weights.weights, dtype=np.float64),
        np.zeros(weights.nnz if reward_mod else 0),
    )  # fmt: skip
    mod = None
    if reward_mod:
        k = rule.update_every_steps(dt_ms)
        decay_e = float(np.exp(-k * dt_ms / rule.tau_e_ms))
        mod = Modulation(k, decay_e, _gain(rule, dopamine, pre.shape[0], dt_ms), 0)
    run = _RUNS[resolve_backend(backend)]
    run(syn, stdp.kernel_rule(dt_ms, to_eligibility=reward_mod), state, pre, post, mod)
    return STDPOutcome(state.weights, state.eligibility if reward_mod else None)


def _model(stdp: STDP, reward_mod: bool) -> tuple[str, str, str]:
    """Brian2's ``model``, ``on_pre`` and ``on_post`` code."""
    target = "c" if reward_mod else "w"
    jump = "= 1" if stdp.trace == "nearest" else "+= 1"
    ltd = "-A_minus * apost"
    ltp = "A_plus * apre"
    if stdp.bounds == "multiplicative":
        ltd += " * (w - w_min)"
        ltp += " * (w_max - w)"
    if reward_mod:
        pre_change, post_change = f"c += {ltd}", f"c += {ltp}"
    else:
        pre_change = f"w = clip(w + {ltd}, w_min, w_max)"
        post_change = f"w = clip(w + {ltp}, w_min, w_max)"
    model = "\n".join(
        [
            "w : 1",
            *(["c : 1"] if target == "c" else []),
            "dapre/dt = -apre / tau_plus : 1 (event-driven)",
            "dapost/dt = -apost / tau_minus : 1 (event-driven)",
        ]
    )
    return model, f"apre {jump}\n{pre_change}", f"apost {jump}\n{post_change}"


def _generator(b2: Any, raster: np.ndarray, dt: Any, name: str) -> Any:
    steps, neurons = np.nonzero(raster)
    return b2.SpikeGeneratorGroup(
        raster.shape[1], neurons.astype(int), steps * dt, dt=dt, name=name
    )


def brian2_stdp(
    weights: SparseWeights,
    rule: STDP | RewardSTDP,
    pre_raster: Any,
    post_raster: Any,
    *,
    dt_ms: float = 1.0,
    dopamine: Any = None,
    plastic: Any = None,
    target: str = "numpy",
) -> STDPOutcome:
    """The same as :func:`spikesub_stdp`, simulated by Brian2 (runtime mode, ``target`` code
    generation: ``"numpy"`` or ``"cython"``)."""
    b2 = import_brian2()
    pre, post = _rasters(weights, pre_raster, post_raster)
    stdp = _stdp_of(rule)
    reward_mod = isinstance(rule, RewardSTDP)
    flags = _flags(plastic, weights.nnz)
    pre_idx, post_idx = weights.pre_post()
    out_w = np.array(weights.weights, dtype=np.float64)
    out_c = np.zeros(weights.nnz) if reward_mod else None
    slots = np.flatnonzero(flags)
    if slots.size == 0:
        return STDPOutcome(out_w, out_c)
    dt = dt_ms * b2.ms
    namespace = {
        "A_plus": stdp.a_plus, "A_minus": stdp.a_minus, "w_min": stdp.w_min,
        "w_max": stdp.w_max, "tau_plus": stdp.tau_plus_ms * b2.ms,
        "tau_minus": stdp.tau_minus_ms * b2.ms,
    }  # fmt: skip
    if reward_mod:
        k = rule.update_every_steps(dt_ms)
        namespace["decay_e"] = float(np.exp(-k * dt_ms / rule.tau_e_ms))
        namespace["gain"] = b2.TimedArray(_gain(rule, dopamine, pre.shape[0], dt_ms), dt=dt)
    old_target = b2.prefs.codegen.target
    b2.prefs.codegen.target = target
    try:
        g_pre = _generator(b2, pre, dt, "stdp_pre")
        g_post = _generator(b2, post, dt, "stdp_post")
        model, on_pre, on_post = _model(stdp, reward_mod)
        syn = b2.Synapses(
            g_pre, g_post, model=model, on_pre=on_pre, on_post=on_post, dt=dt,
            namespace=namespace, name="stdp_synapses",
        )  # fmt: skip
        syn.connect(i=pre_idx[slots].astype(int), j=post_idx[slots].astype(int))
        syn.w = out_w[slots]
        if reward_mod:
            syn.run_regularly(
                "w = clip(w + gain(t) * c, w_min, w_max)\nc = c * decay_e",
                dt=k * dt, when="end",
            )  # fmt: skip
        net = b2.Network(g_pre, g_post, syn)
        net.run(pre.shape[0] * dt, namespace={})
        out_w[slots] = np.asarray(syn.w[:], dtype=np.float64)
        if reward_mod:
            out_c[slots] = np.asarray(syn.c[:], dtype=np.float64)
    finally:
        b2.prefs.codegen.target = old_target
    return STDPOutcome(out_w, out_c)
