"""External inputs of a reservoir: CurrentInput and PoissonInput (construction and validation)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spikesub.models.network.connectivity import SparseWeights
from spikesub.models.network.inputs import CurrentInput, PoissonInput

# -- CurrentInput ------------------------------------------------------------------------------


def test_current_input_converts_to_float64_and_keeps_values():
    signal = np.arange(12, dtype=np.float32).reshape(6, 2)
    encoder = [[1, 0], [0, 1], [2, -1]]  # (neurons, channels): W[post, pre]
    ci = CurrentInput(signal, encoder)
    assert ci.signal.dtype == ci.encoder.dtype == np.float64
    assert ci.signal.shape == (6, 2) and ci.encoder.shape == (3, 2)
    np.testing.assert_array_equal(ci.signal, signal)
    np.testing.assert_array_equal(ci.encoder, encoder)
    # the current it stands for: encoder @ signal[n], (time, neurons)
    expected = signal.astype(np.float64) @ np.asarray(encoder, dtype=np.float64).T
    np.testing.assert_array_equal(ci.signal @ ci.encoder.T, expected)


def test_current_input_names_the_old_layout():
    with pytest.raises(ValueError, match=r"\(neurons, channels\).*pass encoder\.T"):
        CurrentInput(np.zeros((6, 2)), np.zeros((2, 5)))


def test_current_input_is_frozen():
    ci = CurrentInput(np.zeros((3, 1)), np.ones((2, 1)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ci.signal = np.ones((3, 1))


@pytest.mark.parametrize(
    ("signal", "encoder", "match"),
    [
        (np.zeros(5), np.zeros((3, 1)), "signal"),
        (np.zeros((2, 5, 1)), np.zeros((3, 5)), "signal"),
        (np.zeros((5, 2)), np.zeros((4, 3)), "encoder"),
        (np.zeros((5, 2)), np.zeros(2), "encoder"),
        (np.array([[0.0], [np.nan]]), np.zeros((3, 1)), "signal"),
        (np.zeros((2, 1)), np.array([[1.0], [np.inf]]), "encoder"),
    ],
)
def test_current_input_rejects_bad_shapes_and_values(signal, encoder, match):
    with pytest.raises(ValueError, match=match):
        CurrentInput(signal, encoder)


def test_current_input_names_the_first_non_finite_entry():
    signal = np.zeros((4, 3))
    signal[2, 1] = -np.inf
    with pytest.raises(ValueError, match=r"\(2, 1\)"):
        CurrentInput(signal, np.zeros((2, 3)))


# -- PoissonInput ------------------------------------------------------------------------------


def test_poisson_input_constant_rates_become_one_row():
    pi = PoissonInput([10.0, 20.0, 0.0], np.ones((4, 3)))  # (neurons, channels)
    assert pi.rate_hz.shape == (1, 3) and pi.rate_hz.dtype == np.float64
    assert pi.n_channels == 3
    assert isinstance(pi.weights, SparseWeights)
    assert (pi.weights.n_pre, pi.weights.n_post) == (3, 4)


def test_poisson_input_time_varying_rates_keep_their_shape():
    rates = np.linspace(0.0, 50.0, 20).reshape(10, 2)
    pi = PoissonInput(rates, np.eye(2))
    assert pi.rate_hz.shape == (10, 2)
    np.testing.assert_array_equal(pi.rate_hz, rates)
    assert pi.n_channels == 2


def test_poisson_input_dense_weights_become_csr_without_zeros():
    dense = np.array([[0.0, 2.5, 0.0], [1.0, 0.0, -3.0]]).T  # (neurons, channels)
    pi = PoissonInput([5.0, 5.0], dense)
    w = pi.weights
    assert w.nnz == 3
    np.testing.assert_array_equal(w.indptr, [0, 1, 3])
    np.testing.assert_array_equal(w.indices, [1, 0, 2])
    np.testing.assert_array_equal(w.weights, [2.5, 1.0, -3.0])


def test_poisson_input_keeps_given_sparse_weights():
    sparse = SparseWeights.from_dense(np.eye(3) * 4.0, dtype=np.float64)
    pi = PoissonInput(np.full(3, 7.0), sparse)
    assert pi.weights is sparse


def test_poisson_input_is_frozen():
    pi = PoissonInput([1.0], np.ones((1, 1)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        pi.rate_hz = np.zeros((1, 1))


@pytest.mark.parametrize(
    ("rates", "weights", "match"),
    [
        ([-1.0, 5.0], np.ones((3, 2)), "rate_hz"),
        (np.array([[1.0, 2.0], [3.0, -0.5]]), np.ones((3, 2)), "rate_hz"),
        ([np.nan, 1.0], np.ones((3, 2)), "rate_hz"),
        ([np.inf], np.ones((3, 1)), "rate_hz"),
        (np.zeros((2, 2, 2)), np.ones((3, 2)), "rate_hz"),
        ([1.0, 2.0], np.ones((3, 3)), "weights"),
        ([1.0, 2.0], np.ones((2, 3)), r"weights.*pass weights\.T"),
        ([1.0, 2.0], np.ones(3), "weights"),
        ([1.0], SparseWeights.from_dense(np.ones((3, 2))), "weights"),
        ([1.0], np.array([[np.nan], [1.0]]), "weights"),
    ],
)
def test_poisson_input_rejects_bad_rates_and_weights(rates, weights, match):
    with pytest.raises(ValueError, match=match):
        PoissonInput(rates, weights)


def test_poisson_input_zero_rate_is_allowed():
    pi = PoissonInput(np.zeros(4), np.ones((2, 4)))
    assert np.all(pi.rate_hz == 0.0)


# -- signals at their own sample rate ----------------------------------------------------------


def test_a_held_signal_repeats_each_sample_for_its_steps():
    signal = np.array([[1.0], [2.0], [3.0]])
    ci = CurrentInput(signal, np.ones((4, 1)), sample_ms=0.5)
    np.testing.assert_array_equal(ci.per_step(6, 0.25), [[1], [1], [2], [2], [3], [3]])
    np.testing.assert_array_equal(ci.per_step(5, 0.25)[:, 0], [1, 1, 2, 2, 3])
    with pytest.raises(ValueError, match="covers 1.5 ms; the run needs 1.75 ms"):
        ci.per_step(7, 0.25)
    with pytest.raises(ValueError, match="whole number of steps"):
        ci.per_step(4, 0.2)


def test_a_linear_signal_interpolates_between_samples():
    signal = np.array([[0.0, 10.0], [1.0, 20.0], [3.0, 20.0]])
    ci = CurrentInput(signal, np.ones((2, 2)), sample_ms=1.0, interpolation="linear")
    steps = ci.per_step(5, 0.4)  # times 0, 0.4, 0.8, 1.2, 1.6 ms
    np.testing.assert_allclose(steps[:, 0], [0.0, 0.4, 0.8, 1.4, 2.2])
    np.testing.assert_allclose(steps[:, 1], [10.0, 14.0, 18.0, 20.0, 20.0])
    # any step works for interpolation, and the last sample may be the last step itself
    assert ci.per_step(21, 0.1).shape == (21, 2)
    with pytest.raises(ValueError, match="last sample is at 2 ms"):
        ci.per_step(22, 0.1)


def test_signal_options_are_checked():
    with pytest.raises(ValueError, match="sample_ms"):
        CurrentInput(np.zeros((3, 1)), np.ones((2, 1)), sample_ms=0.0)
    with pytest.raises(ValueError, match="interpolation"):
        CurrentInput(np.zeros((3, 1)), np.ones((2, 1)), sample_ms=1.0, interpolation="cubic")
    with pytest.raises(ValueError, match="one row per step"):
        CurrentInput(np.zeros((3, 1)), np.ones((2, 1))).per_step(4, 0.1)


def test_rate_code_maps_a_signal_onto_rates():
    from spikesub.models.network.inputs import rate_code

    rates = rate_code(np.array([-1.0, 0.0, 1.0, 3.0]), low_hz=10.0, high_hz=50.0, span=(-1, 1))
    np.testing.assert_allclose(rates[:, 0], [10.0, 30.0, 50.0, 50.0])  # 3 is clipped
    own = rate_code(np.array([[2.0, 4.0], [6.0, 2.0]]), high_hz=40.0)  # span (2, 6)
    np.testing.assert_allclose(own, [[0.0, 20.0], [40.0, 0.0]])
    with pytest.raises(ValueError, match="span must rise"):
        rate_code(np.ones(3))
    with pytest.raises(ValueError, match="high_hz"):
        rate_code(np.arange(3.0), low_hz=5.0, high_hz=1.0)


def test_sampled_poisson_rates_are_held_on_the_steps():
    pi = PoissonInput(np.array([[10.0], [20.0]]), np.ones((3, 1)), sample_ms=0.5)
    np.testing.assert_array_equal(pi.per_step(4, 0.25)[:, 0], [10, 10, 20, 20])
    with pytest.raises(ValueError, match="covers 1 ms; the run needs 1.25 ms"):
        pi.per_step(5, 0.25)
    with pytest.raises(ValueError, match="whole number of steps"):
        pi.per_step(4, 0.3)
    constant = PoissonInput([5.0], np.ones((3, 1)))
    assert constant.per_step(7, 0.1).shape == (1, 1)
