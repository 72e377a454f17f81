"""IzhikevichReservoir: backends bit for bit, determinism, continuation, monitors, physics, errors.

The NumPy backend is the reference; the Numba backend (serial and threaded) must reproduce it
bit for bit, the CUDA backend (on Numba's simulator without a GPU) up to float rounding.
Numba compiles the network loop once per combination of neuron form, dtype and serial/threaded
variant; the tests keep to a handful of combinations: 2003 form float32 / float64 serial,
2007 form float32 / float64 serial, 2003 form float32 threaded.
"""

from __future__ import annotations

import json
import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesub.kernels import backends
from spikesub.kernels.backends import BackendUnavailableError, resolve_backend
from spikesub.kernels.izhikevich import izhikevich2003_scalar, izhikevich2007_scalar
from spikesub.kernels.network import STREAM_NOISE, STREAM_POISSON
from spikesub.kernels.rng import normal_numpy, uniform_numpy
from spikesub.models.connectivity import SparseWeights
from spikesub.models.errors import NonFiniteStateError, SpikesubError
from spikesub.models.inputs import CurrentInput, PoissonInput
from spikesub.models.monitors import SimulationResult, SpikeTrains
from spikesub.models.neurons import IzhikevichPopulation
from spikesub.models.reservoir import IzhikevichReservoir

DTYPES = (np.float32, np.float64)


# ----------------------------------------------------------------------------------------------
# Networks used throughout
# ----------------------------------------------------------------------------------------------


def _random_dense(rng, n_pre, n_post, p, low, high):
    """Dense ``(n_pre, n_post)`` weights uniform in [low, high), each kept with probability p."""
    return rng.uniform(low, high, (n_pre, n_post)) * (rng.random((n_pre, n_post)) < p)


def _dale_dense(rng, pop, p, w_exc, w_inh):
    """Dense recurrent weights: rows of excitatory neurons in [0, w_exc), inhibitory (-w_inh, 0]."""
    w = _random_dense(rng, pop.n, pop.n, p, 0.0, 1.0)
    return np.where(pop.excitatory[:, None], w * w_exc, -w * w_inh)


def net_2003(backend, dtype=np.float32, seed=11, n_threads=None):
    """Izhikevich (2003) network, 80 E + 20 I, p = 0.2, with its thalamic noise."""
    res = IzhikevichReservoir.izhikevich_2003(
        80, 20, p=0.2, seed=seed, backend=backend, dtype=dtype, n_threads=n_threads
    )
    return res, {"duration_ms": 200.0}


def net_2007(backend, dtype=np.float32, seed=3, n_threads=None):
    """Nicola-Clopath 2007-form neurons driven by 1000 pA, double-exponential synapses."""
    rng = np.random.default_rng(100 + seed)
    n = 40
    pop = IzhikevichPopulation.izhikevich_2007(n, seed=seed)
    weights = _random_dense(rng, n, n, 0.2, -4000.0, 4000.0)
    res = IzhikevichReservoir(
        pop,
        weights,
        synapse="double_exponential",
        tau_rise_ms=2.0,
        tau_decay_ms=20.0,
        bias_current=1000.0,
        noise_std=200.0,
        noise_interval_ms=0.5,
        dt_ms=0.05,
        backend=backend,
        dtype=dtype,
        seed=seed,
        n_threads=n_threads,
    )
    return res, {"duration_ms": 150.0}


def net_exponential(backend, dtype=np.float32, seed=5, n_threads=None):
    """Heterogeneous 2003 neurons with exponential synapses, bias and noise."""
    rng = np.random.default_rng(200 + seed)
    pop = IzhikevichPopulation.izhikevich_2003(47, 12, seed=seed)  # odd N = 59
    weights = _dale_dense(rng, pop, 0.3, 4.0, 8.0)
    res = IzhikevichReservoir(
        pop,
        weights,
        synapse="exponential",
        tau_syn_ms=5.0,
        bias_current=np.linspace(2.0, 6.0, pop.n),
        noise_std=3.0,
        backend=backend,
        dtype=dtype,
        seed=seed,
        n_threads=n_threads,
    )
    return res, {"duration_ms": 200.0}


def net_current_array(backend, dtype=np.float32, seed=7, n_threads=None):
    """RS neurons with a delta-synapse network and a (steps, N) current."""
    rng = np.random.default_rng(300 + seed)
    n, steps = 30, 1500
    pop = IzhikevichPopulation.from_preset("RS", n)
    weights = _random_dense(rng, n, n, 0.3, -3.0, 6.0)
    res = IzhikevichReservoir(
        pop, weights, backend=backend, dtype=dtype, seed=seed, n_threads=n_threads
    )
    t = np.arange(steps)[:, None] * 0.1
    current = 6.0 + 6.0 * np.sin(2 * np.pi * t / 40.0 + np.linspace(0, 3, n)[None, :])
    current += rng.normal(0, 2.0, (steps, n))
    return res, {"duration_ms": steps * 0.1, "current": current}


def net_current_input(backend, dtype=np.float32, seed=9, n_threads=None):
    """2003 neurons driven by a 3-channel signal through an encoder (CurrentInput)."""
    rng = np.random.default_rng(400 + seed)
    pop = IzhikevichPopulation.izhikevich_2003(40, 10, seed=seed)
    weights = _dale_dense(rng, pop, 0.2, 3.0, 6.0)
    steps = 1500
    t = np.arange(steps) * 0.1
    signal = np.stack([np.sin(t / 7.0), np.cos(t / 11.0), (t % 30.0) / 30.0], axis=1)
    encoder = rng.normal(0.0, 8.0, (3, pop.n))
    res = IzhikevichReservoir(
        pop, weights, bias_current=4.0, backend=backend, dtype=dtype, seed=seed, n_threads=n_threads
    )
    return res, {"duration_ms": steps * 0.1, "current": CurrentInput(signal, encoder)}


def net_poisson_constant(backend, dtype=np.float32, seed=13, n_threads=None):
    """2003 network, noise and 12 Poisson channels at constant rates."""
    rng = np.random.default_rng(500 + seed)
    pop = IzhikevichPopulation.izhikevich_2003(40, 11, seed=seed)
    weights = _dale_dense(rng, pop, 0.2, 4.0, 8.0)
    poisson = PoissonInput(
        rate_hz=np.linspace(20.0, 400.0, 12), weights=_random_dense(rng, 12, pop.n, 0.4, 0, 12)
    )
    res = IzhikevichReservoir(
        pop, weights, noise_std=2.0, backend=backend, dtype=dtype, seed=seed, n_threads=n_threads
    )
    return res, {"duration_ms": 200.0, "poisson": poisson}


def net_poisson_varying(backend, dtype=np.float32, seed=17, n_threads=None):
    """2003 network with 8 Poisson channels whose rates change every step."""
    rng = np.random.default_rng(600 + seed)
    pop = IzhikevichPopulation.izhikevich_2003(40, 10, seed=seed)
    weights = _dale_dense(rng, pop, 0.2, 4.0, 8.0)
    steps = 2000
    t = np.arange(steps)[:, None] * 0.1
    rates = 300.0 * (1.0 + np.sin(2 * np.pi * t / 50.0 + np.arange(8)[None, :]))
    poisson = PoissonInput(rates, _random_dense(rng, 8, pop.n, 0.5, 0.0, 15.0))
    res = IzhikevichReservoir(
        pop, weights, backend=backend, dtype=dtype, seed=seed, n_threads=n_threads
    )
    return res, {"duration_ms": steps * 0.1, "poisson": poisson}


NETWORKS = {
    "izhikevich_2003": net_2003,
    "form_2007_double_exponential": net_2007,
    "exponential_synapses": net_exponential,
    "current_array": net_current_array,
    "current_input": net_current_input,
    "poisson_constant": net_poisson_constant,
    "poisson_varying": net_poisson_varying,
}


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------


