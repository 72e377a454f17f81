"""The plastic network loop: Numba and CUDA held to the NumPy reference, and its physics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikesub.kernels.plastic_network import (
    Dopamine,
    Neurons2003,
    NoiseDrive,
    plastic_run_cuda,
    plastic_run_numba,
    plastic_run_numpy,
)
from spikesub.kernels.stdp import (
    BOUND_ADDITIVE,
    BOUND_MULTIPLICATIVE,
    TRACE_ADDITIVE,
    TRACE_NEAREST,
    STDPRule,
    STDPState,
    plastic_synapses,
)

RUNS = {"numpy": plastic_run_numpy, "numba": plastic_run_numba, "cuda": plastic_run_cuda}


def _network(
    seed, n=30, p=0.2, elig=False, bound=BOUND_ADDITIVE, trace=TRACE_ADDITIVE, post_first=False
):
    rng = np.random.default_rng(seed)
    exc = np.arange(n) < int(0.8 * n)
    dense = rng.random((n, n)) < p
    indptr = np.concatenate([[0], np.cumsum(dense.sum(1))])
    indices = np.nonzero(dense)[1].astype(np.int32)
    pre = np.repeat(np.arange(n), np.diff(indptr))
    weights = np.where(exc[pre], rng.uniform(0.5, 3.0, pre.size), -rng.uniform(0.5, 3.0, pre.size))
    syn = plastic_synapses(indptr, indices, n, exc[pre])
    neurons = Neurons2003(
        np.where(exc, 0.02, 0.1), np.full(n, 0.2), np.full(n, -65.0), np.where(exc, 8.0, 2.0),
        30.0, 2, 1.0,
    )  # fmt: skip
    drive = NoiseDrive(np.full(n, 4.0), np.full(n, 10.0), 1234 + seed)
    rule = STDPRule(
        0.1, 0.12, math.exp(-1 / 20), math.exp(-1 / 20), trace, bound, 0.0, 4.0, elig, post_first
    )
    dopa = Dopamine(math.exp(-1 / 200), 0.01, 0.1 * 5 * 1.0, 5, math.exp(-5 / 1000))
    stdp = STDPState(np.zeros(n), np.zeros(n), weights, np.zeros(pre.size if elig else 0))
    return neurons, drive, syn, rule, dopa, stdp


def _run(backend, net, n_steps, reward=None, step0=0):
    neurons, drive, syn, rule, dopa, stdp = net
    n = neurons.a.shape[0]
    state = {
        "v": np.full(n, -65.0), "u": np.full(n, -13.0), "syn_in": np.zeros(n),
        "stdp": STDPState(*(a.copy() for a in stdp)), "level": np.zeros(1),
        "raster": np.zeros((n_steps, n), bool), "level_out": np.zeros(n_steps),
    }  # fmt: skip
    reward = np.zeros(n_steps) if reward is None else reward
    status = RUNS[backend](
        neurons, drive, syn, rule, dopa, state["v"], state["u"], state["syn_in"], state["stdp"],
        state["level"], reward, step0, state["raster"], state["level_out"],
    )  # fmt: skip
    return status, state


def _assert_same(a, b):
    for key in ("v", "u", "syn_in", "level", "raster", "level_out"):
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    for x, y in zip(a["stdp"], b["stdp"], strict=True):
        np.testing.assert_array_equal(x, y)


def _reward(n_steps):
    reward = np.zeros(n_steps)
    reward[n_steps // 3 :: 17] = 0.5
    return reward


CASES = [
    dict(elig=False, bound=BOUND_ADDITIVE, trace=TRACE_ADDITIVE),
    dict(elig=False, bound=BOUND_MULTIPLICATIVE, trace=TRACE_NEAREST),
    dict(elig=True, bound=BOUND_ADDITIVE, trace=TRACE_NEAREST),
    dict(elig=True, bound=BOUND_ADDITIVE, trace=TRACE_NEAREST, post_first=True),
]


@pytest.mark.parametrize("case", CASES)
def test_numba_equals_numpy(case):
    net = _network(1, **case)
    ref_status, ref = _run("numpy", net, 300, _reward(300))
    got_status, got = _run("numba", net, 300, _reward(300))
    assert ref_status == got_status == (-1, -1)
    _assert_same(ref, got)
    assert ref["raster"].sum() > 30
    assert not np.array_equal(ref["stdp"].weights, net[5].weights)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the simulator's
@pytest.mark.parametrize("case", [CASES[0], CASES[2], CASES[3]])  # uint64 hashing, wrapping
def test_cuda_simulator_equals_numpy(case):
    net = _network(2, n=12, p=0.4, **case)
    ref_status, ref = _run("numpy", net, 25, _reward(25), step0=3)
    got_status, got = _run("cuda", net, 25, _reward(25), step0=3)
    assert ref_status == got_status == (-1, -1)
    _assert_same(ref, got)
    assert ref["raster"].any()


def test_calls_can_be_split_without_changing_bits():
    net = _network(3, elig=True)
    _, whole = _run("numba", net, 200, _reward(200))
    neurons, drive, syn, rule, dopa, stdp = net
    first_status, first = _run("numba", net, 120, _reward(200)[:120])
    second_net = (neurons, drive, syn, rule, dopa, first["stdp"])
    n = neurons.a.shape[0]
    state = {k: first[k] for k in ("v", "u", "syn_in", "level")}
    raster, level_out = np.zeros((80, n), bool), np.zeros(80)
    stdp = STDPState(*(a.copy() for a in second_net[5]))
    plastic_run_numba(
        neurons, drive, syn, rule, dopa, state["v"], state["u"], state["syn_in"], stdp,
        state["level"], _reward(200)[120:], 120, raster, level_out,
    )  # fmt: skip
    np.testing.assert_array_equal(np.concatenate([first["raster"], raster]), whole["raster"])
    np.testing.assert_array_equal(stdp.weights, whole["stdp"].weights)
    np.testing.assert_array_equal(state["v"], whole["v"])


def test_dopamine_decays_and_jumps_with_reward():
    net = _network(4, elig=True)
    reward = np.zeros(50)
    reward[10] = 0.5
    _, out = _run("numpy", net, 50, reward)
    decay = math.exp(-1 / 200)
    assert out["level_out"][9] == 0.0
    assert out["level_out"][10] == 0.5
    assert out["level_out"][49] == pytest.approx(0.5 * decay**39, rel=1e-12)


def test_inhibitory_rows_are_not_plastic_and_weights_stay_in_bounds():
    net = _network(5)
    _, out = _run("numba", net, 400)
    syn, before, after = net[2], net[5].weights, out["stdp"].weights
    np.testing.assert_array_equal(after[~syn.plastic], before[~syn.plastic])
    assert np.all((after[syn.plastic] >= 0.0) & (after[syn.plastic] <= 4.0))


def test_non_finite_state_is_reported_with_step_and_neuron():
    neurons, drive, syn, rule, dopa, stdp = _network(6)
    bias = drive.bias.copy()
    bias[7] = np.inf
    net = (neurons, drive._replace(bias=bias), syn, rule, dopa, stdp)
    for backend in ("numpy", "numba"):
        status, _ = _run(backend, net, 20, step0=100)
        assert status == (100, 7)
