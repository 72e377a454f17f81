"""LIFReservoir: leaky integrate-and-fire neurons in the fused network loops.

Unconnected, it spikes exactly as :meth:`LIFPopulation.run` (the same update); connected, the
NumPy and Numba loops agree bit for bit and CUDA (simulator) agrees on the spikes; a saved LIF
reservoir continues bit for bit; each reservoir class takes only its kind of population.
"""

from __future__ import annotations

import numpy as np
import pytest

import spikesub as ss
from spikesub.models.network.reservoir import IzhikevichReservoir, LIFReservoir, SpikingReservoir


def _population(n=40, reset="zero", excitatory=None, seed=0):
    rng = np.random.default_rng(seed)
    return ss.LIFPopulation(
        n,
        tau_ms=rng.uniform(10.0, 30.0, n),
        v_rest=-65.0,
        v_th=rng.uniform(-52.0, -48.0, n),
        v_reset=-70.0,
        resistance=10.0,
        refractory_ms=2.0,
        reset=reset,
        excitatory=excitatory,
    )


def _spike_matrix(result, n_steps, dt_ms):
    out = np.zeros((n_steps, result.n_neurons), dtype=bool)
    out[np.round(result.spikes.times_ms / dt_ms).astype(int), result.spikes.indices] = True
    return out


@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_unconnected_lif_spikes_as_the_population_kernel(reset, backend):
    pop = _population(reset=reset)
    # currents exact in float32, as LIFPopulation.run stores its current in the state dtype
    current = np.random.default_rng(1).uniform(1.0, 3.0, pop.n).astype(np.float32)
    reference, _ = pop.run(current, 0.1, steps=2000, backend="numpy", dtype=np.float32)
    reservoir = LIFReservoir(pop, None, bias_current=current.astype(np.float64), backend=backend)
    result = reservoir.run(200.0)
    assert reference.sum() > 100
    np.testing.assert_array_equal(_spike_matrix(result, 2000, 0.1), reference)


def test_refractory_neurons_count_down_in_u_and_sit_at_v_reset():
    pop = ss.LIFPopulation(1, tau_ms=10.0, v_rest=0.0, v_th=1.0, v_reset=0.0, refractory_ms=0.5)
    reservoir = LIFReservoir(pop, None, bias_current=50.0, dt_ms=0.1, backend="numpy")
    result = reservoir.run(3.0, record_state=("v", "u"), record_indices=[0])
    steps = np.round(result.spikes.times_ms / 0.1).astype(int)
    # v after one step: (1 - exp(-0.01)) * 50 = 0.4975; the third step crosses 1
    assert steps[0] == 2
    # five steps refractory after each spike, then three steps to threshold again
    np.testing.assert_array_equal(np.diff(steps), 8)
    u = result.state["u"][:, 0]
    np.testing.assert_array_equal(u[3:9], [5, 4, 3, 2, 1, 0])
    np.testing.assert_array_equal(result.state["v"][4:9, 0], 0.0)


def _recurrent(backend, precision="float64", dtype=np.float32, n=300, seed=3, bias=14.0):
    exc = np.arange(n) < int(0.8 * n)
    v_init = np.random.default_rng(0).uniform(-65.0, -50.0, n)
    pop = ss.LIFPopulation(
        n,
        tau_ms=20.0,
        v_rest=-65.0,
        v_th=-50.0,
        v_reset=-65.0,
        refractory_ms=2.0,
        excitatory=exc,
        v_init=v_init,
    )
    conn = ss.random_connectivity(n, n, p=0.1, seed=1)
    weights = ss.dale_weights(conn, exc, w_exc=(0.5, 1.5), w_inh=(2.0, 6.0), seed=2)
    return LIFReservoir(
        pop,
        weights,
        bias_current=bias,
        noise_std=5.0,
        backend=backend,
        dtype=dtype,
        precision=precision,
        seed=seed,
    )


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_recurrent_lif_numpy_and_numba_agree_bit_for_bit(precision):
    out = []
    for backend in ("numpy", "numba"):
        result = _recurrent(backend, precision).run(200.0, record_state=("v", "u"))
        out.append(result)
    a, b = out
    assert 5.0 < len(a.spikes) / 300 / 0.2 < 100.0  # a few to tens of Hz
    np.testing.assert_array_equal(a.spikes.times_ms, b.spikes.times_ms)
    np.testing.assert_array_equal(a.spikes.indices, b.spikes.indices)
    np.testing.assert_array_equal(a.state["v"], b.state["v"])
    np.testing.assert_array_equal(a.state["u"], b.state["u"])


