"""IzhikevichReservoir's physics of a step: tonic firing, delivery before reset, threshold
before delivery, synaptic charge, the documented Poisson draws, the 2007 form.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikesub.kernels.izhikevich import izhikevich2003_scalar, izhikevich2007_scalar
from spikesub.kernels.network import STREAM_POISSON
from spikesub.kernels.rng import uniform_numpy
from spikesub.models.network.inputs import PoissonInput
from spikesub.models.network.neurons import IzhikevichPopulation
from spikesub.models.network.reservoir import IzhikevichReservoir

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
    weights = np.array([[0.0, 0.0], [w, 0.0]])  # W[post, pre]: neuron 0 -> neuron 1
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
    weights = np.array([[0.0, 0.0], [5.0, 0.0]])  # W[post, pre]: neuron 0 -> neuron 1
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
    weights = np.array([[0.0, 0.0], [150.0, 0.0]])  # W[post, pre]: neuron 0 -> neuron 1
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
        np.array([[0.0, w], [0.0, 0.0]]),  # W[post, pre]: neuron 1 -> neuron 0
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
