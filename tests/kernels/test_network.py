"""The network loop (spikesub.kernels.network) through the reservoir: the Numba loops, serial and
threaded, reproduce the NumPy reference bit for bit (float64, float32 state, float32
arithmetic), and a non-finite state is caught at its step and neuron.

Numba compiles the network loop once per combination of neuron form, dtype and serial/threaded
variant; the tests keep to a handful of combinations: 2003 form float32 / float64 serial,
2007 form float32 / float64 serial, 2003 form float32 threaded.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reservoir_cases import (  # tests/reservoir_cases.py
    DTYPES,
    NETWORKS,
    _dale_dense,
    _random_dense,
    _require_two_threads,
    assert_same_result,
    assert_same_state,
    final_state,
    net_2007,
    simulate,
    single_population,
)

from spikesub.models.errors import NonFiniteStateError, SpikesubError
from spikesub.models.network.inputs import PoissonInput
from spikesub.models.network.neurons import IzhikevichPopulation
from spikesub.models.network.reservoir import IzhikevichReservoir

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
    weights = np.array([[0.0, 0.0], [w, 0.0]])  # W[post, pre]: neuron 0 -> neuron 1
    res = IzhikevichReservoir(pop, weights, backend=backend, dtype=dtype)
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
