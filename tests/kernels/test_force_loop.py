"""Closed-loop FORCE kernel: Numba held to the NumPy reference, RLS schedule, chunking, errors."""

from __future__ import annotations

import numpy as np
import pytest

from spikesub.kernels.force_loop import (
    STATUS_NONFINITE,
    STATUS_OK,
    check_force_loop_args,
    force_loop_numba,
    force_loop_numpy,
)
from spikesub.kernels.force_loop_args import (
    ForceConnections,
    ForceLearning,
    ForceNeuron,
    ForceRecord,
    ForceState,
    ForceSynapse,
)

LOOPS = {"numpy": force_loop_numpy, "numba": force_loop_numba}


def _network(n=50, n_steps=600, seed=0, train=(100, 500), every=20, sample_every=1, q=5e3):
    """Small Nicola & Clopath network; returns the six argument groups of the loop."""
    rng = np.random.default_rng(seed)

    def full(x):
        return np.full(n, float(x))

    neuron = (
        full(250.0), full(2.5), full(-60.0), full(-40.0), full(0.01), full(0.0), full(-65.0),
        full(200.0), full(1000.0), 30.0, 0.04,
    )  # fmt: skip
    state = (
        -60.0 + 90.0 * rng.random(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n),
        np.zeros(n), np.zeros(1),
    )  # fmt: skip
    dense = 5e3 * rng.standard_normal((n, n)) * (rng.random((n, n)) < 0.1) / (np.sqrt(n) * 0.1)
    by_pre = dense.T
    pre, post = np.nonzero(by_pre)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(pre, minlength=n), out=indptr[1:])
    network = (indptr, post.astype(np.int32), by_pre[pre, post], q * (2 * rng.random((1, n)) - 1))
    t_ms = (np.arange(n_steps) + 1.0) * 0.04
    target = np.sin(2 * np.pi * 5.0 * t_ms / 1000.0)[:, None]
    learning = (np.zeros((1, n)), 2.0 * np.eye(n), target, 0, train[0], train[1], every)
    record = _record(n, n_steps, sample_every)
    return neuron, (2.0, 20.0), state, network, learning, record


def _record(n, n_steps, sample_every):
    n_samples = n_steps // sample_every
    return (
        np.zeros((n_steps, 1)),
        np.zeros(n_steps, dtype=np.int32),
        np.arange(n, dtype=np.int64),
        np.zeros((n_steps, n), dtype=bool),
        np.arange(5, dtype=np.int64),
        np.zeros((n_samples, 5)),
        np.zeros(n_samples),
        sample_every,
    )


