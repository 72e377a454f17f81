"""IzhikevichReservoir: determinism, continuation, monitors, bad parameters, construction.

The hot loop's bit-for-bit checks are in tests/kernels/test_network.py, the CUDA backend in
test_reservoir_cuda.py, the physics of a step in test_reservoir_physics.py.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from reservoir_cases import (  # tests/reservoir_cases.py
    _dale_dense,
    _random_dense,
    _require_two_threads,
    assert_same_result,
    assert_same_state,
    concat_spikes,
    final_state,
    net_2003,
    net_exponential,
    simulate,
    single_population,
)

from spikesub.kernels import backends
from spikesub.kernels.backends import BackendUnavailableError, resolve_backend
from spikesub.kernels.izhikevich import izhikevich2003_scalar
from spikesub.kernels.network import STREAM_NOISE
from spikesub.kernels.rng import normal_numpy
from spikesub.models.network.connectivity import SparseWeights
from spikesub.models.network.inputs import CurrentInput, PoissonInput
from spikesub.models.network.monitors import SpikeTrains
from spikesub.models.network.neurons import IzhikevichPopulation
from spikesub.models.network.reservoir import IzhikevichReservoir

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
    assert all(not np.any(x) for x in final_state(res)[2:6])
    np.testing.assert_array_equal(res.inhibitory_gain, 1.0)  # no homeostasis: gains stay 1
    assert not np.any(res.rate_estimate_hz)
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
    return PoissonInput(rates, np.ones((n, rates.shape[-1])))


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
        ({"current": CurrentInput(np.zeros((10, 2)), np.zeros((5, 2)))}, ValueError, "encoder"),
        ({"current": CurrentInput(np.zeros((9, 2)), np.zeros((4, 2)))}, ValueError, "signal"),
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
    # W[post, pre]: channel 0 -> neuron 0, channel 1 -> neuron 3
    poisson = PoissonInput([10000.0, 0.0], np.array([[1e-3, 0, 0, 0], [0, 0, 0, 1e-3]]).T)
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


def test_a_signal_at_its_own_rate_drives_the_run_as_its_steps_would():
    rng = np.random.default_rng(8)
    signal = rng.normal(0.0, 1.0, (50, 2))  # one sample per ms
    encoder = rng.normal(0.0, 6.0, (100, 2))
    sampled = CurrentInput(signal, encoder, sample_ms=1.0)
    per_step = CurrentInput(np.repeat(signal, 10, axis=0), encoder)  # dt = 0.1 ms
    runs = []
    for current in (sampled, per_step):
        res = IzhikevichReservoir.izhikevich_2003(80, 20, seed=3, backend="numba")
        runs.append(res.run(50.0, current=current, record_state="v"))
    assert len(runs[0].spikes) > 0
    np.testing.assert_array_equal(runs[0].spikes.indices, runs[1].spikes.indices)
    np.testing.assert_array_equal(runs[0].state["v"], runs[1].state["v"])
    res = IzhikevichReservoir.izhikevich_2003(80, 20, seed=3, backend="numba")
    with pytest.raises(ValueError, match="current.signal covers 50 ms; the run needs 60 ms"):
        res.run(60.0, current=sampled)


def test_sampled_poisson_rates_drive_the_run_as_their_steps_would():
    rng = np.random.default_rng(9)
    rates = rng.uniform(0.0, 300.0, (40, 3))  # one row per ms
    weights = rng.uniform(0.0, 5.0, (100, 3))
    outs = []
    for poisson in (
        PoissonInput(rates, weights, sample_ms=1.0),
        PoissonInput(np.repeat(rates, 10, axis=0), weights),
    ):
        res = IzhikevichReservoir.izhikevich_2003(80, 20, seed=3, backend="numba")
        outs.append(res.run(40.0, poisson=poisson, record_state="v"))
    assert len(outs[0].spikes) > 0
    np.testing.assert_array_equal(outs[0].state["v"], outs[1].state["v"])