def simulate(
    factory, backend, dtype=np.float32, *, seed=None, n_threads=None, duration_ms=None, **record
):
    """Build a network, run it once with state recorded for every neuron; (result, reservoir)."""
    kwargs = {"backend": backend, "dtype": dtype, "n_threads": n_threads}
    if seed is not None:
        kwargs["seed"] = seed
    res, run_args = factory(**kwargs)
    if duration_ms is not None:
        run_args["duration_ms"] = duration_ms
    record.setdefault("record_state", ("v", "u"))
    record.setdefault("record_indices", np.arange(res.n_neurons))
    return res.run(**run_args, **record), res


def final_state(res):
    """Copies of every state array: v, u, the two synaptic variables, the input buffer, noise."""
    return tuple(np.array(x, copy=True) for x in res._state)


def assert_same_result(a: SimulationResult, b: SimulationResult):
    """Bit-for-bit equality of two results (spikes, counts, samples)."""
    assert (a.spikes is None) == (b.spikes is None)
    if a.spikes is not None:
        np.testing.assert_array_equal(a.spikes.times_ms, b.spikes.times_ms)
        np.testing.assert_array_equal(a.spikes.indices, b.spikes.indices)
        assert a.spikes.t_start_ms == b.spikes.t_start_ms
        assert a.spikes.duration_ms == b.spikes.duration_ms
    np.testing.assert_array_equal(a.population_counts, b.population_counts)
    assert sorted(a.state) == sorted(b.state)
    for name in a.state:
        assert a.state[name].dtype == b.state[name].dtype
        np.testing.assert_array_equal(a.state[name], b.state[name], err_msg=name)
    np.testing.assert_array_equal(a.state_times_ms, b.state_times_ms)
    np.testing.assert_array_equal(a.state_indices, b.state_indices)


def assert_same_state(sa, sb):
    names = ("v", "u", "syn_a", "syn_b", "syn_in", "noise")
    for name, x, y in zip(names, sa, sb, strict=True):
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)


def concat_spikes(*results):
    return (
        np.concatenate([r.spikes.times_ms for r in results]),
        np.concatenate([r.spikes.indices for r in results]),
    )


def single_population(n=1, *, a=0.0, b=0.0, c=-65.0, d=0.0, v_init=-65.0, u_init=0.0, v_peak=30.0):
    """``n`` identical 2003-form neurons with explicit parameters (same numba types as presets)."""
    values = {"a": a, "b": b, "c": c, "d": d, "v_init": v_init, "u_init": u_init}
    arrays = {name: np.full(n, float(x)) for name, x in values.items()}
    return IzhikevichPopulation(form="2003", excitatory=np.ones(n, bool), v_peak=v_peak, **arrays)


def _require_two_threads():
    # tests/conftest.py gives Numba at least two threads, so the threaded loop always runs
    assert numba.config.NUMBA_NUM_THREADS >= 2


# ----------------------------------------------------------------------------------------------
# 1. NumPy and Numba bit for bit
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_numba_matches_numpy_bit_for_bit(name, dtype):
    factory = NETWORKS[name]
    ref, ref_res = simulate(factory, "numpy", dtype)
    out, out_res = simulate(factory, "numba", dtype)
    assert ref.backend == "numpy" and out.backend == "numba"
    assert out_res.n_threads == 1
    # every network is active: the comparison is not between two silent runs
    assert len(ref.spikes) > 50
    assert np.unique(ref.spikes.indices).size > ref_res.n_neurons // 2
    assert ref.state["v"].dtype == np.dtype(dtype)
    assert_same_result(ref, out)
    assert_same_state(final_state(ref_res), final_state(out_res))
    assert ref_res.step == out_res.step == int(round(ref.duration_ms / ref_res.dt_ms))


@pytest.mark.parametrize("name", ["izhikevich_2003", "exponential_synapses", "poisson_constant"])
def test_threaded_numba_matches_numpy_bit_for_bit(name):
    """Two threads, each owning half of the neurons (short runs: two thread hand-offs a step)."""
    _require_two_threads()
    factory = NETWORKS[name]
    ref, ref_res = simulate(factory, "numpy", duration_ms=60.0)
    out, out_res = simulate(factory, "numba", n_threads=2, duration_ms=60.0)
    assert out_res.n_threads == 2
    assert out_res._splits["threaded"].shape == (out_res.n_neurons, 3)
    assert len(ref.spikes) > 20
    assert_same_result(ref, out)
    assert_same_state(final_state(ref_res), final_state(out_res))


def test_threaded_numba_with_odd_split_of_noise_pairs():
    """N = 59 splits at 29: the second thread starts in the middle of a Gaussian pair."""
    _require_two_threads()
    pop = IzhikevichPopulation.izhikevich_2003(47, 12, seed=2)
    runs = {}
    for backend, threads in (("numpy", None), ("numba", 2)):
        res = IzhikevichReservoir(
            pop,
            None,
            noise_std=np.linspace(1.0, 9.0, pop.n),
            noise_interval_ms=0.3,
            backend=backend,
            seed=21,
            n_threads=threads,
        )
        runs[backend] = res.run(30.0, record_state="v", record_indices=np.arange(pop.n)), res
    assert_same_result(runs["numpy"][0], runs["numba"][0])
    assert_same_state(final_state(runs["numpy"][1]), final_state(runs["numba"][1]))
    assert len(runs["numpy"][0].spikes) > 0


@settings(max_examples=20, deadline=None)
@given(
    n_exc=st.integers(1, 20),
    n_inh=st.integers(0, 8),
    seed=st.integers(0, 2**31 - 1),
    synapse=st.sampled_from(["delta", "exponential", "double_exponential"]),
    w_scale=st.floats(0.0, 20.0),
    noise=st.floats(0.0, 8.0),
    n_channels=st.integers(0, 5),
    rate_hz=st.floats(0.0, 2000.0),
    steps=st.integers(1, 300),
)
def test_property_numba_matches_numpy(
    n_exc, n_inh, seed, synapse, w_scale, noise, n_channels, rate_hz, steps
):
    rng = np.random.default_rng(seed)
    pop = IzhikevichPopulation.izhikevich_2003(n_exc, n_inh, seed=seed)
    weights = _dale_dense(rng, pop, 0.5, w_scale, 2 * w_scale)
    poisson = None
    if n_channels:
        poisson = PoissonInput(
            np.full(n_channels, rate_hz), _random_dense(rng, n_channels, pop.n, 0.7, 0.0, 20.0)
        )
    out = {}
    for backend in ("numpy", "numba"):
        res = IzhikevichReservoir(
            pop,
            weights,
            synapse=synapse,
            noise_std=noise,
            bias_current=3.0,
            backend=backend,
            seed=seed,
        )
        try:
            result = res.run(
                steps * 0.1,
                poisson=poisson,
                record_state=("v", "u"),
                record_indices=np.arange(pop.n),
                record_every=2,
            )
        except NonFiniteStateError as err:  # must then happen alike on both backends
            result = (err.step, err.neuron)
        out[backend] = result, final_state(res)
    if isinstance(out["numpy"][0], tuple) or isinstance(out["numba"][0], tuple):
        assert out["numpy"][0] == out["numba"][0]
    else:
        assert_same_result(out["numpy"][0], out["numba"][0])
        assert_same_state(out["numpy"][1], out["numba"][1])


def test_non_representable_v_peak_thresholds_alike_on_numpy_and_numba():
    """v_peak = 30.3 rounds down in float32: the backends must still flag the same steps.

    The step lands v exactly on float32(30.3) < 30.3. The kernels' rule is "the stored v,
    widened to float64, >= v_peak" (see ``spikesub.kernels.izhikevich``), so this is not a spike.
    """
    v_peak = 30.3
    target = float(np.float32(v_peak))
    assert target < v_peak
    dt = 0.1
    v0 = -65.0
    current = np.zeros((3, 1))
    current[0, 0] = (target - v0) / dt - (0.04 * v0 * v0 + 5.0 * v0 + 140.0)
    pop = single_population(v_peak=v_peak)
    out = {}
    for backend in ("numpy", "numba"):
        res = IzhikevichReservoir(pop, backend=backend, dt_ms=dt)
        out[backend] = res.run(0.3, current=current, record_state="v")
    np.testing.assert_array_equal(
        out["numpy"].spikes.times_ms, out["numba"].spikes.times_ms, err_msg="spike times"
    )
    assert_same_result(out["numpy"], out["numba"])
    # float32(30.3) < 30.3: no spike at step 0; v is sampled at the start of step 1 unreset, and
    # the neuron spikes at step 1
    assert out["numba"].state["v"][1, 0] == np.float32(v_peak)
    np.testing.assert_array_equal(out["numba"].spikes.times_ms, [0.1])


