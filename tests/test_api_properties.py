"""Property-based checks: generated bad values (negative, zero, huge, float where an int is
needed, NaN, inf, wrong types, empty arrays, wrong shapes) thrown at the public constructors and
entry points come out as our error types only: ``ValueError``, ``TypeError`` or a
``SpikesubError``, raised by our own code -- never a raw ``OverflowError``,
``ZeroDivisionError``, ``IndexError``, ``MemoryError``, ``LinAlgError``, a torch
``RuntimeError`` or an error raised inside NumPy or torch.

Sizes stay tiny and the memory budget low, so huge sizes are refused rather than allocated.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

import spikesub
from spikesub import analysis
from spikesub.continual.strategies import make_strategy
from spikesub.continual.subspace import HebbianSubspace
from spikesub.models.errors import SpikesubError
from spikesub.models.memory import memory_budget
from spikesub.models.network.connectivity import random_connectivity
from spikesub.models.network.neurons import IzhikevichPopulation
from spikesub.models.network.reservoir import IzhikevichReservoir
from spikesub.models.snn import LIF, SpikingConv2d, SpikingLinear, lif_sequence
from spikesub.models.snn.encoders import direct, latency, poisson
from spikesub.readouts import FORCEReadout, RidgeReadout, ThreeFactorReadout

ROOT = Path(spikesub.__file__).resolve().parents[1]

RAW = (
    OverflowError,
    ZeroDivisionError,
    LookupError,  # IndexError, KeyError, NumPy's AxisError
    MemoryError,
    np.linalg.LinAlgError,
    AttributeError,
)
"""Exceptions that count as raw even where they subclass ValueError (LinAlgError, AxisError)."""

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)


@pytest.fixture(autouse=True)
def small_memory_budget():
    """Huge sizes must be refused, not allocated."""
    with memory_budget("256M"):
        yield


def _raised_by_us(error: BaseException) -> bool:
    """Whether the innermost Python frame of ``error``'s traceback is in the project."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return False
    path = Path(frames[-1].filename).resolve()
    return ROOT in path.parents and ".venv" not in path.parts


def ours(call, *args, **kwargs):
    """Run ``call``; return its result, or None if it raised one of our error types; fail the
    test on anything else (the error's type and where it was raised are in the message)."""
    try:
        return call(*args, **kwargs)
    except RAW as error:
        pytest.fail(f"raw {type(error).__name__} escaped: {error}\n{traceback.format_exc()}")
    except SpikesubError:
        return None
    except (ValueError, TypeError) as error:
        assert _raised_by_us(error), (
            f"{type(error).__name__} raised outside our code: {error}\n{traceback.format_exc()}"
        )
        return None


# -- generated values -------------------------------------------------------------------------

NOT_INT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=2),
    st.just([1]),
    st.just(np.float32(2.0)),
    st.just(1j),
)
BAD_SIZE = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=2**31, max_value=2**80),
    st.just(10**400),
    NOT_INT,
)
NOT_REAL = st.one_of(st.booleans(), st.none(), st.text(max_size=2), st.just([0.5]), st.just(1j))
ANY_REAL = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.just(10**400),
)
ANY_VALUE = st.one_of(BAD_SIZE, ANY_REAL, NOT_REAL)
BAD_COUNT = st.one_of(st.integers(max_value=0), NOT_INT, NOT_REAL)
"""Bad loop counts (epochs, iterations): a valid but huge count would only run for long."""
SIZE = st.integers(min_value=1, max_value=5)
EXTREME_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, 1.0, -1.0, 1e30, -1e30, 1e300, 1e-300, 3.4e38]),
)