def test_subtract_reset_keeps_the_overshoot():
    pop = ss.LIFPopulation(1, tau_ms=1e9, v_rest=0.0, v_th=1.0, v_reset=0.0, reset="subtract")
    reservoir = LIFReservoir(pop, None, dt_ms=1.0, backend="numba", dtype=np.float64)
    # a near-perfect integrator driven by 0.8 a step: v = 0.8, 1.6 -> 0.6, 1.4 -> 0.4, 1.2 -> 0.2
    result = reservoir.run(4.0, current=np.full((4, 1), 0.8 / (1 - np.exp(-1e-9))))
    np.testing.assert_array_equal(np.round(result.spikes.times_ms), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(reservoir.v, [0.2], atol=1e-6)


@pytest.mark.cuda
def test_cuda_lif_matches_numpy():
    out = []
    for backend in ("numpy", "cuda"):
        reservoir = _recurrent(backend, dtype=np.float64, n=30, seed=5, bias=25.0)
        out.append(reservoir.run(15.0, record_state=("v",), record_indices=np.arange(30)))
    a, b = out
    assert len(a.spikes) > 10
    np.testing.assert_array_equal(a.spikes.times_ms, b.spikes.times_ms)
    np.testing.assert_array_equal(a.spikes.indices, b.spikes.indices)
    np.testing.assert_allclose(a.state["v"], b.state["v"], rtol=0, atol=1e-9)


def test_a_saved_lif_reservoir_continues_bit_for_bit(tmp_path):
    whole = _recurrent("numba")
    reference = whole.run(100.0)
    first = _recurrent("numba")
    first.run(50.0)
    loaded = SpikingReservoir.load(first.save(tmp_path / "lif"))
    assert isinstance(loaded, LIFReservoir)
    np.testing.assert_array_equal(loaded.population.excitatory, first.population.excitatory)
    rest = loaded.run(50.0)
    later = reference.spikes.times_ms >= 50.0 - 1e-9
    np.testing.assert_array_equal(rest.spikes.times_ms, reference.spikes.times_ms[later])
    np.testing.assert_array_equal(rest.spikes.indices, reference.spikes.indices[later])
    np.testing.assert_array_equal(loaded.v, whole.v)


def test_each_reservoir_class_takes_its_kind_of_population():
    lif = _population(n=10)
    izh = ss.IzhikevichPopulation.izhikevich_2003(8, 2, seed=0)
    with pytest.raises(TypeError, match="IzhikevichReservoir: population must be an Izhikev"):
        IzhikevichReservoir(lif)
    with pytest.raises(TypeError, match="LIFReservoir: population must be an LIFPopulation"):
        LIFReservoir(izh)
    assert type(SpikingReservoir.for_population(lif)) is LIFReservoir
    assert type(SpikingReservoir.for_population(izh)) is IzhikevichReservoir
    # the base class takes either, and both kinds read the same way
    for pop in (lif, izh):
        result = SpikingReservoir(pop, None, bias_current=20.0).run(20.0)
        assert result.excitatory.shape == (pop.n,)


def test_lif_population_reports_its_excitatory_neurons():
    pop = _population(n=10, excitatory=np.arange(10) < 7)
    assert pop.n_excitatory == 7
    summary = pop.to_dict()
    assert summary["form"] == "lif" and summary["n_inhibitory"] == 3
    with pytest.raises(ValueError, match="excitatory must be a bool or have shape"):
        _population(n=10, excitatory=np.ones(3, dtype=bool))