# ----------------------------------------------------------------------------------------------
# 2. Determinism
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_same_seed_same_result_different_seed_different_spikes(backend):
    a, res_a = simulate(net_2003, backend, seed=4)
    b, res_b = simulate(net_2003, backend, seed=4)
    c, _ = simulate(net_2003, backend, seed=5)
    assert_same_result(a, b)
    assert_same_state(final_state(res_a), final_state(res_b))
    differ = len(a.spikes) != len(c.spikes) or not (
        np.array_equal(a.spikes.times_ms, c.spikes.times_ms)
        and np.array_equal(a.spikes.indices, c.spikes.indices)
    )
    assert differ


def test_seed_changes_only_the_noise_when_the_network_is_fixed():
    """The reservoir seed drives the noise: same weights, another seed -> other spikes."""
    pop = IzhikevichPopulation.izhikevich_2003(20, 5, seed=1)
    spikes = []
    for seed in (0, 0, 1):
        res = IzhikevichReservoir(pop, None, noise_std=5.0, backend="numba", seed=seed)
        spikes.append(res.run(100.0).spikes)
    assert np.array_equal(spikes[0].times_ms, spikes[1].times_ms)
    assert np.array_equal(spikes[0].indices, spikes[1].indices)
    assert not (
        spikes[0].times_ms.shape == spikes[2].times_ms.shape
        and np.array_equal(spikes[0].times_ms, spikes[2].times_ms)
        and np.array_equal(spikes[0].indices, spikes[2].indices)
    )


