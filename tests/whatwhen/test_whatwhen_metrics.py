"""Measures of a prediction on signals with known answers, and of one trial."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikesub.whatwhen.metrics import (
    linear_fit,
    measure_trial,
    peak,
    principal_angles_deg,
    random_subspace_angles_deg,
    trailing_mean,
    trials_to_recover,
)
from spikesub.whatwhen.paradigm import Trial, TrialTiming, trial_targets


def test_peak_of_a_known_bump():
    t = np.arange(800.0)
    t_peak, height = peak(2.0 * np.exp(-0.5 * ((t - 412.3) / 25.0) ** 2))
    assert t_peak == pytest.approx(412.3, abs=0.05)
    assert height == pytest.approx(2.0, rel=1e-3)
    t_peak, _ = peak(np.exp(-0.5 * ((t - 100.0) / 20.0) ** 2), dt_ms=0.5, start=50)
    assert t_peak == pytest.approx(50.0, abs=1e-6)  # samples are 0.5 ms apart
    t_peak, _ = peak(-np.abs(t - 600.0), stop=300)  # the maximum inside the window
    assert t_peak == pytest.approx(299.0)
    assert all(math.isnan(v) for v in peak(np.full(5, np.nan)))


def test_linear_fit_of_a_known_line():
    x = np.linspace(0, 1, 9)
    fit = linear_fit(x, 0.8 * x + 0.1)
    assert fit["slope"] == pytest.approx(0.8)
    assert fit["intercept"] == pytest.approx(0.1)
    assert fit["correlation"] == pytest.approx(1.0)
    assert linear_fit(x, -x)["correlation"] == pytest.approx(-1.0)
    assert math.isnan(linear_fit([1.0, 1.0], [0.0, 1.0])["slope"])


def test_trials_to_recover_of_constructed_sequences():
    assert trials_to_recover([0, 0, 1, 1, 1, 1, 1], run=5) == 2
    assert trials_to_recover([1, 1, 1, 1, 1, 0], run=5) == 0
    assert trials_to_recover([1, 1, 0, 1, 1, 1, 1, 1, 1], run=5) == 3
    assert trials_to_recover([1, 1, 1, 1, 0, 1], run=5) is None
    assert trials_to_recover([], run=1) is None
    np.testing.assert_allclose(trailing_mean([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5])


def test_principal_angles_of_constructed_subspaces():
    e = np.eye(6)
    assert principal_angles_deg(e[:2], e[0] + e[1]) == pytest.approx([0.0], abs=1e-6)
    assert principal_angles_deg(e[:2], e[2]) == pytest.approx([90.0])
    assert principal_angles_deg(e[:2], e[1] + e[2]) == pytest.approx([45.0])
    np.testing.assert_allclose(principal_angles_deg(e[:2], e[1:3]), [0.0, 90.0], atol=1e-6)
    tiny = principal_angles_deg(e[0], e[0] + 1e-9 * e[1])
    assert tiny[0] == pytest.approx(np.degrees(1e-9), rel=1e-3)  # small angles stay accurate
    ref = random_subspace_angles_deg(2000, 2, 1, n_draws=20, seed=0)
    assert 85.0 < ref["min_deg"] < 90.0
    with pytest.raises(ValueError, match="a spans no subspace"):
        principal_angles_deg(np.zeros((2, 3)), e[0, :3])


def test_a_perfect_prediction_measures_the_delay_and_the_outcome():
    timing = TrialTiming(onset_ms=100.0, tail_ms=200.0, bump_sigma_ms=25.0, what_start_ms=50.0)
    trial = Trial(0, 0, 1, 300.0, 0.7, 0, 0)
    targets, _ = trial_targets(trial, timing)
    t_peak, height, mag_a, mag_b = measure_trial(targets, trial, timing)
    assert t_peak == pytest.approx(300.0, abs=1e-6) and height == pytest.approx(1.0)
    assert (mag_a, mag_b) == (1.0, 0.0)
