"""The reservoir tests' networks and helpers: small networks that exercise every input,
synapse and neuron form, and comparisons of results bit for bit.

Imported by the tests as ``reservoir_cases`` (tests/conftest.py puts this folder on the path).
"""

from __future__ import annotations

import numba
import numpy as np

from spikesub.models.network.inputs import CurrentInput, PoissonInput
from spikesub.models.network.monitors import SimulationResult
from spikesub.models.network.neurons import IzhikevichPopulation
from spikesub.models.network.reservoir import IzhikevichReservoir

DTYPES = (np.float32, np.float64)

# ----------------------------------------------------------------------------------------------
# Networks used throughout
# ----------------------------------------------------------------------------------------------


def _random_dense(rng, n_pre, n_post, p, low, high):
    """Dense ``W[post, pre]`` ``(n_post, n_pre)``, uniform in [low, high), each kept with
    probability p (drawn in (pre, post) order)."""
    w = rng.uniform(low, high, (n_pre, n_post)) * (rng.random((n_pre, n_post)) < p)
    return w.T


def _dale_dense(rng, pop, p, w_exc, w_inh):
    """Dense recurrent weights ``W[post, pre]``: columns of excitatory neurons in
    [0, w_exc), of inhibitory ones in (-w_inh, 0]."""
    w = _random_dense(rng, pop.n, pop.n, p, 0.0, 1.0)
    return np.where(pop.excitatory[None, :], w * w_exc, -w * w_inh)


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
    encoder = rng.normal(0.0, 8.0, (3, pop.n)).T  # (neurons, channels)
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
    names = ("v", "u", "syn_a", "syn_b", "syn_in", "noise", "inh_gain", "rate_hz")
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