def test_noise_follows_the_documented_counter_based_draws():
    """Noise = noise_std * normal(seed, STREAM_NOISE, g // interval, neuron), held in between.

    Three uncoupled neurons with a = b = 0 (u constant); their v is recomputed here step by step.
    """
    n, dt, every, seed, std = 3, 0.1, 4, 77, np.array([0.5, 1.0, 2.0])
    pop = single_population(n, v_init=-70.0)
    res = IzhikevichReservoir(
        pop,
        noise_std=std,
        noise_interval_ms=every * dt,
        bias_current=1.0,
        backend="numpy",
        seed=seed,
    )
    steps = 37
    out = res.run(steps * dt, record_state="v", record_indices=np.arange(n))
    assert out.spikes is not None and len(out.spikes) == 0
    v = np.full(n, -70.0, dtype=np.float32)
    expected = []
    for g in range(steps):
        expected.append(v.copy())
        noise = std * normal_numpy(seed, STREAM_NOISE, g // every, np.arange(n, dtype=np.uint64))
        v64, _ = izhikevich2003_scalar(v.astype(np.float64), 0.0, 1.0 + noise, 0.0, 0.0, dt, 1)
        v = v64.astype(np.float32)
    np.testing.assert_array_equal(out.state["v"], np.array(expected))
    np.testing.assert_array_equal(res.v, v)


# ----------------------------------------------------------------------------------------------
# 3. Continuation and reset
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_run_in_two_parts_equals_one_run(backend):
    whole, res_whole = simulate(net_2003, backend, seed=8, record_indices=[0, 50, 99])
    res, _ = net_2003(backend, seed=8)
    first = res.run(100.0, record_state=("v", "u"), record_indices=[0, 50, 99])
    assert res.t_ms == pytest.approx(100.0) and res.step == 1000
    second = res.run(100.0, record_state=("v", "u"), record_indices=[0, 50, 99])
    assert res.step == 2000
    assert first.spikes.t_start_ms == 0.0
    assert second.spikes.t_start_ms == pytest.approx(100.0)
    assert second.spikes.duration_ms == pytest.approx(100.0)
    assert second.spikes.times_ms.min() >= 100.0 - 1e-9
    times, idx = concat_spikes(first, second)
    np.testing.assert_array_equal(times, whole.spikes.times_ms)
    np.testing.assert_array_equal(idx, whole.spikes.indices)
    np.testing.assert_array_equal(
        np.concatenate([first.population_counts, second.population_counts]),
        whole.population_counts,
    )
    for name in ("v", "u"):
        np.testing.assert_array_equal(
            np.concatenate([first.state[name], second.state[name]]), whole.state[name]
        )
    np.testing.assert_allclose(
        np.concatenate([first.state_times_ms, second.state_times_ms]), whole.state_times_ms
    )
    assert_same_state(final_state(res), final_state(res_whole))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_continuation_with_uneven_parts_held_noise_and_time_varying_inputs(backend):
    """1373 + 1127 steps (run() also cuts them in chunks of 1000 steps inside), the noise held
    over 7 steps across every boundary, the inputs split likewise."""
    rng = np.random.default_rng(3)
    pop = IzhikevichPopulation.izhikevich_2003(25, 6, seed=3)
    weights = _dale_dense(rng, pop, 0.3, 4.0, 8.0)
    steps = 2500
    rates = rng.uniform(0.0, 500.0, (steps, 4))
    pw = _random_dense(rng, 4, pop.n, 0.5, 0.0, 10.0)
    current = rng.normal(4.0, 3.0, (steps, pop.n))

    def make():
        return IzhikevichReservoir(
            pop,
            weights,
            synapse="exponential",
            noise_std=4.0,
            noise_interval_ms=0.7,
            backend=backend,
            seed=9,
        )

    whole = make().run(
        steps * 0.1, current=current, poisson=PoissonInput(rates, pw), record_state="v"
    )
    res = make()
    cut = 1373
    a = res.run(
        cut * 0.1, current=current[:cut], poisson=PoissonInput(rates[:cut], pw), record_state="v"
    )
    b = res.run(
        (steps - cut) * 0.1,
        current=current[cut:],
        poisson=PoissonInput(rates[cut:], pw),
        record_state="v",
    )
    assert b.spikes.t_start_ms == pytest.approx(cut * 0.1)
    times, idx = concat_spikes(a, b)
    assert len(whole.spikes) > 20
    np.testing.assert_array_equal(idx, whole.spikes.indices)
    np.testing.assert_array_equal(times, whole.spikes.times_ms)
    np.testing.assert_array_equal(np.concatenate([a.state["v"], b.state["v"]]), whole.state["v"])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_reset_state_then_rerun_is_identical(backend):
    first, res = simulate(net_exponential, backend)
    state = final_state(res)
    res.reset_state()
    assert res.step == 0 and res.t_ms == 0.0
    np.testing.assert_array_equal(res.v, res.population.v_init.astype(np.float32))
    np.testing.assert_array_equal(res.u, res.population.u_init.astype(np.float32))
    assert all(not np.any(x) for x in final_state(res)[2:])
    _, run_args = net_exponential(backend)
    again = res.run(**run_args, record_state=("v", "u"), record_indices=np.arange(res.n_neurons))
    assert_same_result(first, again)
    assert_same_state(state, final_state(res))


def test_v_and_u_properties_are_copies():
    res, _ = net_2003("numpy")
    v = res.v
    v[:] = 0.0
    assert not np.any(res.v == 0.0)
    assert res.v.shape == res.u.shape == (100,)


# ----------------------------------------------------------------------------------------------
# 4. CUDA (simulator without a GPU)
# ----------------------------------------------------------------------------------------------


def _tiny_cuda_network(backend, dtype=np.float32, synapse="delta", seed=4, dt_ms=0.25):
    rng = np.random.default_rng(0)
    pop = IzhikevichPopulation.izhikevich_2003(11, 4, seed=1)  # odd N = 15
    w_scale = 1.0 if synapse == "delta" else 3.0
    weights = _dale_dense(rng, pop, 0.4, 6.0 * w_scale, 3.0 * w_scale)
    poisson = PoissonInput(np.full(6, 150.0), _random_dense(rng, 6, pop.n, 0.5, 0.0, 20.0))
    res = IzhikevichReservoir(
        pop,
        weights,
        synapse=synapse,
        noise_std=3.0,
        bias_current=4.0,
        dt_ms=dt_ms,
        backend=backend,
        dtype=dtype,
        seed=seed,
    )
    return res, poisson


@pytest.mark.cuda
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize(
    ("synapse", "dtype", "dt_ms"),
    [("delta", np.float32, 0.25), ("double_exponential", np.float64, 0.5)],
)
def test_cuda_matches_numpy(synapse, dtype, dt_ms):
    """100 / 80 steps of 15 neurons with noise, recurrence and Poisson input.

    CUDA's atomic additions round in another order than NumPy's: in float64 the samples differ
    by ~1e-12, in float32 by a few ulps that the dynamics amplify (hence the smaller dt_ms,
    which keeps them within ~1e-5 relative here); the spike trains agree exactly.
    """
    out = {}
    for backend in ("numpy", "cuda"):
        res, poisson = _tiny_cuda_network(backend, dtype, synapse, dt_ms=dt_ms)
        result = res.run(
            dt_ms * (100 if dtype == np.float32 else 80),
            poisson=poisson,
            record_state=("v", "u"),
            record_indices=np.arange(res.n_neurons),
        )
        out[backend] = result, res
    ref, cu = out["numpy"][0], out["cuda"][0]
    assert cu.backend == "cuda"
    assert len(ref.spikes) > 10
    np.testing.assert_array_equal(cu.spikes.times_ms, ref.spikes.times_ms)
    np.testing.assert_array_equal(cu.spikes.indices, ref.spikes.indices)
    np.testing.assert_array_equal(cu.population_counts, ref.population_counts)
    np.testing.assert_allclose(cu.state["v"], ref.state["v"], rtol=3e-5, atol=1e-4)
    np.testing.assert_allclose(cu.state["u"], ref.state["u"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(out["cuda"][1].v, out["numpy"][1].v, rtol=0, atol=1e-4)
    assert out["cuda"][1].v.dtype == np.dtype(dtype)
    assert out["cuda"][1].step == out["numpy"][1].step


@pytest.mark.cuda
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_cuda_persistent_loop_equals_a_launch_per_phase(monkeypatch):
    """The one-launch loop (grid-wide barriers) and the loop of four launches per step run the
    same phases in the same order: same spikes, counts and sampled state."""
    import functools

    from spikesub.kernels import network

    original = network.run_network_cuda
    out = {}
    for persistent in (True, False):
        patched = functools.partial(original, persistent=persistent)
        monkeypatch.setattr(network, "run_network_cuda", patched)
        res, poisson = _tiny_cuda_network("cuda", np.float64, "double_exponential", dt_ms=0.5)
        out[persistent] = res.run(
            30.0, poisson=poisson, record_state="v", record_indices=np.arange(res.n_neurons)
        )
    a, b = out[True], out[False]
    assert len(a.spikes) > 10
    np.testing.assert_array_equal(a.spikes.times_ms, b.spikes.times_ms)
    np.testing.assert_array_equal(a.spikes.indices, b.spikes.indices)
    np.testing.assert_array_equal(a.population_counts, b.population_counts)
    np.testing.assert_allclose(a.state["v"], b.state["v"], rtol=0, atol=1e-9)


@pytest.mark.cuda
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_cuda_many_blocks_match_numpy():
    """A network of several thread blocks (on a GPU), with recurrent delta synapses, in
    float64: the spike trains of 100 steps equal NumPy's."""
    rng = np.random.default_rng(3)
    pop = IzhikevichPopulation.izhikevich_2003(320, 80, seed=2)
    weights = _dale_dense(rng, pop, 0.05, 3.0, 2.0)
    runs = {}
    for backend in ("numpy", "cuda"):
        res = IzhikevichReservoir(
            pop, weights, noise_std=3.0, bias_current=5.0, dt_ms=0.25, backend=backend,
            dtype=np.float64, seed=7,
        )  # fmt: skip
        runs[backend] = res.run(25.0, record_state="v", record_indices=np.arange(0, 400, 7))
    ref, cu = runs["numpy"], runs["cuda"]
    assert len(ref.spikes) > 20
    np.testing.assert_array_equal(cu.spikes.times_ms, ref.spikes.times_ms)
    np.testing.assert_array_equal(cu.spikes.indices, ref.spikes.indices)
    np.testing.assert_allclose(cu.state["v"], ref.state["v"], rtol=0, atol=1e-8)


@pytest.mark.cuda
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_cuda_continuation_and_record_every():
    ref_res, poisson = _tiny_cuda_network("numpy")
    ref = ref_res.run(20.0, poisson=poisson, record_state="v")
    res, poisson = _tiny_cuda_network("cuda")
    a = res.run(10.0, poisson=poisson, record_state="v", record_every=3)
    b = res.run(10.0, poisson=poisson, record_state="v", record_every=3)
    assert b.spikes.t_start_ms == pytest.approx(10.0)
    times, idx = concat_spikes(a, b)
    assert len(ref.spikes) > 3
    np.testing.assert_array_equal(idx, ref.spikes.indices)
    np.testing.assert_allclose(times, ref.spikes.times_ms, rtol=0, atol=1e-9)
    assert a.state["v"].shape == (14, ref_res.n_neurons)  # ceil(40 steps / 3)
    np.testing.assert_allclose(a.state_times_ms, np.arange(0, 40, 3) * 0.25)
    np.testing.assert_allclose(b.state_times_ms, 10.0 + np.arange(0, 40, 3) * 0.25)
    # each run samples every 3rd step counted from its own start
    np.testing.assert_allclose(a.state["v"], ref.state["v"][0:40:3], rtol=0, atol=1e-4)
    np.testing.assert_allclose(b.state["v"], ref.state["v"][40:80:3], rtol=0, atol=1e-4)


@pytest.mark.cuda
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_cuda_non_finite_state_names_step_and_neuron():
    pop = IzhikevichPopulation.from_preset("RS", 4)
    current = np.zeros((10, 4))
    current[6, 2] = 1e40
    res = IzhikevichReservoir(pop, backend="cuda", dt_ms=0.5)
    with pytest.raises(NonFiniteStateError) as info:
        res.run(5.0, current=current)
    assert (info.value.step, info.value.neuron) == (6, 2)


# ----------------------------------------------------------------------------------------------
# 5. Monitors
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_record_every_shapes_times_and_values(backend):
    ref, _ = simulate(net_2003, "numpy")  # every step, every neuron
    res, _ = net_2003(backend)
    idx = [3, 17, 80, 99]
    steps = 2000
    for every in (3, 7, 1):
        res.reset_state()
        out = res.run(200.0, record_state=("v", "u"), record_indices=idx, record_every=every)
        n_samples = math.ceil(steps / every)
        assert out.state["v"].shape == out.state["u"].shape == (n_samples, len(idx))
        assert out.state["v"].dtype == np.float32
        np.testing.assert_array_equal(out.state_indices, idx)
        np.testing.assert_allclose(out.state_times_ms, np.arange(0, steps, every) * 0.1)
        np.testing.assert_array_equal(out.state["v"], ref.state["v"][::every, idx])
        np.testing.assert_array_equal(out.state["u"], ref.state["u"][::every, idx])
    # the samples are taken at the start of each step: the first is the initial state
    np.testing.assert_array_equal(out.state["v"][0], res.population.v_init[idx].astype(np.float32))


def test_record_state_single_name_and_default_indices():
    res, _ = net_2003("numba")
    out = res.run(10.0, record_state="u")
    assert set(out.state) == {"u"}
    assert out.state_indices.shape == (20,)
    assert out.state_indices[0] == 0 and out.state_indices[-1] == 99
    assert np.all(np.diff(out.state_indices) > 0)
    assert out.state["u"].shape == (100, 20)
    small = IzhikevichReservoir(IzhikevichPopulation.from_preset("RS", 5), backend="numba")
    assert small.run(1.0, record_state="v").state_indices.tolist() == [0, 1, 2, 3, 4]


def test_no_state_recorded_by_default():
    res, _ = net_2003("numba")
    out = res.run(20.0)
    assert out.state == {}
    assert out.state_times_ms.shape == (0,)
    assert out.state_indices.shape == (0,)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_population_counts_and_rate_match_spikes(backend):
    res, _ = net_2003(backend)
    out = res.run(200.0)
    spikes = out.spikes
    assert isinstance(spikes, SpikeTrains)
    assert out.population_counts.shape == (2000,)
    assert out.population_counts.dtype == np.int32
    assert out.population_counts.sum() == len(spikes) > 0
    step_of_spike = np.round(spikes.times_ms / 0.1).astype(np.int64)
    np.testing.assert_array_equal(np.bincount(step_of_spike, minlength=2000), out.population_counts)
    # spikes sorted by time, then index; all neuron indices valid
    order = np.lexsort((spikes.indices, spikes.times_ms))
    np.testing.assert_array_equal(order, np.arange(len(spikes)))
    assert spikes.indices.dtype == np.int32
    assert spikes.indices.min() >= 0 and spikes.indices.max() < 100
    assert spikes.n_neurons == 100 and spikes.duration_ms == pytest.approx(200.0)
    assert spikes.counts().sum() == len(spikes)
    np.testing.assert_allclose(spikes.rates_hz(), spikes.counts() / 0.2)
    for bin_ms in (1.0, 5.0, 0.1):
        starts, rate = out.population_rate_hz(bin_ms)
        width_s = bin_ms / 1000.0
        assert rate.shape == starts.shape == (round(200.0 / bin_ms),)
        assert rate.sum() * width_s * out.n_neurons == pytest.approx(len(spikes))
        np.testing.assert_allclose(starts, np.arange(starts.size) * bin_ms, atol=1e-9)
    assert out.duration_ms == pytest.approx(200.0)
    assert out.dt_ms == 0.1 and out.backend == backend
    np.testing.assert_array_equal(out.excitatory, np.arange(100) < 80)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_record_spikes_false_keeps_counts(backend):
    res, _ = net_2003(backend)
    with_spikes = res.run(100.0)
    res.reset_state()
    without = res.run(100.0, record_spikes=False, record_state="v")
    assert without.spikes is None
    np.testing.assert_array_equal(without.population_counts, with_spikes.population_counts)
    assert without.population_counts.sum() > 0
    assert without.state["v"].shape == (1000, 20)


def test_population_rate_bins_start_at_the_run_start_without_spike_record():
    """A second run's rate bins start at its own t_start, whether or not spikes are kept."""
    res, _ = net_2003("numba")
    res.run(100.0)
    kept = res.run(50.0)
    res.reset_state()
    res.run(100.0)
    dropped = res.run(50.0, record_spikes=False)
    starts_kept, rate_kept = kept.population_rate_hz(5.0)
    starts_dropped, rate_dropped = dropped.population_rate_hz(5.0)
    np.testing.assert_array_equal(rate_kept, rate_dropped)
    assert starts_kept[0] == pytest.approx(100.0)
    np.testing.assert_allclose(starts_dropped, starts_kept)


def test_state_times_are_absolute_after_a_previous_run():
    res, _ = net_2003("numba")
    res.run(12.3)
    out = res.run(3.0, record_state="v", record_every=4)
    np.testing.assert_allclose(out.state_times_ms, 12.3 + np.arange(0, 30, 4) * 0.1)


def test_spike_buffer_grows_past_its_initial_capacity():
    """More than 1024 spikes in one run (the initial buffer) are all kept, on both backends."""
    pop = IzhikevichPopulation.from_preset("RS", 100)
    out = {}
    for backend in ("numpy", "numba"):
        res = IzhikevichReservoir(pop, bias_current=np.linspace(20.0, 60.0, 100), backend=backend)
        out[backend] = res.run(500.0)
    assert len(out["numpy"].spikes) > 2048
    assert_same_result(out["numpy"], out["numba"])
    assert out["numba"].population_counts.sum() == len(out["numba"].spikes)


def test_threaded_spike_buffer_grows_between_sub_runs():
    """The threaded loop stops a chunk early when its spike buffer could not take another
    step's spikes, grows it and goes on: the result is still the reference's, bit for bit."""
    _require_two_threads()
    pop = IzhikevichPopulation.from_preset("RS", 100)
    out = {}
    for backend, threads in (("numpy", None), ("numba", 2)):
        res = IzhikevichReservoir(
            pop, bias_current=np.linspace(20.0, 60.0, 100), backend=backend, n_threads=threads
        )
        out[backend] = res.run(300.0)
    assert len(out["numpy"].spikes) > 2048
    assert_same_result(out["numpy"], out["numba"])


# ----------------------------------------------------------------------------------------------
# 6. Physics
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_regular_spiking_neuron_fires_tonically_with_adaptation(backend):
    res = IzhikevichReservoir(IzhikevichPopulation.from_preset("RS", 1), backend=backend)
    out = res.run(1000.0, current=np.array([10.0]))
    times = out.spikes.times_ms
    rate = len(times)
    assert 10 <= rate <= 40  # Hz over one second
    isi = np.diff(times)
    assert isi[0] < 0.7 * isi[-1]  # spike-frequency adaptation
    late = isi[len(isi) // 2 :]
    assert late.max() - late.min() <= 0.2 + 1e-9  # tonic: regular ISIs once adapted
    assert np.all(out.spikes.indices == 0)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_unstimulated_neuron_stays_silent(backend):
    res = IzhikevichReservoir(IzhikevichPopulation.from_preset("RS", 3), backend=backend)
    out = res.run(500.0, record_state="v", record_indices=[0, 1, 2])
    assert len(out.spikes) == 0 and out.population_counts.sum() == 0
    assert np.all(out.state["v"] < -60.0)
    # the 2003 model's resting potential at I = 0 with b = 0.2 is -70 mV
    np.testing.assert_allclose(res.v, -70.0, atol=0.01)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("w", [4.5, -2.25, 0.1])
def test_delta_synapse_adds_w_to_v_at_the_spike_step(backend, w):
    pop = IzhikevichPopulation.from_preset("RS", 2)
    weights = np.array([[0.0, w], [0.0, 0.0]])
    res = IzhikevichReservoir(pop, weights, backend=backend)
    out = res.run(100.0, current=np.array([10.0, 0.0]), record_state=("v", "u"), record_indices=[1])
    times = out.spikes.times_ms
    assert np.all(out.spikes.indices == 0) and len(times) >= 2
    spike_steps = set(np.round(times / 0.1).astype(int).tolist())
    v, u = out.state["v"][:, 0], out.state["u"][:, 0]
    for g in range(len(v) - 1):
        v_free, u_free = izhikevich2003_scalar(float(v[g]), float(u[g]), 0.0, 0.02, 0.2, 0.1, 1)
        v_free = np.float32(v_free)
        if g in spike_steps:
            assert v[g + 1] == np.float32(v_free + np.float32(w)), g
            assert v[g + 1] != v_free
        else:
            assert v[g + 1] == v_free, g
        assert u[g + 1] == np.float32(u_free)


def test_delivery_happens_before_reset_of_a_neuron_spiking_in_the_same_step():
    """Brian2's order: the input to a neuron that spikes in the same step is lost to the reset."""
    pop = IzhikevichPopulation.from_preset("RS", 2)
    weights = np.array([[0.0, 5.0], [0.0, 0.0]])
    res = IzhikevichReservoir(pop, weights, backend="numba")
    out = res.run(
        200.0, current=np.array([10.0, 10.0]), record_state=("v", "u"), record_indices=[0, 1]
    )
    counts = out.spikes.counts()
    assert counts[0] == counts[1] > 2
    trains = out.spikes.trains()
    np.testing.assert_array_equal(trains[0], trains[1])
    v = out.state["v"]
    for t in trains[1]:
        g = int(round(t / 0.1))
        assert v[g + 1, 1] == np.float32(-65.0)  # exactly c, not c + w
    # both neurons follow the same trajectory: the 5 mV never show up in neuron 1
    np.testing.assert_array_equal(v[:, 0], v[:, 1])
    np.testing.assert_array_equal(out.state["u"][:, 0], out.state["u"][:, 1])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_threshold_is_tested_before_delivery(backend):
    """An input that lifts v above v_peak makes the neuron spike at the next step, not this one."""
    pop = IzhikevichPopulation.from_preset("RS", 2)
    weights = np.array([[0.0, 150.0], [0.0, 0.0]])
    res = IzhikevichReservoir(pop, weights, backend=backend)
    out = res.run(30.0, current=np.array([10.0, 0.0]), record_state="v", record_indices=[1])
    trains = out.spikes.trains()
    assert len(trains[0]) >= 1
    g0 = int(round(trains[0][0] / 0.1))
    assert out.state["v"][g0 + 1, 0] >= 30.0  # above v_peak after the delivery
    assert trains[1][0] == pytest.approx((g0 + 1) * 0.1)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_poisson_events_follow_the_documented_draws(backend):
    """Channel q fires at step g when uniform(seed, STREAM_POISSON, g, q) < rate * dt / 1000.

    Each channel drives its own neuron with a 1000 mV delta synapse, so an event at step g makes
    the neuron spike at step g + 1 (unless the neuron spikes at step g itself: then the event
    arrives before the reset and is lost). The rate is 0 for the first half of the run.
    """
    n, steps, dt, seed = 6, 1200, 0.1, 31
    rates = np.zeros((steps, n))
    rates[steps // 2 :] = np.linspace(50.0, 300.0, n)
    pop = IzhikevichPopulation.from_preset("RS", n)
    res = IzhikevichReservoir(pop, backend=backend, seed=seed)
    out = res.run(steps * dt, poisson=PoissonInput(rates, 1000.0 * np.eye(n)))
    draws = np.array(
        [
            uniform_numpy(seed, STREAM_POISSON, g, np.arange(n, dtype=np.uint64))
            for g in range(steps)
        ]
    )
    events = draws < rates * dt * 1e-3
    expected_times, expected_idx = [], []
    for q in range(n):
        spiking = False  # the neuron spikes at the current step
        for g in range(steps):
            fires_next = bool(events[g, q]) and not spiking
            if spiking:
                expected_times.append(g * dt)
                expected_idx.append(q)
            spiking = fires_next
    order = np.lexsort((expected_idx, expected_times))
    assert events[: steps // 2].sum() == 0 and events.sum() > 20
    np.testing.assert_array_equal(out.spikes.indices, np.array(expected_idx)[order])
    np.testing.assert_allclose(out.spikes.times_ms, np.array(expected_times)[order], atol=1e-9)


@pytest.mark.parametrize(
    ("synapse", "expected_charge"),
    [("delta", None), ("exponential", 5.0), ("double_exponential", 1.0)],
)
def test_synaptic_charge_of_one_input_spike(synapse, expected_charge):
    """One spike of weight w onto an integrator (2007 form, k = 0, C = 1): v gains the charge.

    Delta synapses add w to v at once; exponential ones deliver w * tau_syn_ms; double-
    exponential ones w (unit area), up to the Euler discretisation of the filter. Neuron 1,
    kicked over v_peak by one pulse of current at step 0, sends the spike to neuron 0.
    """
    w, dt, tau_syn, tau_rise, tau_decay, v_peak = 3.0, 0.1, 5.0, 2.0, 20.0, 1e6
    pop = IzhikevichPopulation.izhikevich_2007(
        2, C=1.0, k=0.0, a=0.0, b=0.0, d=0.0, v_peak=v_peak, v_reset=0.0, v_init=0.0
    )
    res = IzhikevichReservoir(
        pop,
        np.array([[0.0, 0.0], [w, 0.0]]),
        synapse=synapse,
        tau_syn_ms=tau_syn,
        tau_rise_ms=tau_rise,
        tau_decay_ms=tau_decay,
        dt_ms=dt,
        backend="numba",
        dtype=np.float64,
    )
    steps = 4000
    current = np.zeros((steps, 2))
    current[0, 1] = 2.0 * v_peak / dt
    out = res.run(steps * dt, current=current, record_state="v", record_indices=[0])
    np.testing.assert_array_equal(out.spikes.indices, [1])
    np.testing.assert_array_equal(out.spikes.times_ms, [0.0])
    v = out.state["v"][:, 0]
    if synapse == "delta":
        assert v[1] == w and res.v[0] == w
        return
    # discrete filters: exponential dt * sum_n w e^{-n dt/tau}; double-exponential likewise
    if synapse == "exponential":
        exact = w * dt / (1.0 - math.exp(-dt / tau_syn))
    else:
        exact = (
            (w / (tau_rise * tau_decay))
            * dt
            * dt
            / ((1.0 - math.exp(-dt / tau_rise)) * (1.0 - math.exp(-dt / tau_decay)))
        )
    assert res.v[0] == pytest.approx(exact, rel=1e-7)  # tail after 400 ms: e^-20
    assert res.v[0] == pytest.approx(w * expected_charge, rel=0.03)
    assert v[1] == 0.0  # the input reaches the current after the step's filter update
    assert np.all(np.diff(v) >= 0)


def test_form_2007_population_matches_scalar_kernel_without_input():
    """An isolated 2007 neuron follows the scalar kernel step for step (bias only)."""
    pop = IzhikevichPopulation.izhikevich_2007(2, v_init=np.array([-60.0, -40.0]))
    res = IzhikevichReservoir(pop, bias_current=[100.0, 300.0], dt_ms=0.05, backend="numba")
    out = res.run(50.0, record_state=("v", "u"), record_indices=[0, 1])
    v, u = out.state["v"], out.state["u"]
    params = (250.0, 2.5, -60.0, -40.0, 0.01, 0.0, 0.05, 1)  # C, k, v_r, v_t, a, b, dt_ms, substeps
    for g in range(v.shape[0] - 1):
        for i, current in ((0, 100.0), (1, 300.0)):
            vn, un = izhikevich2007_scalar(float(v[g, i]), float(u[g, i]), current, *params)
            if np.float32(vn) >= 30.0:
                vn, un = -65.0, float(np.float32(un)) + 200.0
            assert v[g + 1, i] == np.float32(vn), (g, i)
            assert u[g + 1, i] == np.float32(un), (g, i)
    assert out.spikes.counts()[0] == 0 and out.spikes.counts()[1] > 0


# ----------------------------------------------------------------------------------------------
# 7. Non-finite state
# ----------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_huge_current_raises_non_finite_state_error(backend):
    pop = IzhikevichPopulation.from_preset("RS", 5)
    current = np.zeros((20, 5))
    current[5, 3] = 1e40  # 0.1 ms x 1e40 overflows float32
    res = IzhikevichReservoir(pop, backend=backend)
    with pytest.raises(NonFiniteStateError) as info:
        res.run(2.0, current=current)
    err = info.value
    assert isinstance(err, SpikesubError) and isinstance(err, FloatingPointError)
    assert (err.step, err.neuron) == (5, 3)
    assert "step 5" in str(err) and "neuron 3" in str(err)
    assert res.step == 6


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_non_finite_step_counts_from_the_start_of_the_run(backend):
    pop = IzhikevichPopulation.from_preset("RS", 5)
    res = IzhikevichReservoir(pop, backend=backend)
    res.run(3.0)
    current = np.zeros((20, 5))
    current[12, 1] = 1e40
    current[12, 4] = 1e40
    with pytest.raises(NonFiniteStateError) as info:
        res.run(2.0, current=current)
    assert (info.value.step, info.value.neuron) == (12, 1)  # the first bad neuron
    assert "step 12" in str(info.value)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize(("dtype", "w"), [(np.float32, 1e30), (np.float64, 1e200)])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_overflowing_weights_raise_non_finite_state_error(backend, dtype, w):
    """Neuron 0's spike adds w to neuron 1's v; the next update of neuron 1 overflows."""
    pop = IzhikevichPopulation.from_preset("RS", 2)
    drive = np.array([10.0, 0.0])
    quiet = IzhikevichReservoir(pop, backend="numpy", dtype=dtype).run(20.0, current=drive)
    g = int(round(quiet.spikes.times_ms[0] / 0.1))
    res = IzhikevichReservoir(pop, np.array([[0.0, w], [0.0, 0.0]]), backend=backend, dtype=dtype)
    with pytest.raises(NonFiniteStateError) as info:
        res.run(20.0, current=drive)
    assert (info.value.step, info.value.neuron) == (g + 1, 1)
    assert f"step {g + 1}" in str(info.value) and "neuron 1" in str(info.value)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ([(9, 2), (7, 50), (7, 40)], (7, 40)),  # second thread first
        ([(7, 50), (7, 10), (7, 40)], (7, 10)),  # both threads in one step: lowest index
        ([(4, 28), (4, 29)], (4, 28)),  # both sides of the split
    ],
)
def test_threaded_numba_non_finite_reports_the_first_bad_neuron(bad, expected):
    _require_two_threads()
    pop = IzhikevichPopulation.izhikevich_2003(47, 12, seed=0)  # split at 29
    current = np.zeros((30, pop.n))
    for step, neuron in bad:
        current[step, neuron] = 1e40
    res = IzhikevichReservoir(pop, backend="numba", n_threads=2)
    assert res.n_threads == 2
    with pytest.raises(NonFiniteStateError) as info:
        res.run(3.0, current=current)
    assert (info.value.step, info.value.neuron) == expected
    assert res.step == expected[0] + 1


# ----------------------------------------------------------------------------------------------
# 8. Bad parameters
# ----------------------------------------------------------------------------------------------

POP = IzhikevichPopulation.from_preset("RS", 4)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dt_ms": 0.0}, ValueError, "dt_ms"),
        ({"dt_ms": -0.1}, ValueError, "dt_ms"),
        ({"dt_ms": float("nan")}, ValueError, "dt_ms"),
        ({"dt_ms": "0.1"}, TypeError, "dt_ms"),
        ({"synapse": "alpha"}, ValueError, "synapse"),
        ({"backend": "tpu"}, ValueError, "backend"),
        ({"backend": 3}, TypeError, "backend"),
        ({"dtype": np.int32}, TypeError, "dtype"),
        ({"dtype": np.float16}, TypeError, "dtype"),
        ({"noise_interval_ms": 0.25}, ValueError, "noise_interval_ms"),
        ({"noise_interval_ms": 0.04}, ValueError, "noise_interval_ms"),
        ({"noise_interval_ms": 0.0}, ValueError, "noise_interval_ms"),
        ({"noise_std": -1.0}, ValueError, "noise_std"),
        ({"noise_std": [1.0, 1.0, -0.5, 1.0]}, ValueError, "noise_std"),
        ({"noise_std": float("nan")}, ValueError, "noise_std"),
        ({"bias_current": [1.0, 2.0]}, ValueError, "bias_current"),
        ({"bias_current": float("inf")}, ValueError, "bias_current"),
        ({"tau_syn_ms": 0.0}, ValueError, "tau_syn_ms"),
        ({"tau_rise_ms": -1.0}, ValueError, "tau_rise_ms"),
        ({"tau_decay_ms": float("inf")}, ValueError, "tau_decay_ms"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 1.5}, (TypeError, ValueError), "seed"),
        ({"n_threads": 0}, ValueError, "n_threads"),
        ({"weights": np.zeros((4, 5))}, ValueError, "weights"),
        ({"weights": np.zeros((3, 3))}, ValueError, "weights"),
        ({"weights": np.full((4, 4), np.nan)}, ValueError, "weights"),
        (
            {"weights": SparseWeights.from_dense(np.ones((5, 5)))},
            ValueError,
            "weights",
        ),
    ],
)
def test_constructor_rejects_bad_parameters(kwargs, error, match):
    kwargs = dict(kwargs)
    weights = kwargs.pop("weights", None)
    kwargs.setdefault("backend", "numpy")
    with pytest.raises(error, match=match):
        IzhikevichReservoir(POP, weights, **kwargs)


def test_constructor_rejects_a_population_of_another_type():
    with pytest.raises(TypeError, match="population"):
        IzhikevichReservoir(np.zeros(4), backend="numpy")


def _poisson(rates, n=4):
    rates = np.asarray(rates, dtype=float)
    return PoissonInput(rates, np.ones((rates.shape[-1], n)))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"duration_ms": 0.0}, ValueError, "duration_ms"),
        ({"duration_ms": -5.0}, ValueError, "duration_ms"),
        ({"duration_ms": float("nan")}, ValueError, "duration_ms"),
        ({"duration_ms": float("inf")}, ValueError, "duration_ms"),
        ({"duration_ms": 0.04}, ValueError, "duration_ms"),  # rounds to 0 steps
        ({"duration_ms": None}, TypeError, "duration_ms"),
        ({"current": np.array([1.0, np.nan, 0.0, 0.0])}, ValueError, "current"),
        ({"current": np.full((10, 4), np.inf)}, ValueError, "current"),
        ({"current": np.zeros(5)}, ValueError, "current"),
        ({"current": np.zeros((11, 4))}, ValueError, "current"),
        ({"current": np.zeros((10, 3))}, ValueError, "current"),
        ({"current": CurrentInput(np.zeros((10, 2)), np.zeros((2, 5)))}, ValueError, "encoder"),
        ({"current": CurrentInput(np.zeros((9, 2)), np.zeros((2, 4)))}, ValueError, "signal"),
        ({"poisson": _poisson([20000.0])}, ValueError, "rate_hz"),
        ({"poisson": _poisson(np.full((9, 2), 10.0))}, ValueError, "rate_hz"),
        ({"poisson": _poisson([10.0], n=5)}, ValueError, "poisson.weights"),
        ({"poisson": np.ones(4)}, TypeError, "poisson"),
        ({"record_state": ("v", "w")}, ValueError, "record_state"),
        ({"record_state": "spikes"}, ValueError, "record_state"),
        ({"record_state": "v", "record_indices": [4]}, ValueError, "record_indices"),
        ({"record_state": "v", "record_indices": [-1]}, ValueError, "record_indices"),
        ({"record_state": "v", "record_indices": []}, ValueError, "record_indices"),
        ({"record_every": 0}, ValueError, "record_every"),
        ({"record_every": -2}, ValueError, "record_every"),
        ({"record_every": 1.5}, TypeError, "record_every"),
    ],
)
def test_run_rejects_bad_parameters(kwargs, error, match):
    res = IzhikevichReservoir(POP, backend="numpy")
    kwargs = {"duration_ms": 1.0, **kwargs}
    duration = kwargs.pop("duration_ms")
    with pytest.raises(error, match=match):
        res.run(duration, **kwargs)
    assert res.step == 0  # nothing ran


