"""Neuron populations: Izhikevich parameters and LIF simulation on every backend."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesub.models.network.neurons import IZHIKEVICH_PRESETS, IzhikevichPopulation, LIFPopulation

# -- presets -----------------------------------------------------------------------------------

FIG2 = {
    "RS": (0.02, 0.2, -65, 8),
    "IB": (0.02, 0.2, -55, 4),
    "CH": (0.02, 0.2, -50, 2),
    "FS": (0.1, 0.2, -65, 2),
    "LTS": (0.02, 0.25, -65, 2),
    "TC": (0.02, 0.25, -65, 0.05),
    "RZ": (0.1, 0.26, -65, 2),
}


def test_preset_table_matches_izhikevich_2003_fig2():
    assert set(IZHIKEVICH_PRESETS) == set(FIG2)
    for name, (a, b, c, d) in FIG2.items():
        assert IZHIKEVICH_PRESETS[name] == {"a": a, "b": b, "c": c, "d": d}


@pytest.mark.parametrize("name", list(FIG2))
def test_from_preset_parameters_and_defaults(name):
    a, b, c, d = FIG2[name]
    pop = IzhikevichPopulation.from_preset(name.lower(), 5)
    assert pop.form == "2003" and pop.n == 5
    for field, value in zip("abcd", (a, b, c, d), strict=True):
        arr = getattr(pop, field)
        assert arr.dtype == np.float64 and np.all(arr == value)
    assert np.all(pop.v_init == -65.0)
    assert np.array_equal(pop.u_init, b * pop.v_init)
    assert np.all(pop.excitatory == (name not in ("FS", "LTS")))
    assert pop.C is None and pop.k is None and pop.v_r is None and pop.v_t is None


def test_from_preset_overrides():
    pop = IzhikevichPopulation.from_preset("Rs", 3, excitatory=False, v_init=[-70.0, -60.0, -50.0])
    assert not pop.excitatory.any()
    assert np.array_equal(pop.u_init, [0.2 * -70.0, 0.2 * -60.0, 0.2 * -50.0])


def test_unknown_preset_lists_known_ones():
    with pytest.raises(ValueError, match="unknown Izhikevich preset 'XX'.*RS.*LTS.*RZ"):
        IzhikevichPopulation.from_preset("XX", 3)
    with pytest.raises(ValueError, match="n must be >= 1"):
        IzhikevichPopulation.from_preset("RS", 0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        IzhikevichPopulation.from_preset("RS", -4)
    with pytest.raises(TypeError, match="n must be an integer"):
        IzhikevichPopulation.from_preset("RS", 2.5)


# -- heterogeneous 2003 network ----------------------------------------------------------------


def test_izhikevich_2003_parameters_within_published_ranges():
    pop = IzhikevichPopulation.izhikevich_2003(800, 200, seed=3)
    assert pop.n == 1000 and pop.n_excitatory == 800
    assert np.all(pop.excitatory[:800]) and not np.any(pop.excitatory[800:])
    e, i = slice(0, 800), slice(800, 1000)
    assert np.all(pop.a[e] == 0.02) and np.all(pop.b[e] == 0.2)
    assert np.all((pop.c[e] >= -65) & (pop.c[e] <= -50))
    assert np.all((pop.d[e] >= 2) & (pop.d[e] <= 8))
    assert np.all((pop.a[i] >= 0.02) & (pop.a[i] <= 0.1))
    assert np.all((pop.b[i] >= 0.2) & (pop.b[i] <= 0.25))
    assert np.all(pop.c[i] == -65) and np.all(pop.d[i] == 2)
    assert np.all(pop.v_init == -65) and np.array_equal(pop.u_init, pop.b * -65.0)
    # c and d of an excitatory neuron come from the same r: c + 65 = 15 r^2, 8 - d = 6 r^2
    assert np.allclose((pop.c[e] + 65) / 15, (8 - pop.d[e]) / 6)
    # r spreads over (0, 1): c covers most of its range
    assert pop.c[e].min() < -64 and pop.c[e].max() > -51


def test_izhikevich_2003_draws_excitatory_then_inhibitory_r():
    rng = np.random.default_rng(12)
    re, ri = rng.random(30), rng.random(10)
    pop = IzhikevichPopulation.izhikevich_2003(30, 10, seed=12)
    assert np.array_equal(pop.c[:30], -65 + 15 * re**2)
    assert np.array_equal(pop.d[:30], 8 - 6 * re**2)
    assert np.array_equal(pop.a[30:], 0.02 + 0.08 * ri)
    assert np.array_equal(pop.b[30:], 0.25 - 0.05 * ri)


def test_izhikevich_2003_seeding():
    a = IzhikevichPopulation.izhikevich_2003(50, 10, seed=1)
    b = IzhikevichPopulation.izhikevich_2003(50, 10, seed=1)
    c = IzhikevichPopulation.izhikevich_2003(50, 10, seed=2)
    assert np.array_equal(a.c, b.c) and not np.array_equal(a.c, c.c)
    g = IzhikevichPopulation.izhikevich_2003(50, 10, seed=np.random.default_rng(1))
    assert np.array_equal(g.d, a.d)
    only_inh = IzhikevichPopulation.izhikevich_2003(0, 5, seed=0)
    assert only_inh.n == 5 and only_inh.n_excitatory == 0
    with pytest.raises(ValueError, match="n_exc"):
        IzhikevichPopulation.izhikevich_2003(-1, 5)
    with pytest.raises(ValueError, match="n_exc \\+ n_inh"):
        IzhikevichPopulation.izhikevich_2003(0, 0)


# -- 2007 form ---------------------------------------------------------------------------------


def test_izhikevich_2007_defaults_and_initial_potentials():
    pop = IzhikevichPopulation.izhikevich_2007(500, seed=4)
    assert pop.form == "2007" and pop.n == 500 and pop.n_excitatory == 500
    assert np.all(pop.C == 250.0) and np.all(pop.k == 2.5)
    assert np.all(pop.v_r == -60.0) and np.all(pop.v_t == -40.0)
    assert np.all(pop.c == -65.0) and np.all(pop.d == 200.0)
    assert np.all(pop.a == 0.01) and np.all(pop.b == 0.0) and pop.v_peak == 30.0
    assert np.all((pop.v_init >= -60.0) & (pop.v_init < 30.0))
    expected = -60.0 + 90.0 * np.random.default_rng(4).random(500)
    assert np.array_equal(pop.v_init, expected)
    assert np.all(pop.u_init == 0.0)


def test_izhikevich_2007_per_neuron_arrays():
    C = np.linspace(100, 200, 4)
    pop = IzhikevichPopulation.izhikevich_2007(
        4, C=C, v_reset=-50.0, v_init=-60.0, excitatory=[1, 1, 0, 0]
    )
    assert np.array_equal(pop.C, C) and np.all(pop.c == -50.0) and np.all(pop.v_init == -60.0)
    assert pop.n_excitatory == 2
    with pytest.raises(ValueError, match="C must have shape|C must be a scalar"):
        IzhikevichPopulation.izhikevich_2007(4, C=np.ones(3))
    with pytest.raises(ValueError, match="C must be > 0"):
        IzhikevichPopulation.izhikevich_2007(4, C=-1.0)
    with pytest.raises(ValueError, match="k must be finite"):
        IzhikevichPopulation.izhikevich_2007(4, k=np.nan)


# -- validation --------------------------------------------------------------------------------


def _fields(n=3, **over):
    base = dict(
        form="2003",
        a=np.full(n, 0.02),
        b=np.full(n, 0.2),
        c=np.full(n, -65.0),
        d=np.full(n, 8.0),
        excitatory=np.ones(n, bool),
        v_init=np.full(n, -65.0),
        u_init=np.full(n, -13.0),
    )
    base.update(over)
    return base


@pytest.mark.parametrize(
    ("over", "exc", "match"),
    [
        ({"form": "2010"}, ValueError, "form must be one of"),
        ({"c": np.full(4, -65.0)}, ValueError, r"c must have shape \(3,\)"),
        ({"d": np.array([8.0, np.nan, 8.0])}, ValueError, "d must be finite"),
        ({"u_init": np.array([0.0, np.inf, 0.0])}, ValueError, "u_init must be finite"),
        ({"excitatory": np.ones(2, bool)}, ValueError, "excitatory must have shape"),
        ({"n_substeps": 0}, ValueError, "n_substeps must be >= 1"),
        ({"n_substeps": 1.5}, TypeError, "n_substeps must be an integer"),
        ({"v_peak": float("nan")}, ValueError, "v_peak must be finite"),
        ({"C": np.ones(3)}, ValueError, "C is a 2007-form parameter"),
        ({"form": "2007"}, ValueError, "C is required for form '2007'"),
    ],
)
def test_population_validation_names_the_field(over, exc, match):
    with pytest.raises(exc, match=match):
        IzhikevichPopulation(**_fields(**over))


def test_empty_population_rejected():
    with pytest.raises(ValueError, match="N >= 1"):
        IzhikevichPopulation(**_fields(n=0))


def test_arrays_are_read_only_copies():
    fields = _fields()
    pop = IzhikevichPopulation(**fields)
    fields["a"][0] = 99.0
    assert pop.a[0] == 0.02
    with pytest.raises(ValueError):
        pop.a[0] = 1.0
    with pytest.raises(ValueError):
        pop.excitatory[0] = False
    with pytest.raises(AttributeError):
        pop.n_substeps = 2


def test_concatenate_with_substeps_to_dict():
    rs = IzhikevichPopulation.from_preset("RS", 4)
    fs = IzhikevichPopulation.from_preset("FS", 2)
    both = IzhikevichPopulation.concatenate(rs, fs)
    assert both.n == 6 and both.n_excitatory == 4
    assert np.array_equal(both.a, [0.02] * 4 + [0.1] * 2)
    assert np.array_equal(both.d, [8.0] * 4 + [2.0] * 2)
    with pytest.raises(ValueError, match="form"):
        IzhikevichPopulation.concatenate(rs, IzhikevichPopulation.izhikevich_2007(2, seed=0))
    with pytest.raises(ValueError, match="n_substeps"):
        IzhikevichPopulation.concatenate(rs, fs.with_substeps(2))
    n07 = IzhikevichPopulation.concatenate(
        IzhikevichPopulation.izhikevich_2007(2, seed=0),
        IzhikevichPopulation.izhikevich_2007(3, C=100.0, seed=1),
    )
    assert np.array_equal(n07.C, [250, 250, 100, 100, 100])
    two = both.with_substeps(2)
    assert two.n_substeps == 2 and both.n_substeps == 1 and np.array_equal(two.c, both.c)
    summary = IzhikevichPopulation.izhikevich_2003(seed=0).to_dict()
    json.dumps(summary)
    assert summary["form"] == "2003" and summary["n"] == 1000 and summary["n_excitatory"] == 800
    assert summary["parameters"]["d"]["min"] >= 2 and summary["parameters"]["d"]["max"] <= 8
    assert "C" in IzhikevichPopulation.izhikevich_2007(3, seed=0).to_dict()["parameters"]


# -- LIF ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"tau_ms": -1.0}, ValueError, r"tau_ms must be > 0; got -1.0"),
        ({"tau_ms": np.array([10.0, 0.0])}, ValueError, "tau_ms must be > 0"),
        ({"tau_ms": 10.0, "v_th": 0.0}, ValueError, "v_th must be > v_reset"),
        ({"tau_ms": 10.0, "refractory_ms": -1.0}, ValueError, "refractory_ms must be >= 0"),
        ({"tau_ms": 10.0, "reset": "hard"}, ValueError, "reset must be one of"),
        ({"tau_ms": float("nan")}, ValueError, "tau_ms must be finite"),
        ({"tau_ms": 10.0, "resistance": np.ones(3)}, ValueError, "resistance must be"),
        ({"tau_ms": 10.0, "n": 0}, ValueError, "n must be >= 1"),
    ],
)
def test_lif_validation(kwargs, exc, match):
    kwargs.setdefault("n", 2)
    with pytest.raises(exc, match=match):
        LIFPopulation(**kwargs)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_lif_constant_current_fires_with_analytic_period(backend):
    tau, dt = 20.0, 0.1
    drive = np.array([1.2, 1.5, 2.0, 3.0, 5.0])  # R * I, threshold 1
    lif = LIFPopulation(n=5, tau_ms=tau, resistance=2.0)
    spikes, _ = lif.run(drive / 2.0, dt, steps=6000, backend=backend)
    for i, ri in enumerate(drive):
        period_ms = tau * math.log(ri / (ri - 1.0))
        times = np.flatnonzero(spikes[:, i]) * dt
        assert len(times) > 3
        isi = np.diff(times)
        assert np.all(np.abs(isi - period_ms) < dt + 1e-9)
        # the first spike comes one period after the start (from v_rest), within a step
        assert abs((times[0] + dt) - period_ms) < dt + 1e-9


def test_lif_subthreshold_current_never_fires_and_approaches_ri():
    lif = LIFPopulation(n=3, tau_ms=10.0)
    spikes, v = lif.run(0.8, 1.0, steps=200, record_v=True, backend="numpy")
    assert not spikes.any()
    assert v.dtype == np.float32 and v.shape == (200, 3)
    assert np.allclose(v[-1], 0.8, atol=1e-6)
    # exact exponential integration: v(t) = R I (1 - exp(-t / tau))
    t = np.arange(1, 201) * 1.0
    assert np.allclose(v[:, 0], 0.8 * (1 - np.exp(-t / 10.0)), atol=1e-6)


def test_lif_refractory_period_adds_whole_steps():
    lif = LIFPopulation(n=1, tau_ms=10.0)
    lif_ref = LIFPopulation(n=1, tau_ms=10.0, refractory_ms=2.0)
    s0, _ = lif.run([3.0], 0.5, steps=400, backend="numba")
    s1, _ = lif_ref.run([3.0], 0.5, steps=400, backend="numba")
    isi0 = np.diff(np.flatnonzero(s0[:, 0]))
    isi1 = np.diff(np.flatnonzero(s1[:, 0]))
    assert np.all(isi0 == isi0[0]) and np.all(isi1 == isi0[0] + 4)


def test_lif_subtract_reset_keeps_the_overshoot():
    zero = LIFPopulation(n=1, tau_ms=10.0, reset="zero")
    sub = LIFPopulation(n=1, tau_ms=10.0, reset="subtract")
    s_zero, v_zero = zero.run([3.0], 1.0, steps=300, record_v=True, backend="numpy")
    s_sub, v_sub = sub.run([3.0], 1.0, steps=300, record_v=True, backend="numpy")
    first = int(np.flatnonzero(s_zero[:, 0])[0])
    assert first == int(np.flatnonzero(s_sub[:, 0])[0])
    assert v_zero[first, 0] == 0.0 and v_sub[first, 0] > 0.0
    assert s_sub.sum() >= s_zero.sum()


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 20),
    steps=st.integers(1, 60),
    tau=st.floats(1.0, 50.0),
    refractory=st.floats(0.0, 3.0),
    reset=st.sampled_from(["zero", "subtract"]),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**31),
)
def test_lif_numpy_and_numba_identical(n, steps, tau, refractory, reset, dtype, seed):
    rng = np.random.default_rng(seed)
    lif = LIFPopulation(
        n=n,
        tau_ms=rng.uniform(tau, tau + 10, n),
        v_rest=-0.1,
        v_th=rng.uniform(0.5, 1.5, n),
        resistance=1.5,
        refractory_ms=refractory,
        reset=reset,
    )
    current = rng.normal(1.0, 1.5, (steps, n))
    v0 = rng.uniform(-0.5, 0.5, n)
    s_np, v_np = lif.run(current, 0.5, backend="numpy", dtype=dtype, v_init=v0, record_v=True)
    s_nb, v_nb = lif.run(current, 0.5, backend="numba", dtype=dtype, v_init=v0, record_v=True)
    assert v_np.dtype == dtype
    assert np.array_equal(s_np, s_nb)
    assert np.array_equal(v_np, v_nb)


@pytest.mark.cuda
def test_lif_cuda_agrees_with_numba():
    rng = np.random.default_rng(0)
    lif = LIFPopulation(n=12, tau_ms=5.0, refractory_ms=1.0, reset="subtract")
    current = rng.normal(1.5, 1.0, (25, 12))
    s_nb, v_nb = lif.run(current, 0.5, backend="numba", record_v=True)
    s_cu, v_cu = lif.run(current, 0.5, backend="cuda", record_v=True)
    assert s_nb.any()
    assert np.array_equal(s_nb, s_cu)
    assert np.array_equal(v_nb, v_cu)
    s_const, _ = lif.run(np.full(12, 2.0), 0.5, steps=20, backend="cuda")
    s_ref, _ = lif.run(np.full(12, 2.0), 0.5, steps=20, backend="numba")
    assert np.array_equal(s_const, s_ref)


def test_lif_run_input_errors():
    lif = LIFPopulation(n=3, tau_ms=10.0)
    with pytest.raises(ValueError, match="current must be finite"):
        lif.run(np.array([[1.0, np.nan, 1.0]]), 0.1, backend="numpy")
    with pytest.raises(ValueError, match="current must be finite"):
        lif.run(np.inf, 0.1, steps=3, backend="numpy")
    with pytest.raises(ValueError, match="steps is required"):
        lif.run(np.ones(3), 0.1)
    with pytest.raises(ValueError, match="steps must equal"):
        lif.run(np.ones((5, 3)), 0.1, steps=4)
    with pytest.raises(ValueError, match="current must have shape"):
        lif.run(np.ones((5, 2)), 0.1)
    with pytest.raises(ValueError, match="dt_ms must be > 0"):
        lif.run(np.ones((5, 3)), 0.0)
    with pytest.raises(TypeError, match="dtype"):
        lif.run(np.ones((5, 3)), 0.1, dtype=np.int32)
    with pytest.raises(ValueError, match="backend"):
        lif.run(np.ones((5, 3)), 0.1, backend="tpu")
    with pytest.raises(ValueError, match="v_init"):
        lif.run(np.ones((5, 3)), 0.1, v_init=np.zeros(2))
    spikes, v = lif.run(np.ones((0, 3)), 0.1, backend="numpy", record_v=True)
    assert spikes.shape == (0, 3) and v.shape == (0, 3)
    spikes, v = lif.run(2.0, 0.1, steps=10, backend="numba")
    assert spikes.shape == (10, 3) and spikes.dtype == np.bool_ and v is None