@st.composite
def arrays(draw, shape: tuple[int, ...]):
    """An array that is often wrong: another shape, empty, NaN / inf / huge values, an
    integer, object or string dtype, or a plain list."""
    how = draw(st.sampled_from(["values", "shape", "empty", "dtype", "list"]))
    if how == "shape":
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    elif how == "empty":
        shape = (0, *shape[1:])
    if how == "dtype":
        kind = draw(st.sampled_from(["int", "object", "str", "bool", "complex"]))
        base = np.ones(shape)
        return {
            "int": base.astype(np.int64),
            "object": base.astype(object),
            "str": base.astype(str),
            "bool": base.astype(bool),
            "complex": base.astype(complex),
        }[kind]
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    values = draw(hnp.arrays(np.float64, shape, elements=EXTREME_FLOATS))
    with np.errstate(over="ignore"):
        values = values.astype(dtype)
    return values.tolist() if how == "list" else values


def tensors(shape: tuple[int, ...]):
    """Tensors that are often wrong (as :func:`arrays`), in float32 / float64 / int64."""

    @st.composite
    def build(draw):
        value = draw(arrays(shape))
        if isinstance(value, list) or value.dtype.kind in "OUc":
            return value if draw(st.booleans()) else torch.zeros(shape, dtype=torch.complex64)
        dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.int64]))
        with np.errstate(over="ignore", invalid="ignore"):
            data = np.asarray(value, dtype=np.float64)
            if dtype == torch.int64:
                data = np.nan_to_num(data, posinf=0, neginf=0).clip(-100, 100)
            return torch.as_tensor(data).to(dtype)

    return build()


def _options(defaults: dict):
    """A dict of one to three of ``defaults``' keys, each with a generated bad value."""
    return st.dictionaries(st.sampled_from(sorted(defaults)), ANY_VALUE, min_size=1, max_size=3)


# -- readouts ---------------------------------------------------------------------------------

READOUT_CLASSES = {"ridge": RidgeReadout, "force": FORCEReadout, "three_factor": ThreeFactorReadout}
READOUT_OPTIONS = {
    "ridge": {"ridge": 0, "fit_intercept": 0, "dtype": 0},
    "force": {"alpha": 0, "update_every": 0, "forgetting": 0, "dtype": 0, "backend": 0},
    "three_factor": {
        "learning_rate": 0,
        "tau_eligibility_ms": 0,
        "dt_ms": 0,
        "online_outputs": 0,
        "consolidation_rate": 0,
        "weight_init": 0,
        "seed": 0,
        "dtype": 0,
        "backend": 0,
        "post": 0,
    },
}


@SETTINGS
@given(
    kind=st.sampled_from(sorted(READOUT_CLASSES)),
    n_inputs=st.one_of(SIZE, BAD_SIZE),
    n_outputs=st.one_of(SIZE, BAD_SIZE),
    data=st.data(),
)
def test_readout_constructors(kind, n_inputs, n_outputs, data):
    options = data.draw(_options(READOUT_OPTIONS[kind]))
    ours(READOUT_CLASSES[kind], n_inputs, n_outputs, **options)


@SETTINGS
@given(kind=st.sampled_from(sorted(READOUT_CLASSES)), data=st.data())
def test_readout_entry_points(kind, data):
    readout = READOUT_CLASSES[kind](3, 2)
    traces = data.draw(arrays((4, 3)), label="traces")
    targets = data.draw(arrays((4, 2)), label="targets")
    ours(readout.predict, traces)
    ours(readout.fit_online, traces, targets)
    ours(readout.fit_offline, traces, targets)
    if kind == "three_factor":
        gate = data.draw(arrays((4,)), label="gate")
        ours(readout.fit_online, traces, targets, gate=gate)
        ours(readout.fit_offline, traces, targets, epochs=data.draw(BAD_COUNT))
    assert np.isfinite(readout.weights).all()


@SETTINGS
@given(kind=st.sampled_from(sorted(READOUT_CLASSES)), data=st.data())
def test_readout_weights_and_state(kind, data):
    readout = READOUT_CLASSES[kind](3, 2)
    ours(setattr, readout, "weights", data.draw(arrays((2, 3)), label="weights"))
    state = readout.state_dict()
    state["weights"] = data.draw(arrays((2, 3)), label="state weights")
    ours(readout.load_state_dict, state)
    assert np.isfinite(readout.weights).all()