def test_poisson_rate_at_exactly_one_over_dt_is_allowed_and_always_fires():
    res = IzhikevichReservoir(POP, backend="numpy")
    poisson = PoissonInput([10000.0, 0.0], np.array([[1e-3, 0, 0, 0], [0, 0, 0, 1e-3]]))
    out = res.run(1.0, poisson=poisson, record_state="v", record_indices=[0, 3])
    v = out.state["v"]
    # neuron 0 gets 1e-3 every step on top of its own dynamics, neuron 3 nothing
    assert np.all(v[1:, 0] > v[1:, 1])


def test_resolve_backend_without_cuda_names_numba(monkeypatch):
    monkeypatch.setattr(backends, "cuda_available", lambda: False)
    with pytest.raises(BackendUnavailableError, match="numba") as info:
        resolve_backend("cuda")
    assert "cuda" in str(info.value)
    assert resolve_backend("auto") == "numba"
    assert resolve_backend("NumPy") == "numpy"
    with pytest.raises(BackendUnavailableError, match="numba"):
        IzhikevichReservoir(POP, backend="cuda")


def test_auto_backend_is_numba_without_a_real_gpu(monkeypatch):
    monkeypatch.setattr(backends, "gpu_present", lambda: False)
    assert IzhikevichReservoir(POP, backend="auto").backend == "numba"


