"""The public entries refuse non-finite, empty and mistyped inputs with our own errors, naming
the argument (and the first bad index), before any computation: readouts, spiking layers,
encoders and the reservoir's recording options."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikesub.models.errors import MemoryBudgetError
from spikesub.models.memory import memory_budget
from spikesub.models.network.neurons import IzhikevichPopulation
from spikesub.models.network.reservoir import IzhikevichReservoir
from spikesub.models.snn import LIF, EventLinear, SpikingConv2d, SpikingLinear
from spikesub.models.snn.encoders import direct, latency, poisson
from spikesub.readouts import FORCEReadout, ReadoutDivergedError, RidgeReadout, ThreeFactorReadout

READOUTS = {
    "ridge": lambda: RidgeReadout(4, 2),
    "ridge_intercept": lambda: RidgeReadout(4, 2, fit_intercept=True),
    "force": lambda: FORCEReadout(4, 2),
    "three_factor": lambda: ThreeFactorReadout(4, 2, weight_init=0.5),
}


def _recording(t=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((t, 4)), rng.standard_normal((t, 2))


def _state(readout):
    return {k: np.array(v) for k, v in readout.state_dict().items() if k not in ("config",)}


# -- readouts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", READOUTS.values(), ids=READOUTS.keys())
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_predict_refuses_non_finite_traces_naming_the_first_bad_index(make, bad):
    readout = make()
    x, y = _recording()
    readout.fit_offline(x, y)
    x[5, 3] = bad
    x[7, 0] = np.nan
    with pytest.raises(ValueError, match=rf"traces\[5, 3\] is {bad!r}"):
        readout.predict(x)
    with pytest.raises(ValueError, match=r"traces\[3\] is nan"):
        readout.predict(np.array([0.0, 1.0, 2.0, np.nan]))


@pytest.mark.parametrize("make", READOUTS.values(), ids=READOUTS.keys())
@pytest.mark.parametrize("fit", ["fit_online", "fit_offline"])
def test_fits_refuse_non_finite_data_and_leave_the_readout_unchanged(make, fit):
    readout = make()
    x, y = _recording()
    readout.fit_online(x, y)
    before = _state(readout)
    bad_x = x.copy()
    bad_x[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"traces\[2, 1\] is nan"):
        getattr(readout, fit)(bad_x, y)
    bad_y = y.copy()
    bad_y[9, 1] = -np.inf
    with pytest.raises(ValueError, match=r"targets\[9, 1\] is -inf"):
        getattr(readout, fit)(x, bad_y)
    for name, value in _state(readout).items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


@pytest.mark.parametrize("make", READOUTS.values(), ids=READOUTS.keys())
def test_zero_time_steps_are_refused_everywhere(make):
    readout = make()
    empty_x, empty_y = np.zeros((0, 4)), np.zeros((0, 2))
    for call in (
        lambda: readout.fit_offline(empty_x, empty_y),
        lambda: readout.fit_online(empty_x, empty_y),
        lambda: readout.predict(empty_x),
    ):
        with pytest.raises(ValueError, match="traces is empty: it has no time steps"):
            call()


@pytest.mark.parametrize("make", READOUTS.values(), ids=READOUTS.keys())
def test_mistyped_recordings_are_type_errors(make):
    readout = make()
    x, y = _recording()
    with pytest.raises(TypeError, match="traces must be a real-valued array"):
        readout.predict(np.full((3, 4), "a"))
    with pytest.raises(TypeError, match="targets must be a real-valued array"):
        readout.fit_online(x, [[None, None]] * len(x))
    with pytest.raises(ValueError, match=r"traces must have shape \(time, 4\)"):
        readout.predict(np.zeros((3, 4, 1)))


def test_ridge_with_overflowing_traces_is_refused_and_keeps_its_fit():
    readout = RidgeReadout(4, 2)
    x, y = _recording()
    readout.fit_offline(x, y)
    before = _state(readout)
    with pytest.raises(ValueError, match="too large: their products overflow float64"):
        readout.fit_offline(x * 1e200, y)
    with pytest.raises(ValueError, match="overflow"):
        readout.fit_online(np.abs(x) + 1.0, np.full_like(y, 1e308))
    for name, value in _state(readout).items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


def test_ridge_solution_too_large_for_float32_is_refused():
    readout = RidgeReadout(1, 1, ridge=0.0, dtype=np.float32)
    with pytest.raises(ReadoutDivergedError, match="RidgeReadout"):
        readout.fit_offline(np.array([[1e-40]]), np.array([[1.0]]))  # W = 1e40
    assert np.all(readout.weights == 0.0)


def test_readout_constructor_arguments_are_typed():
    with pytest.raises(TypeError, match="n_inputs must be an integer >= 1; got 4.0"):
        RidgeReadout(4.0, 1)
    with pytest.raises(TypeError, match="post must be a string"):
        ThreeFactorReadout(2, 1, post=None)
    with pytest.raises(ValueError, match="weight_init = 1e\\+300 gives weights too large"):
        ThreeFactorReadout(2, 1, weight_init=1e300)
    with pytest.raises(TypeError, match="epochs must be an integer >= 1"):
        ThreeFactorReadout(4, 2).fit_offline(*_recording(), epochs=1.0)


# -- spiking layers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: SpikingLinear(5, -1), ValueError, "out_features must be an integer >= 1; got -1"),
        (lambda: SpikingLinear(0, 3), ValueError, "in_features must be an integer >= 1; got 0"),
        (lambda: SpikingLinear(5.0, 3), TypeError, r"in_features .*got 5.0 \(float\)"),
        (lambda: SpikingLinear(5, 3, bias=None), TypeError, "bias must be True or False"),
        (lambda: EventLinear(5, -2), ValueError, "out_features"),
        (lambda: SpikingConv2d(3, -4, 3), ValueError, "out_channels must be"),
        (lambda: SpikingConv2d(3, 4, 0), ValueError, "kernel_size must be"),
        (lambda: SpikingConv2d(3, 4, (3, 2.5)), TypeError, r"kernel_size\[1\]"),
        (lambda: SpikingConv2d(3, 4, 3, stride=0), ValueError, "stride must be"),
        (lambda: SpikingConv2d(3, 4, 3, padding=-1), ValueError, "padding must be"),
        (lambda: SpikingConv2d(3, 4, 3, padding="full"), ValueError, "padding must be"),
        (lambda: SpikingConv2d(3, 4, 3, groups=2), ValueError, "groups = 2 must divide"),
        (lambda: LIF(recurrent=True, num_features=-3), ValueError, "num_features must be"),
        (lambda: LIF(recurrent=True), TypeError, "num_features must be an int"),
        (lambda: LIF(num_features=2.5), TypeError, "num_features must be"),
    ],
)
def test_layer_constructors_refuse_bad_sizes_with_our_message(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_layer_sizes_over_the_memory_budget_are_refused_before_allocating():
    with memory_budget("1M"):
        with pytest.raises(MemoryBudgetError, match=r"SpikingLinear\(in_features=1000, out_"):
            SpikingLinear(1000, 1000)
        with pytest.raises(MemoryBudgetError, match="SpikingConv2d"):
            SpikingConv2d(512, 512, 3)
        with pytest.raises(MemoryBudgetError, match="num_features=1000"):
            LIF(recurrent=True, num_features=1000)


@pytest.mark.parametrize("shape", [(4, 2, 7), (2, 7)])
def test_spiking_linear_names_a_wrong_feature_count(shape):
    layer = SpikingLinear(5, 3, steps=4)
    with pytest.raises(ValueError, match=r"x has 7 features .* but the layer expects 5"):
        layer(torch.zeros(shape))


@pytest.mark.parametrize("event_input", ["always", "never"])
def test_spiking_linear_says_which_dtype_it_expected_and_how_to_fix(event_input):
    layer = SpikingLinear(5, 3, event_input=event_input)
    x = torch.zeros(4, 2, 5, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"float64 .* expected float32; pass x.float\(\)"):
        layer(x)
    out = layer.double()(x)  # the fix the message gives works
    assert out.dtype == torch.float64


def test_layers_name_an_input_on_another_device():
    x = torch.zeros(4, 2, 5, device="meta")
    with pytest.raises(ValueError, match="x is on device meta but the layer's weights are on cpu"):
        SpikingLinear(5, 3)(x)
    with pytest.raises(ValueError, match="x is on device meta but its parameters are on cpu"):
        LIF()(x)
    images = torch.zeros(2, 2, 3, 8, 8, device="meta")
    with pytest.raises(ValueError, match="x is on device meta"):
        SpikingConv2d(3, 4, 3)(images)


def test_spiking_conv2d_checks_channels_dtype_and_image_size():
    layer = SpikingConv2d(3, 4, 3, steps=2)
    with pytest.raises(ValueError, match="x has 2 channels .* expects 3"):
        layer(torch.zeros(2, 2, 2, 8, 8))
    with pytest.raises(TypeError, match="expected float32"):
        layer(torch.zeros(2, 3, 8, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="images are too small: width 2"):
        layer(torch.zeros(2, 3, 8, 2))
    with pytest.raises(ValueError, match="x must have 4 or 5 dimensions"):
        layer(torch.zeros(3, 8, 8))
    assert layer(torch.zeros(2, 3, 3, 3)).shape == (2, 2, 4, 1, 1)


def test_event_linear_and_recurrent_lif_check_their_inputs():
    with pytest.raises(ValueError, match="x has 6 features"):
        EventLinear(5, 3, event_input="always")(torch.zeros(2, 6))
    lif = LIF(recurrent=True, num_features=4)
    with pytest.raises(ValueError, match="x has 3 features"):
        lif(torch.zeros(2, 1, 3))
    with pytest.raises(TypeError, match="expected float32"):
        lif(torch.zeros(2, 1, 4, dtype=torch.float64))


# -- encoders ---------------------------------------------------------------------------------


def test_encoders_name_the_first_non_finite_element_and_huge_steps():
    x = torch.full((2, 3), 0.5)
    x[1, 2] = float("nan")
    for encode in (direct, poisson, latency):
        with pytest.raises(ValueError, match=r"x\[1, 2\] is nan"):
            encode(x, 3)
    with pytest.raises(ValueError, match="more than 2\\*\\*62 elements"):
        direct(torch.rand(4), 2**62)
    with memory_budget("1M"):
        with pytest.raises(MemoryBudgetError, match=r"spikes of poisson\(steps=1000000\)"):
            poisson(torch.rand(4), 10**6)
        with pytest.raises(MemoryBudgetError, match=r"latency"):
            latency(torch.rand(4), 10**6)
    with pytest.raises(TypeError, match="linear must be True or False"):
        latency(torch.rand(4), 3, linear="yes")


# -- the reservoir's recording options --------------------------------------------------------


@pytest.fixture(scope="module")
def reservoir():
    pop = IzhikevichPopulation.from_preset("RS", 8)
    return IzhikevichReservoir(pop, None, backend="numpy", bias_current=5.0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"record_indices": [1.5]}, TypeError, r"record_indices\[0\] is 1\.5"),
        ({"record_indices": [0, 2.0]}, TypeError, r"record_indices\[1\] is 2\.0"),
        ({"record_indices": [True]}, TypeError, r"record_indices\[0\] is True"),
        ({"record_indices": [3, 8]}, ValueError, r"\[0, 7\]; record_indices\[1\] is 8"),
        ({"record_indices": [-1]}, ValueError, r"record_indices\[0\] is -1"),
        ({"record_indices": []}, ValueError, "record_indices is empty"),
        ({"record_every": 0}, ValueError, r"record_every must be an integer in \[1, "),
        ({"record_every": 1.5}, TypeError, "record_every must be an integer"),
        ({"record_every": 2**70}, ValueError, "record_every must be an integer in"),
        ({"record_state": ["w"]}, ValueError, r"record_state\[0\] is 'w'"),
        ({"record_state": [1]}, TypeError, r"record_state\[0\] is 1"),
        ({"record_state": 5}, TypeError, "record_state must be a name"),
    ],
)
def test_run_refuses_bad_recording_options(reservoir, kwargs, error, match):
    options = {"record_state": "v", **kwargs}
    with pytest.raises(error, match=match):
        reservoir.run(1.0, **options)


def test_run_records_the_integer_indices_it_is_given(reservoir):
    result = reservoir.run(1.0, record_state="v", record_indices=np.array([7, 0], np.int32))
    np.testing.assert_array_equal(result.state_indices, [7, 0])
    assert result.state["v"].shape[1] == 2