# -- the Hebbian circuit ----------------------------------------------------------------------

HEBBIAN_OPTIONS = {
    k: 0
    for k in (
        "rule mode lr momentum n_iters clamp spike_steps step_norm power_iters init_scale "
        "max_norm seed dtype"
    ).split()
}


@SETTINGS
@given(n_inputs=st.one_of(SIZE, BAD_SIZE), data=st.data())
def test_hebbian_constructor(n_inputs, data):
    ours(HebbianSubspace, n_inputs, **data.draw(_options(HEBBIAN_OPTIONS)))


@SETTINGS
@given(
    mode=st.sampled_from(["rate", "spiking"]),
    rule=st.sampled_from(["oja", "gha"]),
    data=st.data(),
)
def test_hebbian_entry_points_never_leave_non_finite_weights(mode, rule, data):
    sub = HebbianSubspace(4, mode=mode, rule=rule, spike_steps=4)
    sub.add_neurons(2)
    x = data.draw(tensors((5, 4)), label="x")
    ours(sub.update, x, lr_scale=data.draw(st.one_of(st.just(1.0), ANY_VALUE)))
    ours(sub.learn, [x, torch.rand(3, 4)], epochs=data.draw(st.one_of(st.just(1), BAD_COUNT)))
    ours(sub.learn, data.draw(st.one_of(st.just([]), st.just(x), st.just([x, None]))))
    ours(sub.choose_k, x, energy_threshold=data.draw(st.one_of(st.just(0.9), ANY_VALUE)))
    ours(sub.choose_k, None, gram=x)
    ours(sub.lateral_output, x)
    ours(sub.add_neurons, data.draw(ANY_VALUE))
    assert torch.isfinite(sub.H_new).all() and torch.isfinite(sub.velocity).all()


# -- strategies -------------------------------------------------------------------------------

STRATEGY_OPTIONS = {
    "gpm": {
        k: 0
        for k in ("energy_threshold", "energy_threshold_increment", "samples", "max_rows", "max_k")
    },
    "hlop": {
        k: 0
        for k in (
            "k_per_task energy_threshold samples hebbian_epochs rule mode lr momentum lr_final "
            "n_iters clamp spike_steps step_norm max_rows record record_examples trace_decay seed"
        ).split()
    },
    "ewc": {"lam": 0, "samples": 0},
}


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))