# ----------------------------------------------------------------------------------------------
# Construction and configuration
# ----------------------------------------------------------------------------------------------


def test_izhikevich_2003_constructor_sets_up_the_published_network():
    res = IzhikevichReservoir.izhikevich_2003(80, 20, p=0.2, seed=1, backend="numpy")
    assert res.n_neurons == 100 and res.synapse == "delta" and res.noise_interval_ms == 1.0
    np.testing.assert_array_equal(res.noise_std, np.where(np.arange(100) < 80, 5.0, 2.0))
    w = res.weights
    rows_exc = w.weights[: w.indptr[80]]
    rows_inh = w.weights[w.indptr[80] :]
    assert np.all(rows_exc >= 0) and np.all(rows_inh <= 0)
    scale = 1000.0 / (0.2 * 100)  # 1000 / K
    assert rows_exc.max() <= 0.5 * scale and rows_inh.min() >= -scale
    assert 0.1 < w.nnz / 100**2 < 0.3
    same = IzhikevichReservoir.izhikevich_2003(80, 20, p=0.2, seed=1, backend="numpy")
    np.testing.assert_array_equal(same.weights.weights, w.weights)
    fixed = IzhikevichReservoir.izhikevich_2003(80, 20, in_degree=10, seed=1, backend="numpy")
    np.testing.assert_array_equal(fixed.weights.in_degree(), np.full(100, 10))


