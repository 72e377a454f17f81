"""STDP kernels: hand-computed weight changes, bounds, eligibility, and the backends agreeing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikesub.kernels.stdp import (
    BOUND_ADDITIVE,
    BOUND_MULTIPLICATIVE,
    TRACE_ADDITIVE,
    TRACE_NEAREST,
    Modulation,
    STDPRule,
    STDPState,
    column_index,
    eligibility_apply_numba,
    eligibility_apply_numpy,
    plastic_synapses,
    stdp_run_cuda,
    stdp_run_numba,
    stdp_run_numpy,
    stdp_step_numba,
    stdp_step_numpy,
)

DT = 1.0
TAU_PLUS, TAU_MINUS = 20.0, 30.0
RUNS = {"numpy": stdp_run_numpy, "numba": stdp_run_numba, "cuda": stdp_run_cuda}


def _rule(
    bound=BOUND_ADDITIVE, trace=TRACE_ADDITIVE, elig=False, w_min=0.0, w_max=1.0, post_first=False
):
    return STDPRule(
        0.01, 0.012, math.exp(-DT / TAU_PLUS), math.exp(-DT / TAU_MINUS), trace, bound,
        w_min, w_max, elig, post_first,
    )  # fmt: skip


def _one_synapse(w0=0.5, elig=False):
    syn = plastic_synapses(np.array([0, 1]), np.array([0], np.int32), 1)
    state = STDPState(np.zeros(1), np.zeros(1), np.array([w0]), np.zeros(1 if elig else 0))
    return syn, state


def _raster(n_steps, steps):
    r = np.zeros((n_steps, 1), bool)
    r[list(steps), 0] = True
    return r


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_pre_then_post_potentiates_by_a_plus_exp(backend):
    syn, state = _one_synapse()
    RUNS[backend](syn, _rule(), state, _raster(20, [3]), _raster(20, [10]))
    assert state.weights[0] == pytest.approx(0.5 + 0.01 * math.exp(-7.0 / TAU_PLUS), rel=1e-14)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_post_then_pre_depresses_by_a_minus_exp(backend):
    syn, state = _one_synapse()
    RUNS[backend](syn, _rule(), state, _raster(20, [12]), _raster(20, [4]))
    assert state.weights[0] == pytest.approx(0.5 - 0.012 * math.exp(-8.0 / TAU_MINUS), rel=1e-14)


def test_same_step_counts_as_pre_before_post():
    syn, state = _one_synapse()
    stdp_run_numpy(syn, _rule(), state, _raster(3, [1]), _raster(3, [1]))
    assert state.weights[0] == pytest.approx(0.5 + 0.01)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_post_first_counts_the_same_step_as_post_before_pre(backend):
    syn, state = _one_synapse()
    RUNS[backend](syn, _rule(post_first=True), state, _raster(3, [1]), _raster(3, [1]))
    assert state.weights[0] == pytest.approx(0.5 - 0.012)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("lag", [1, 2, 7])
def test_post_first_windows(backend, lag):
    """Pre ``lag`` steps before post: ``+a_plus d**lag``; post ``lag`` before pre: ``-a_minus
    d**lag`` (as with the default order, which differs only in the same step)."""
    rule = _rule(post_first=True)
    syn, up = _one_synapse()
    RUNS[backend](syn, rule, up, _raster(20, [3]), _raster(20, [3 + lag]))
    assert up.weights[0] == pytest.approx(0.5 + 0.01 * math.exp(-lag / TAU_PLUS), rel=1e-14)
    syn, down = _one_synapse()
    RUNS[backend](syn, rule, down, _raster(20, [3 + lag]), _raster(20, [3]))
    assert down.weights[0] == pytest.approx(0.5 - 0.012 * math.exp(-lag / TAU_MINUS), rel=1e-14)


def test_additive_traces_sum_and_nearest_traces_restart():
    syn, add = _one_synapse()
    stdp_run_numpy(syn, _rule(trace=TRACE_ADDITIVE), add, _raster(10, [2, 5]), _raster(10, [8]))
    syn, near = _one_synapse()
    stdp_run_numpy(syn, _rule(trace=TRACE_NEAREST), near, _raster(10, [2, 5]), _raster(10, [8]))
    d = math.exp(-1.0 / TAU_PLUS)
    assert add.weights[0] == pytest.approx(0.5 + 0.01 * (d**6 + d**3), rel=1e-14)
    assert near.weights[0] == pytest.approx(0.5 + 0.01 * d**3, rel=1e-14)
    assert add.x_pre[0] == pytest.approx(d**7 + d**4, rel=1e-14)


def test_additive_bounds_clip():
    syn, state = _one_synapse(w0=0.995)
    stdp_run_numpy(syn, _rule(), state, _raster(5, [1]), _raster(5, [2]))
    assert state.weights[0] == 1.0
    syn, state = _one_synapse(w0=0.005)
    stdp_run_numpy(syn, _rule(), state, _raster(5, [2]), _raster(5, [1]))
    assert state.weights[0] == 0.0


def test_multiplicative_bounds_scale_by_distance_to_bound():
    rule = _rule(bound=BOUND_MULTIPLICATIVE, w_min=0.1, w_max=2.0)
    syn, up = _one_synapse(w0=0.5)
    stdp_run_numpy(syn, rule, up, _raster(10, [1]), _raster(10, [4]))
    assert up.weights[0] == pytest.approx(0.5 + 0.01 * math.exp(-3 / TAU_PLUS) * 1.5, rel=1e-14)
    syn, down = _one_synapse(w0=0.5)
    stdp_run_numpy(syn, rule, down, _raster(10, [4]), _raster(10, [1]))
    expected = 0.5 - 0.012 * math.exp(-3 / TAU_MINUS) * 0.4
    assert down.weights[0] == pytest.approx(expected, rel=1e-14)


def test_eligibility_collects_the_change_and_decays():
    rule = _rule(elig=True)
    syn, state = _one_synapse(elig=True)
    stdp_run_numpy(syn, rule, state, _raster(10, [1]), _raster(10, [4]))
    c0 = 0.01 * math.exp(-3 / TAU_PLUS)
    assert state.weights[0] == 0.5 and state.eligibility[0] == pytest.approx(c0, rel=1e-14)
    eligibility_apply_numpy(state.weights, state.eligibility, syn.plastic, 2.0, 0.9, 0.0, 1.0)
    assert state.weights[0] == pytest.approx(0.5 + 2.0 * c0, rel=1e-14)
    assert state.eligibility[0] == pytest.approx(0.9 * c0, rel=1e-14)


def test_modulated_run_applies_gain_on_schedule():
    rule = _rule(elig=True)
    syn, state = _one_synapse(elig=True)
    gain = np.full(10, 3.0)
    mod = Modulation(update_every=5, decay_e=0.5, gain=gain, step0=0)
    stdp_run_numpy(syn, rule, state, _raster(10, [1]), _raster(10, [2]), mod)
    c = 0.01 * math.exp(-1 / TAU_PLUS)
    # updates after steps 0 (c = 0) and 5 (c, then halved)
    assert state.weights[0] == pytest.approx(0.5 + 3.0 * c, rel=1e-14)
    assert state.eligibility[0] == pytest.approx(0.5 * c, rel=1e-14)


def test_non_plastic_synapses_do_not_change():
    syn = plastic_synapses(np.array([0, 2]), np.array([0, 1], np.int32), 2, np.array([True, False]))
    state = STDPState(np.zeros(1), np.zeros(2), np.array([0.5, 0.5]), np.zeros(0))
    post = np.zeros((6, 2), bool)
    post[3] = True
    stdp_run_numpy(syn, _rule(), state, _raster(6, [1]), post)
    assert state.weights[0] > 0.5 and state.weights[1] == 0.5


def test_column_index_is_a_permutation_in_column_order():
    indptr = np.array([0, 2, 3, 5])
    indices = np.array([1, 3, 0, 1, 3], np.int32)
    col_ptr, col_slots, col_pre = column_index(indptr, indices, 4)
    assert col_ptr.tolist() == [0, 1, 3, 3, 5]
    assert col_slots.tolist() == [2, 0, 3, 1, 4]
    assert col_pre.tolist() == [1, 0, 2, 0, 2]


def _random_case(seed, n_pre=13, n_post=11, p=0.4, dtype=np.float64, elig=False, n_steps=60):
    rng = np.random.default_rng(seed)
    dense = rng.random((n_pre, n_post)) < p
    indptr = np.concatenate([[0], np.cumsum(dense.sum(1))])
    indices = np.nonzero(dense)[1].astype(np.int32)
    nnz = indices.shape[0]
    syn = plastic_synapses(indptr, indices, n_post, rng.random(nnz) < 0.8)
    state = STDPState(
        rng.random(n_pre), rng.random(n_post), rng.uniform(0.2, 0.8, nnz).astype(dtype),
        np.zeros(nnz if elig else 0),
    )  # fmt: skip
    pre = rng.random((n_steps, n_pre)) < 0.15
    post = rng.random((n_steps, n_post)) < 0.15
    mod = Modulation(3, 0.97, rng.normal(0.0, 0.5, n_steps), 1) if elig else None
    return syn, state, pre, post, mod


def _copy(state):
    return STDPState(*(a.copy() for a in state))


CASES = [
    (BOUND_ADDITIVE, TRACE_ADDITIVE, False, np.float64),
    (BOUND_MULTIPLICATIVE, TRACE_NEAREST, False, np.float32),
    (BOUND_MULTIPLICATIVE, TRACE_ADDITIVE, True, np.float64),
]
POST_FIRST = [(BOUND_ADDITIVE, TRACE_NEAREST, True, np.float64, True)]


@pytest.mark.parametrize(
    ("bound", "trace", "elig", "dtype", "post_first"),
    [(*case, False) for case in CASES] + POST_FIRST,
)
@pytest.mark.parametrize("backend", ["numba", "cuda"])
def test_backends_equal_numpy_bit_for_bit(backend, bound, trace, elig, dtype, post_first):
    n_steps = 60 if backend == "numba" else 12
    syn, state, pre, post, mod = _random_case(5, dtype=dtype, elig=elig, n_steps=n_steps)
    rule = _rule(bound=bound, trace=trace, elig=elig, w_min=0.0, w_max=1.0, post_first=post_first)
    ref, got = _copy(state), _copy(state)
    stdp_run_numpy(syn, rule, ref, pre, post, mod)
    RUNS[backend](syn, rule, got, pre, post, mod)
    for a, b in zip(ref, got, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(ref.weights, state.weights)


def test_step_functions_match_between_numpy_and_numba():
    syn, state, pre, post, _ = _random_case(9, elig=True)
    rule = _rule(elig=True)
    ref, got = _copy(state), _copy(state)
    for n in range(pre.shape[0]):
        stdp_step_numpy(syn, rule, ref, pre[n], post[n])
        stdp_step_numba(syn, rule, got, pre[n], post[n])
    eligibility_apply_numpy(ref.weights, ref.eligibility, syn.plastic, 0.7, 0.9, 0.0, 1.0)
    eligibility_apply_numba(got.weights, got.eligibility, syn.plastic, 0.7, 0.9, 0.0, 1.0)
    for a, b in zip(ref, got, strict=True):
        np.testing.assert_array_equal(a, b)


def test_plastic_flags_must_match_the_synapses():
    with pytest.raises(ValueError, match="plastic"):
        plastic_synapses(np.array([0, 1]), np.array([0], np.int32), 1, np.ones(3, bool))