class _TinySNN(nn.Module):
    """Two spiking layers, rate logits: our layers check the inputs the batches carry."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.l1 = SpikingLinear(4, 6, steps=2)
        self.l2 = SpikingLinear(6, 3)

    def forward(self, x):
        return self.l2(self.l1(x)).mean(0)


@SETTINGS
@given(name=st.sampled_from(sorted(STRATEGY_OPTIONS)), data=st.data())
def test_make_strategy_options(name, data):
    ours(make_strategy, name, _mlp(), **data.draw(_options(STRATEGY_OPTIONS[name])))


@settings(SETTINGS, max_examples=40)
@given(name=st.sampled_from(["gpm", "hlop", "ewc", "finetune"]), data=st.data())
def test_end_task_with_bad_batches(name, data):
    model = _TinySNN()
    strategy = make_strategy(name, model)
    strategy.begin_task(0)
    x = data.draw(tensors((6, 4)), label="x")
    batches = data.draw(st.sampled_from(["one", "two", "empty", "bare", "tensor"]), label="batches")
    y = torch.zeros(6, dtype=torch.int64)
    given_batches = {
        "one": [(x, y)],
        "two": [(torch.rand(6, 4), y), (x, y)],
        "empty": [],
        "bare": [x],
        "tensor": x,
    }[batches]
    task_id = data.draw(st.one_of(st.just(0), ANY_VALUE), label="task_id")
    ours(strategy.end_task, task_id, given_batches, model, nn.functional.cross_entropy)


# -- spiking layers and encoders --------------------------------------------------------------

LIF_OPTIONS = {
    k: 0
    for k in (
        "beta threshold learn_beta learn_threshold reset surrogate slope recurrent num_features "
        "output backend"
    ).split()
}


@SETTINGS
@given(
    in_features=st.one_of(SIZE, BAD_SIZE), out_features=st.one_of(SIZE, BAD_SIZE), data=st.data()
)
def test_spiking_linear_constructor(in_features, out_features, data):
    options = data.draw(_options({"bias": 0, "steps": 0, "event_input": 0, **LIF_OPTIONS}))
    ours(SpikingLinear, in_features, out_features, **options)


@SETTINGS
@given(data=st.data())
def test_spiking_layer_forward_passes(data):
    linear = SpikingLinear(3, 2, steps=2)
    conv = SpikingConv2d(2, 2, 2, steps=2)
    lif = LIF()
    recurrent = LIF(recurrent=True, num_features=3)
    shape = data.draw(st.sampled_from([(2, 4, 3), (4, 3), (2, 1, 2, 3, 3), (1, 2, 3, 3)]))
    x = data.draw(tensors(shape), label="x")
    if isinstance(x, torch.Tensor) and data.draw(st.booleans(), label="meta"):
        x = x.to("meta")
    steps = data.draw(st.one_of(st.none(), st.just(2), ANY_VALUE), label="steps")
    ours(linear, x, steps)
    ours(conv, x, steps)
    ours(lif, x, steps=steps)
    ours(recurrent, x)


@SETTINGS
@given(
    in_channels=st.one_of(SIZE, BAD_SIZE),
    out_channels=st.one_of(SIZE, BAD_SIZE),
    kernel_size=st.one_of(SIZE, BAD_SIZE, st.tuples(ANY_VALUE, SIZE)),
    data=st.data(),
)
def test_spiking_conv2d_constructor(in_channels, out_channels, kernel_size, data):
    options = data.draw(
        _options({"stride": 0, "padding": 0, "dilation": 0, "groups": 0, "bias": 0, "steps": 0})
    )
    layer = ours(SpikingConv2d, in_channels, out_channels, kernel_size, **options)
    if layer is not None:
        channels = in_channels if isinstance(in_channels, int) and in_channels < 6 else 1
        ours(layer, torch.rand(2, channels, 5, 5), steps=2)


@SETTINGS
@given(data=st.data())
def test_lif_constructor(data):
    ours(LIF, **data.draw(_options(LIF_OPTIONS)))


@SETTINGS
@given(data=st.data())
def test_lif_sequence(data):
    x = data.draw(tensors((2, 3, 4)), label="x")
    beta = data.draw(st.one_of(st.just(0.9), ANY_VALUE, tensors((4,))), label="beta")
    threshold = data.draw(st.one_of(st.just(1.0), ANY_VALUE, tensors((4,))), label="threshold")
    mem0 = data.draw(st.one_of(st.none(), tensors((3, 4))), label="mem0")
    options = data.draw(_options({"reset": 0, "surrogate": 0, "slope": 0, "backend": 0}))
    ours(lif_sequence, x, beta, threshold, mem0, **options)
    static = x[0] if isinstance(x, torch.Tensor) and x.dim() and len(x) else x
    ours(lif_sequence, static, beta, steps=data.draw(st.one_of(st.just(2), BAD_SIZE)))


@SETTINGS
@given(data=st.data())
def test_encoders(data):
    x = data.draw(tensors((2, 3)), label="x")
    steps = data.draw(st.one_of(SIZE, BAD_SIZE), label="steps")
    ours(direct, x, steps)
    ours(poisson, x, steps, seed=data.draw(st.one_of(st.just(0), ANY_VALUE), label="seed"))
    tau = data.draw(st.one_of(st.just(5.0), ANY_VALUE), label="tau_steps")
    threshold = data.draw(st.one_of(st.just(0.01), ANY_VALUE), label="threshold")
    ours(latency, x, steps, tau_steps=tau, threshold=threshold)


# -- populations, connectivity, reservoirs ----------------------------------------------------


@SETTINGS
@given(
    n=st.one_of(SIZE, BAD_SIZE),
    preset=st.one_of(st.sampled_from(["RS", "fs"]), ANY_VALUE),
    v_init=st.one_of(st.just(-65.0), ANY_REAL, NOT_REAL),
    seed=st.one_of(st.just(0), ANY_VALUE),
)
def test_population_constructors(n, preset, v_init, seed):
    ours(IzhikevichPopulation.from_preset, preset, n, v_init=v_init)
    ours(IzhikevichPopulation.izhikevich_2003, n, 1, seed=seed)
    ours(IzhikevichPopulation.izhikevich_2007, n, v_peak=v_init)


@SETTINGS
@given(
    n_pre=st.one_of(SIZE, BAD_SIZE),
    n_post=st.one_of(SIZE, BAD_SIZE),
    p=st.one_of(st.just(0.5), ANY_VALUE),
    seed=st.one_of(st.just(0), ANY_VALUE),
)
def test_random_connectivity(n_pre, n_post, p, seed):
    ours(random_connectivity, n_pre, n_post, p=p, seed=seed)
    ours(random_connectivity, n_pre, n_post, in_degree=p, seed=seed)


RESERVOIR_OPTIONS = {
    k: 0
    for k in (
        "synapse tau_syn_ms tau_rise_ms tau_decay_ms bias_current noise_std noise_interval_ms "
        "dt_ms backend seed n_threads"
    ).split()
}


@pytest.mark.filterwarnings("ignore:n_threads")
@SETTINGS
@given(data=st.data())
def test_reservoir_constructor_and_recording_options(data):
    population = IzhikevichPopulation.from_preset("RS", 4)
    options = data.draw(_options(RESERVOIR_OPTIONS))
    ours(IzhikevichReservoir, population, None, **options)
    reservoir = IzhikevichReservoir(population, None, backend="numpy")
    record = data.draw(_options({"record_indices": 0, "record_every": 0, "record_state": 0}))
    ours(reservoir.run, 1.0, **record)


@pytest.mark.parametrize("dtype", ["0:", "01"])
def test_reservoir_dtype_strings_numpy_cannot_read(dtype):
    ours(IzhikevichReservoir, IzhikevichPopulation.from_preset("RS", 4), None, dtype=dtype)


# -- analysis ---------------------------------------------------------------------------------


@SETTINGS
@given(
    times=arrays((5,)),
    indices=st.one_of(arrays((5,)), st.just(np.array([0, 1, 2, 3, 4]))),
    n_neurons=st.one_of(st.just(5), BAD_SIZE),
    duration=st.one_of(st.just(10.0), ANY_VALUE),
    bin_ms=st.one_of(st.just(1.0), ANY_VALUE),
    start=st.one_of(st.just(0.0), ANY_VALUE),
)
def test_analysis_functions(times, indices, n_neurons, duration, bin_ms, start):
    ours(analysis.firing_rates_hz, indices, n_neurons, duration)
    ours(analysis.isi_cv, times, indices, n_neurons, min_spikes=bin_ms)
    ours(analysis.population_rate_hz, times, n_neurons, duration, bin_ms=bin_ms, t_start_ms=start)
    ours(analysis.synchrony_chi, times, indices, n_neurons, duration, bin_ms=bin_ms)
    ours(analysis.spike_metrics, times, indices, n_neurons, duration, bin_ms=bin_ms)
    ours(analysis.spike_metrics, times, indices, 5, 10.0, excitatory=indices)
    ours(analysis.population_rate_hz, times, 5, 10.0, smooth_ms=start)
