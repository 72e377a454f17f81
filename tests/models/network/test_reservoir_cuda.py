"""IzhikevichReservoir on the CUDA backend (Numba's simulator without a GPU): NumPy's results up
to float rounding, the persistent loop against a launch per phase, continuation, errors.
"""

from __future__ import annotations

import numpy as np
import pytest
from reservoir_cases import (  # tests/reservoir_cases.py
    _dale_dense,
    _random_dense,
    concat_spikes,
)

from spikesub.models.errors import NonFiniteStateError
from spikesub.models.network.inputs import PoissonInput
from spikesub.models.network.neurons import IzhikevichPopulation
from spikesub.models.network.reservoir import IzhikevichReservoir

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
