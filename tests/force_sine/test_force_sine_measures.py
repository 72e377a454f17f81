"""The target sine and the measures of a readout against it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikesub.force_sine.measures import (
    measure,
    oscillation_frequency_hz,
    relative_rmse,
    sine_target,
)


def test_sine_target_is_sampled_at_the_end_of_each_step():
    target = sine_target(100, 1.0, 5.0)
    assert target.shape == (100, 1)
    assert target[49, 0] == pytest.approx(1.0)  # t = 50 ms: a quarter period
    assert target[99, 0] == pytest.approx(0.0, abs=1e-12)  # t = 100 ms: half a period
    assert target[0, 0] == pytest.approx(np.sin(2 * np.pi * 5.0 * 1e-3))


def test_relative_rmse_and_frequency():
    target = sine_target(4000, 0.5, 5.0, amplitude=2.0)
    assert relative_rmse(target, target) == 0.0
    assert relative_rmse(np.zeros_like(target), target) == pytest.approx(1.0)
    assert relative_rmse(target, np.zeros_like(target)) == math.inf
    assert oscillation_frequency_hz(target[:, 0], 0.5) == pytest.approx(5.0, rel=1e-3)
    assert math.isnan(oscillation_frequency_hz(np.ones(10), 1.0))


def test_measure_splits_the_run_into_its_windows():
    dt, n = 1.0, 4000  # 4 s: 1 s before, 1 s training, 2 s test
    target = sine_target(n, dt, 5.0)
    z = target.copy()
    z[:1000] = 0.0  # silent before training, exact after
    counts = np.full(n, 2, dtype=np.int32)
    counts[2000:] = 4
    metrics = measure(
        z, target, counts, train_start=1000, train_stop=2000, n_neurons=10, dt_ms=dt,
        duration_ms=4000.0,
    )  # fmt: skip
    assert metrics["pre_train_rel_rmse"] == pytest.approx(1.0)
    assert metrics["test_rel_rmse"] == metrics["train_rmse"] == 0.0
    assert metrics["test_frequency_hz"] == pytest.approx(5.0, rel=1e-3)
    assert metrics["test_amplitude"] == pytest.approx(1.0, rel=1e-3)
    assert metrics["test_rate_hz"] == pytest.approx(4 * 1000 / 10)
    assert metrics["mean_rate_hz"] == pytest.approx((2 * 2000 + 4 * 2000) / 10 / 4.0)