def test_config_is_json_serialisable_and_describes_the_network():
    res, _ = net_exponential("numpy")
    config = json.loads(json.dumps(res.config()))
    assert config["synapse"] == "exponential"
    assert config["dt_ms"] == 0.1 and config["dtype"] == "float32"
    assert config["backend"] == "numpy" and config["seed"] == 5
    assert config["population"]["form"] == "2003"
    assert config["weights"]["n_pre"] == 59


def test_sparse_and_dense_weights_give_the_same_run():
    rng = np.random.default_rng(0)
    pop = IzhikevichPopulation.izhikevich_2003(20, 5, seed=0)
    dense = _dale_dense(rng, pop, 0.3, 6.0, 12.0)
    a = IzhikevichReservoir(pop, dense, noise_std=5.0, backend="numba", seed=1).run(100.0)
    sparse = SparseWeights.from_dense(dense, dtype=np.float64)
    b = IzhikevichReservoir(pop, sparse, noise_std=5.0, backend="numba", seed=1).run(100.0)
    assert len(a.spikes) > 0
    assert_same_result(a, b)


# ----------------------------------------------------------------------------------------------
# 10. float32 precision: the update's arithmetic in float32
# ----------------------------------------------------------------------------------------------


def fast_2003(backend, n_threads=None, n_exc=80, n_inh=20, p=0.2, seed=4):
    """The Izhikevich (2003) network with its thalamic noise, float32 arithmetic."""
    return IzhikevichReservoir.izhikevich_2003(
        n_exc, n_inh, p=p, backend=backend, seed=seed, n_threads=n_threads, precision="float32"
    )