def test_numba_equals_numpy_with_rls_steps():
    a = _network(sample_every=25)
    b = _network(sample_every=25)
    assert force_loop_numpy(*a) == (STATUS_OK, -1, -1)
    assert force_loop_numba(*b) == (STATUS_OK, -1, -1)
    rec_a, rec_b = a[5], b[5]
    assert rec_a[1].sum() > 50  # the network spikes
    np.testing.assert_array_equal(rec_a[1], rec_b[1])  # spikes per step
    np.testing.assert_array_equal(rec_a[3], rec_b[3])  # every neuron's spike train
    assert np.abs(rec_a[0]).max() > 0.05  # the readout moved away from 0
    np.testing.assert_allclose(rec_a[0], rec_b[0], rtol=1e-9, atol=1e-12)  # z
    np.testing.assert_allclose(a[4][0], b[4][0], rtol=1e-9, atol=1e-12)  # phi
    np.testing.assert_allclose(a[4][1], b[4][1], rtol=1e-9, atol=1e-12)  # P
    for x, y in zip(a[2], b[2], strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(rec_a[5], rec_b[5], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(rec_a[6], rec_b[6], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_rls_runs_only_on_schedule(backend):
    every = 20
    args = _network(n_steps=400, train=(105, 305), every=every)
    LOOPS[backend](*args)
    norm = args[5][6]  # |phi| after every step
    changed = np.flatnonzero(np.diff(np.concatenate([[0.0], norm])) != 0.0)
    expected = np.arange(120, 305, every)  # steps g in [105, 305) with g % 20 == 0
    np.testing.assert_array_equal(changed, expected)
    np.testing.assert_array_equal(args[5][0][:120], 0.0)  # z = 0 before the first update


def test_chunks_give_the_same_run_as_one_call():
    whole = _network(n_steps=600)
    force_loop_numba(*whole)
    parts = _network(n_steps=600)
    neuron, synapse, state, network, learning, _ = parts
    phi, P, target = learning[:3]
    z_parts, count_parts = [], []
    for lo, hi in ((0, 230), (230, 600)):
        rec = _record(50, hi - lo, 1)
        chunk = (phi, P, np.ascontiguousarray(target[lo:hi]), lo, *learning[4:])
        assert force_loop_numba(neuron, synapse, state, network, chunk, rec)[0] == STATUS_OK
        z_parts.append(rec[0])
        count_parts.append(rec[1])
    np.testing.assert_array_equal(np.concatenate(z_parts), whole[5][0])
    np.testing.assert_array_equal(np.concatenate(count_parts), whole[5][1])
    np.testing.assert_array_equal(phi, whole[4][0])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_without_feedback_or_weights_a_neuron_fires_regularly(backend):
    # one neuron, no synapses: the loop must match the single-step 2007 kernels
    from spikesub.kernels import izhikevich2007_step_numpy

    n, n_steps = 1, 5000
    args = list(_network(n=n, n_steps=n_steps, train=(0, 0)))
    network = (np.zeros(2, dtype=np.int64), np.zeros(0, np.int32), np.zeros(0), np.zeros((1, 1)))
    state = (np.array([-60.0]), *(np.zeros(1) for _ in range(5)), np.zeros(1))
    args[2], args[3] = state, network
    args[5] = (
        _record(n, n_steps, 1)[:4]
        + (np.zeros(0, np.int64), np.zeros((n_steps, 0)))
        + (
            np.zeros(n_steps),
            1,
        )
    )
    assert LOOPS[backend](*args)[0] == STATUS_OK
    v, u, spiked = np.array([-60.0]), np.zeros(1), np.zeros(1, dtype=bool)
    p = [np.array([x]) for x in (250.0, 2.5, -60.0, -40.0, 0.01, 0.0, -65.0, 200.0)]
    expected = np.zeros(n_steps, dtype=np.int32)
    for j in range(n_steps):
        izhikevich2007_step_numpy(v, u, np.array([1000.0]), *p, 0.04, 1, 30.0, spiked)
        expected[j] = spiked[0]
    assert expected.sum() >= 2
    np.testing.assert_array_equal(args[5][1], expected)
    np.testing.assert_array_equal(state[0], v)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_nonfinite_state_stops_with_step_and_neuron(backend):
    args = list(_network(n_steps=200))
    neuron = list(args[0])
    neuron[8] = neuron[8].copy()
    neuron[8][7] = np.inf  # bias of neuron 7
    args[0] = tuple(neuron)
    assert LOOPS[backend](*args) == (STATUS_NONFINITE, 0, 7)


def _replace(args, group, pos, value):
    args = list(args)
    items = list(args[group])
    items[pos] = value
    args[group] = tuple(items)
    return args


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize(
    ("group", "pos", "value", "name"),
    [
        (0, 10, 0.0, "dt_ms"),
        (0, 10, -0.04, "dt_ms"),
        (1, 0, 0.0, "tau_rise_ms"),
        (1, 1, -20.0, "tau_decay_ms"),
        (4, 6, 0, "update_every"),
        (0, 0, np.full(49, 250.0), "C"),
        (2, 4, np.zeros(51), "r"),
        (2, 6, np.zeros(2), "z"),
        (3, 3, np.zeros((1, 49)), "encoder"),
        (4, 0, np.zeros((1, 49)), "phi"),
        (4, 1, np.eye(49), "P"),
        (4, 2, np.full((600, 1), np.nan), "target"),
        (5, 0, np.zeros((599, 1)), "z_out"),
        (5, 7, 0, "sample_every"),
    ],
)
def test_bad_input_names_the_argument(backend, group, pos, value, name):
    args = _replace(_network(), group, pos, value)
    with pytest.raises(ValueError, match=name):
        LOOPS[backend](*args)


def test_wrong_dtype_is_a_type_error():
    args = _replace(_network(), 2, 0, np.zeros(50, dtype=np.float32))
    with pytest.raises(TypeError, match="v must have dtype float64"):
        force_loop_numba(*args)


def test_checked_groups_are_named_tuples_read_by_field():
    groups = check_force_loop_args(*_network(n_steps=40))
    names = [type(group).__name__ for group in groups]
    assert names == [
        "ForceNeuron", "ForceSynapse", "ForceState", "ForceConnections", "ForceLearning",
        "ForceRecord",
    ]  # fmt: skip
    neuron, synapse, state, network, learning, record = groups
    assert neuron.v_peak == 30.0 and neuron.dt_ms == 0.04
    assert synapse.tau_rise_ms == 2.0 and synapse.tau_decay_ms == 20.0
    assert state.z.shape == (1,) and network.encoder.shape == (1, 50)
    assert learning.update_every == 20 and record.sample_every == 1
    # named groups run the loops as plain tuples do, to the same floats
    a, b = _network(sample_every=25), _network(sample_every=25)
    named = tuple(
        cls(*group)
        for cls, group in zip(
            (ForceNeuron, ForceSynapse, ForceState, ForceConnections, ForceLearning, ForceRecord),
            b,
            strict=True,
        )
    )
    assert force_loop_numba(*a) == force_loop_numba(*named) == (STATUS_OK, -1, -1)
    np.testing.assert_array_equal(a[5][0], named[5].z_out)
