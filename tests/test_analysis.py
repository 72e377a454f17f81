"""Spike-train statistics against known answers and brute-force references."""

from __future__ import annotations

import json
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesub.analysis import (
    firing_rates_hz,
    isi_cv,
    population_rate_hz,
    spike_metrics,
    synchrony_chi,
)


def poisson_spikes(
    n_neurons: int, rate_hz: float, duration_ms: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Independent homogeneous Poisson trains, unsorted."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(n_neurons * rate_hz * duration_ms / 1000.0)
    return rng.uniform(0.0, duration_ms, n), rng.integers(0, n_neurons, n)


def regular_synchronous(
    n_neurons: int, period_ms: float, duration_ms: float, offset_ms: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Every neuron fires at offset, offset + period, ... (all together)."""
    ticks = np.arange(offset_ms, duration_ms, period_ms)
    times = np.repeat(ticks, n_neurons)
    indices = np.tile(np.arange(n_neurons), ticks.size)
    return times, indices


def dense_counts(times, indices, n_neurons, duration_ms, bin_ms):
    n_bins = int(math.floor(duration_ms / bin_ms + 1e-9))
    counts = np.zeros((n_neurons, n_bins))
    for t, i in zip(times, indices, strict=True):
        b = int(math.floor(t / bin_ms + 1e-9))
        if 0 <= b < n_bins:
            counts[i, b] += 1
    return counts


# ----------------------------------------------------------------------------- firing rates


def test_firing_rates_exact_on_constructed_trains():
    # neuron 0: 5 spikes, neuron 1: none, neuron 2: 2 spikes, in 500 ms
    indices = np.array([0, 2, 0, 0, 2, 0, 0])
    rates = firing_rates_hz(indices, 3, 500.0)
    np.testing.assert_array_equal(rates, [10.0, 0.0, 4.0])
    assert rates.dtype == np.float64


def test_firing_rates_empty():
    np.testing.assert_array_equal(firing_rates_hz(np.array([], dtype=int), 4, 100.0), np.zeros(4))


@pytest.mark.parametrize(
    ("kwargs", "exc", "word"),
    [
        ({"indices": np.array([0, 3]), "n_neurons": 3}, ValueError, "indices"),
        ({"indices": np.array([-1]), "n_neurons": 3}, ValueError, "indices"),
        ({"indices": np.array([0.0, 1.0]), "n_neurons": 3}, TypeError, "indices"),
        ({"indices": np.zeros((2, 2), dtype=int), "n_neurons": 3}, ValueError, "indices"),
        ({"indices": np.array([0]), "n_neurons": 0}, ValueError, "n_neurons"),
        ({"indices": np.array([0]), "n_neurons": 2.5}, TypeError, "n_neurons"),
        ({"indices": np.array([0]), "n_neurons": 3, "duration_ms": 0.0}, ValueError, "duration"),
        (
            {"indices": np.array([0]), "n_neurons": 3, "duration_ms": float("nan")},
            ValueError,
            "duration_ms",
        ),
    ],
)
def test_firing_rates_bad_input_names_argument(kwargs, exc, word):
    args = {"duration_ms": 100.0, **kwargs}
    with pytest.raises(exc, match=word):
        firing_rates_hz(**args)


def test_mismatched_lengths_name_both_arguments():
    with pytest.raises(ValueError, match="times_ms and indices"):
        isi_cv(np.array([1.0, 2.0]), np.array([0]), 2)
    with pytest.raises(ValueError, match="times_ms and indices"):
        synchrony_chi(np.array([1.0]), np.array([0, 1]), 2, 10.0)


def test_non_finite_times_rejected():
    with pytest.raises(ValueError, match="times_ms"):
        population_rate_hz(np.array([1.0, np.nan]), 2, 10.0)


# ----------------------------------------------------------------------------- ISI CV


def test_cv_regular_trains_is_zero():
    times, indices = regular_synchronous(5, 10.0, 1000.0)
    cv = isi_cv(times, indices, 5)
    np.testing.assert_allclose(cv, 0.0, atol=1e-12)


def test_cv_poisson_is_one():
    times, indices = poisson_spikes(20, 20.0, 100_000.0, seed=1)  # ~2000 spikes per neuron
    cv = isi_cv(times, indices, 20)
    assert np.all(np.abs(cv - 1.0) < 0.1)
    assert abs(np.mean(cv) - 1.0) < 0.03


def test_cv_known_value_and_nan_below_min_spikes():
    # neuron 0: ISIs 10, 30 -> mean 20, std 10 -> CV 0.5; neuron 1: two spikes; neuron 2: none
    times = np.array([0.0, 10.0, 40.0, 5.0, 6.0])
    indices = np.array([0, 0, 0, 1, 1])
    cv = isi_cv(times, indices, 3)
    assert cv[0] == pytest.approx(0.5)
    assert np.isnan(cv[1]) and np.isnan(cv[2])
    cv2 = isi_cv(times, indices, 3, min_spikes=2)
    assert cv2[1] == 0.0 and np.isnan(cv2[2])
    with pytest.raises(ValueError, match="min_spikes"):
        isi_cv(times, indices, 3, min_spikes=1)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.0, 1000.0, allow_nan=False), st.integers(0, 4)),
        min_size=0,
        max_size=60,
    )
)
def test_cv_matches_per_neuron_reference(spikes):
    times = np.array([s[0] for s in spikes], dtype=float)
    indices = np.array([s[1] for s in spikes], dtype=np.int64)
    cv = isi_cv(times, indices, 5)
    for i in range(5):
        train = np.sort(times[indices == i])
        isi = np.diff(train)
        if train.size < 3 or isi.mean() <= 0:
            assert np.isnan(cv[i])
        else:
            assert cv[i] == pytest.approx(isi.std() / isi.mean(), rel=1e-9, abs=1e-12)


# ----------------------------------------------------------------------------- population rate


def test_population_rate_known_values():
    # 10 neurons all fire at 5.2 ms, one fires at 7.9 ms, window 10 ms, 1 ms bins
    times = np.concatenate([np.full(10, 5.2), [7.9]])
    starts, rate = population_rate_hz(times, 10, 10.0)
    np.testing.assert_array_equal(starts, np.arange(10.0))
    expected = np.zeros(10)
    expected[5] = 10 / (10 * 1e-3)
    expected[7] = 1 / (10 * 1e-3)
    np.testing.assert_allclose(rate, expected)


def test_population_rate_window_and_partial_bin():
    times = np.array([99.0, 100.0, 100.5, 104.9, 105.2, 106.0])
    starts, rate = population_rate_hz(times, 1, 5.5, bin_ms=1.0, t_start_ms=100.0)
    # 5 complete bins from 100 ms; 99.0 (before) and 105.2 (partial bin) and 106.0 are dropped
    np.testing.assert_array_equal(starts, [100.0, 101.0, 102.0, 103.0, 104.0])
    np.testing.assert_allclose(rate * 1e-3, [2, 0, 0, 0, 1])


def test_population_rate_bin_edges_from_step_times():
    dt_ms = 0.1
    steps = np.arange(0, 100)
    times = steps * dt_ms  # 0.30000000000000004 etc.
    _, rate = population_rate_hz(times, 1, 10.0, bin_ms=1.0)
    np.testing.assert_allclose(rate * 1e-3, np.full(10, 10.0))


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(0.0, 199.99, allow_nan=False), max_size=80),
    st.sampled_from([0.1, 0.5, 1.0, 2.0, 5.0]),
    st.sampled_from([0.0, 1.0, 7.5]),
    st.integers(1, 50),
)
def test_population_rate_integral_equals_spike_count(times, bin_ms, smooth_ms, n_neurons):
    times = np.array(times, dtype=float)
    starts, rate = population_rate_hz(times, n_neurons, 200.0, bin_ms=bin_ms, smooth_ms=smooth_ms)
    assert starts.shape == rate.shape == (int(round(200.0 / bin_ms)),)
    assert np.all(rate >= 0)
    total = rate.sum() * bin_ms / 1000.0 * n_neurons
    assert total == pytest.approx(times.size, abs=1e-9 * max(1, times.size))


def test_population_rate_smoothing_spreads_a_peak():
    times = np.full(100, 50.5)
    _, raw = population_rate_hz(times, 100, 100.0)
    _, smooth = population_rate_hz(times, 100, 100.0, smooth_ms=3.0)
    assert smooth.max() < raw.max() / 5
    assert np.argmax(smooth) == 50
    np.testing.assert_allclose(smooth[40:50], smooth[51:61][::-1])  # symmetric
    with pytest.raises(ValueError, match="smooth_ms"):
        population_rate_hz(times, 100, 100.0, smooth_ms=-1.0)
    with pytest.raises(ValueError, match="bin_ms"):
        population_rate_hz(times, 100, 100.0, bin_ms=0.0)


# ----------------------------------------------------------------------------- synchrony


def test_chi_is_one_for_identical_trains():
    times, indices = regular_synchronous(50, 10.0, 1000.0)
    assert synchrony_chi(times, indices, 50, 1000.0) == pytest.approx(1.0, abs=1e-12)
    # identical irregular trains too
    rng = np.random.default_rng(3)
    train = np.sort(rng.uniform(0, 1000.0, 40))
    times = np.repeat(train, 30)
    indices = np.tile(np.arange(30), train.size)
    assert synchrony_chi(times, indices, 30, 1000.0, bin_ms=2.0) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("n_neurons", [25, 100, 400])
def test_chi_independent_poisson_is_about_one_over_sqrt_n(n_neurons):
    times, indices = poisson_spikes(n_neurons, 20.0, 20_000.0, seed=n_neurons)
    chi = synchrony_chi(times, indices, n_neurons, 20_000.0, bin_ms=5.0)
    expected = 1.0 / math.sqrt(n_neurons)
    assert expected / 2 < chi < expected * 2


def test_chi_undefined_is_nan():
    assert math.isnan(synchrony_chi(np.array([]), np.array([], dtype=int), 10, 100.0))
    # one bin only
    assert math.isnan(synchrony_chi(np.array([0.5]), np.array([0]), 1, 1.5, bin_ms=1.0))
    # every neuron fires exactly once in every bin: no neuron varies
    times, indices = regular_synchronous(3, 1.0, 10.0)
    assert math.isnan(synchrony_chi(times, indices, 3, 10.0))


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.0, 49.99, allow_nan=False), st.integers(0, 5)),
        min_size=1,
        max_size=80,
    ),
    st.sampled_from([1.0, 2.5, 5.0]),
)
def test_chi_matches_dense_reference(spikes, bin_ms):
    times = np.array([s[0] for s in spikes])
    indices = np.array([s[1] for s in spikes])
    counts = dense_counts(times, indices, 6, 50.0, bin_ms)
    mean_var = counts.var(axis=1).mean()
    chi = synchrony_chi(times, indices, 6, 50.0, bin_ms=bin_ms)
    if mean_var <= 1e-12:
        assert math.isnan(chi)
    else:
        expected = math.sqrt(max(counts.mean(axis=0).var(), 0.0) / mean_var)
        assert chi == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert 0.0 <= chi <= 1.0 + 1e-12


def test_chi_large_population_is_memory_lean():
    n_neurons, duration_ms = 100_000, 10_000.0
    times, indices = poisson_spikes(n_neurons, 2.0, duration_ms, seed=7)  # ~2e6 spikes
    indices = indices.astype(np.int32)
    tracemalloc.start()
    try:
        chi = synchrony_chi(times, indices, n_neurons, duration_ms, bin_ms=1.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # a dense (neurons, bins) float64 matrix would take 8 GB
    assert peak < 400e6
    expected = 1.0 / math.sqrt(n_neurons)
    assert expected / 2 < chi < expected * 2


# ----------------------------------------------------------------------------- metrics


def test_spike_metrics_values_and_types():
    # 4 neurons (0, 1 excitatory; 2, 3 inhibitory), 1000 ms:
    # neurons 0 and 2 fire regularly every 100 ms together, neuron 1 fires twice, 3 never.
    ticks = np.arange(5.0, 1000.0, 100.0)
    times = np.concatenate([ticks, ticks, [300.0, 700.0], [1200.0]])  # 1200 ms is outside
    indices = np.concatenate([np.zeros(10), np.full(10, 2), [1, 1], [3]]).astype(int)
    exc = np.array([True, True, False, False])
    m = spike_metrics(times, indices, 4, 1000.0, excitatory=exc)
    assert set(m) == {
        "n_spikes",
        "mean_rate_hz",
        "mean_rate_exc_hz",
        "mean_rate_inh_hz",
        "cv_isi_mean",
        "synchrony_chi",
        "fraction_active",
        "peak_population_rate_hz",
    }
    assert m["n_spikes"] == 22 and type(m["n_spikes"]) is int
    for key, value in m.items():
        if key != "n_spikes":
            assert type(value) is float, key
    assert m["mean_rate_hz"] == pytest.approx(22 / 4)
    assert m["mean_rate_exc_hz"] == pytest.approx((10 + 2) / 2)
    assert m["mean_rate_inh_hz"] == pytest.approx(10 / 2)
    assert m["cv_isi_mean"] == pytest.approx(0.0, abs=1e-12)  # only 0 and 2 have >= 3 spikes
    assert m["fraction_active"] == pytest.approx(0.75)
    assert m["peak_population_rate_hz"] == pytest.approx(2 / (4 * 1e-3))
    assert 0.0 < m["synchrony_chi"] <= 1.0
    json.dumps(m, allow_nan=False)


def test_spike_metrics_without_excitatory_and_silent():
    m = spike_metrics(np.array([]), np.array([], dtype=int), 5, 100.0)
    assert "mean_rate_exc_hz" not in m and "mean_rate_inh_hz" not in m
    assert m["n_spikes"] == 0 and m["mean_rate_hz"] == 0.0 and m["fraction_active"] == 0.0
    assert math.isnan(m["cv_isi_mean"]) and math.isnan(m["synchrony_chi"])
    assert m["peak_population_rate_hz"] == 0.0


def test_spike_metrics_bad_excitatory():
    with pytest.raises(ValueError, match="excitatory"):
        spike_metrics(np.array([1.0]), np.array([0]), 3, 10.0, excitatory=np.ones(2, bool))
    with pytest.raises(TypeError, match="excitatory"):
        spike_metrics(np.array([1.0]), np.array([0]), 3, 10.0, excitatory=np.ones(3))