def fast_2007(backend, n_threads=None):
    """2007-form neurons, double-exponential synapses, a current array and Poisson input."""
    res, _ = net_2007("numpy")
    rng = np.random.default_rng(7)
    fast = IzhikevichReservoir(
        res.population,
        res.weights,
        synapse="double_exponential",
        bias_current=1000.0,
        noise_std=200.0,
        noise_interval_ms=0.5,
        dt_ms=0.05,
        backend=backend,
        seed=3,
        n_threads=n_threads,
        precision="float32",
    )
    steps = 3000
    current = rng.normal(0.0, 300.0, (steps, res.n_neurons))
    poisson = PoissonInput(np.full(5, 400.0), _random_dense(rng, 5, res.n_neurons, 0.5, 0, 3000))
    return fast, {"duration_ms": steps * 0.05, "current": current, "poisson": poisson}


def fast_substeps(backend, n_threads=None):
    """Two sub-steps (computed in float64 with the float32 parameters), noise and a bias."""
    pop = IzhikevichPopulation.izhikevich_2003(40, 10, seed=1).with_substeps(2)
    res = IzhikevichReservoir(
        pop, None, noise_std=5.0, bias_current=3.0, backend=backend, seed=2,
        n_threads=n_threads, precision="float32",
    )  # fmt: skip
    return res, {"duration_ms": 100.0}


@pytest.mark.parametrize("n_threads", [None, 2], ids=["serial", "threaded"])
@pytest.mark.parametrize("name", ["2003", "2007", "substeps"])
def test_float32_precision_numba_matches_numpy_bit_for_bit(name, n_threads):
    """The float32 arithmetic has its NumPy reference too: same spikes, same state."""
    if n_threads:
        _require_two_threads()
    runs = {}
    for backend, threads in (("numpy", None), ("numba", n_threads)):
        if name == "2003":
            res, run_args = fast_2003(backend, threads), {"duration_ms": 200.0}
        elif name == "2007":
            res, run_args = fast_2007(backend, threads)
        else:
            res, run_args = fast_substeps(backend, threads)
        out = res.run(**run_args, record_state=("v", "u"), record_indices=np.arange(res.n_neurons))
        runs[backend] = out, res
    (ref, ref_res), (out, out_res) = runs["numpy"], runs["numba"]
    assert len(ref.spikes) > 50
    assert_same_result(ref, out)
    assert_same_state(final_state(ref_res), final_state(out_res))


def test_float32_precision_uses_float32_parameters():
    res = fast_2003("numba")
    params = res._neuron_params()
    assert all(x.dtype == np.float32 for x in params[1:9])
    assert all(not x.flags.writeable for x in params[1:9])
    default = IzhikevichReservoir.izhikevich_2003(80, 20, p=0.2, backend="numba")
    assert all(x.dtype == np.float64 for x in default._neuron_params()[1:9])
    assert default.precision == "float64" and res.config()["precision"] == "float32"


@pytest.mark.slow
def test_float32_precision_keeps_the_statistics_of_float64():
    """The benchmark's network (10 000 neurons, p = 0.1, noise), 1 s: float32 arithmetic drifts
    from the default trajectory (the network is chaotic) but not its statistics. Measured on
    seeds 0-4: total counts within 0.25 %, excitatory within 0.2 %, inhibitory within 1.0 %
    (float64 state against the default float32 state: 0.5 %, 0.4 %, 0.8 %); the tolerance is
    1 % for the total and 2 % for each population."""
    counts = {}
    for precision in ("float64", "float32"):
        res = IzhikevichReservoir.izhikevich_2003(
            8000, 2000, p=0.1, backend="numba", seed=1, n_threads=1, precision=precision
        )
        counts[precision] = res.run(1000.0).spikes.counts()
    ref, fast = counts["float64"], counts["float32"]
    assert ref.sum() > 50_000
    assert not np.array_equal(ref, fast)  # the arithmetic does differ
    for part, tol in ((slice(None), 0.01), (slice(0, 8000), 0.02), (slice(8000, None), 0.02)):
        assert abs(int(fast[part].sum()) - int(ref[part].sum())) <= tol * ref[part].sum()


def test_precision_is_checked():
    pop = IzhikevichPopulation.from_preset("RS", 4)
    with pytest.raises(ValueError, match="precision must be one of"):
        IzhikevichReservoir(pop, backend="numpy", precision="float16")
    with pytest.raises(ValueError, match="needs dtype=float32"):
        IzhikevichReservoir(pop, backend="numpy", dtype=np.float64, precision="float32")
