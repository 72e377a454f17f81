"""spikesub.rc.tasks: the series of NARMA and Mackey-Glass against hand-computed values, memory
capacity on reservoirs whose memory is known, NRMSE by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikesub.rc.tasks import (
    mackey_glass,
    memory_capacity,
    memory_capacity_input,
    narma,
    nrmse,
)

# -- NARMA -------------------------------------------------------------------------------------


def test_narma_follows_its_recurrence_by_hand():
    u = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.0, 0.25])
    _, y = narma(7, order=2, u=u)
    # y(t + 1) = 0.3 y(t) + 0.05 y(t) (y(t) + y(t - 1)) + 1.5 u(t - 1) u(t) + 0.1, y(0) = y(1) = 0
    expected = [0.0, 0.0]
    for t in range(1, 6):
        yt, yp = expected[t], expected[t - 1]
        expected.append(0.3 * yt + 0.05 * yt * (yt + yp) + 1.5 * u[t - 1] * u[t] + 0.1)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-15)
    assert y[2] == pytest.approx(1.5 * 0.1 * 0.2 + 0.1)  # 0.13


def test_narma10_inputs_range_and_seeds():
    u, y = narma(2000, seed=3)
    assert u.shape == y.shape == (2000,)
    assert 0.0 <= u.min() and u.max() <= 0.5
    assert np.all(y[:10] == 0.0) and np.all(np.isfinite(y)) and 0.1 <= y[10:].min()
    again, _ = narma(2000, seed=3)
    other, _ = narma(2000, seed=4)
    assert np.array_equal(u, again) and not np.array_equal(u, other)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_steps": 10}, "n_steps"),
        ({"n_steps": 50, "order": 0}, "order"),
        ({"n_steps": 50, "u": np.zeros(49)}, "u must be"),
        ({"n_steps": 50, "u": np.full(50, np.nan)}, "u must be"),
    ],
)
def test_narma_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        narma(**kwargs)


# -- Mackey-Glass ------------------------------------------------------------------------------


def _rk4_step(x, d0, d1, a=0.2, b=0.1, n=10.0, h=1.0):
    def f(x, delayed):
        return a * delayed / (1.0 + delayed**n) - b * x

    k1 = f(x, d0)
    k2 = f(x + 0.5 * h * k1, 0.5 * (d0 + d1))
    k3 = f(x + 0.5 * h * k2, 0.5 * (d0 + d1))
    k4 = f(x + h * k3, d1)
    return x + h * (k1 + 2 * k2 + 2 * k3 + k4) / 6


def test_mackey_glass_first_steps_by_hand():
    x = mackey_glass(4, tau=2.0, h=1.0)
    # history x = 1.2 for two steps back, so the delayed values are 1.2 until step 2
    x1 = _rk4_step(1.2, 1.2, 1.2)
    x2 = _rk4_step(x1, 1.2, 1.2)
    x3 = _rk4_step(x2, 1.2, x1)
    np.testing.assert_allclose(x, [1.2, x1, x2, x3], rtol=0, atol=1e-15)
    # the first step by its numbers: f(1.2, 1.2) = 0.2 * 1.2 / (1 + 1.2^10) - 0.12
    assert x1 - 1.2 == pytest.approx(0.2 * 1.2 / (1 + 1.2**10) - 0.12, rel=0.05)


def test_mackey_glass_tau_17_is_chaotic_and_bounded():
    x = mackey_glass(3000)
    assert x.shape == (3000,) and x[0] == 1.2
    late = x[500:]
    assert 0.2 < late.min() and late.max() < 1.45  # the attractor's range
    # chaotic: two starts 1e-8 apart drift apart (its largest Lyapunov exponent is small,
    # about 0.006 per unit of time, so slowly)
    y = mackey_glass(2900, x0=1.2 + 1e-8)
    early, late_gap = abs(y[200] - x[200]), np.abs(y[2500:2900] - x[2500:2900]).max()
    assert late_gap > 100 * max(early, 1e-12)
    # finer steps converge to the same trajectory early on
    fine = mackey_glass(401, h=0.25)[::4]
    np.testing.assert_allclose(fine[:60], mackey_glass(101)[:60], atol=5e-3)


def test_mackey_glass_needs_a_whole_number_of_steps_per_delay():
    with pytest.raises(ValueError, match="tau / h"):
        mackey_glass(10, tau=17.0, h=0.3)
    with pytest.raises(ValueError, match="h must be"):
        mackey_glass(10, h=0.0)


# -- memory capacity ---------------------------------------------------------------------------


def _delay_line(u, length):
    """States that hold the last ``length`` inputs exactly: column j is u(t - j)."""
    states = np.zeros((u.shape[0], length))
    for j in range(length):
        states[j:, j] = u[: u.shape[0] - j]
    return states


def test_a_delay_line_of_k_inputs_remembers_exactly_k_minus_one_past_inputs():
    u_train, u_test = memory_capacity_input(3000, seed=0), memory_capacity_input(2000, seed=1)
    length = 10  # holds u(t) .. u(t - 9): delays 1 .. 9 are remembered perfectly
    total, capacities = memory_capacity(
        _delay_line(u_train, length), u_train, _delay_line(u_test, length), u_test, max_delay=20
    )
    np.testing.assert_allclose(capacities[:9], 1.0, atol=1e-9)
    assert np.all(capacities[9:] < 0.01)
    assert total == pytest.approx(9.0, abs=0.1)


def test_memoryless_states_have_no_capacity():
    rng = np.random.default_rng(5)
    u_train, u_test = memory_capacity_input(2000, seed=2), memory_capacity_input(2000, seed=3)
    total, capacities = memory_capacity(
        rng.normal(size=(2000, 5)), u_train, rng.normal(size=(2000, 5)), u_test, max_delay=10
    )
    assert total < 0.1 and capacities.shape == (10,)


def test_memory_capacity_refuses_bad_splits():
    states, u = np.zeros((30, 3)), np.zeros(30)
    with pytest.raises(ValueError, match="longer than max_delay"):
        memory_capacity(states, u, states, u, max_delay=40)
    with pytest.raises(ValueError, match="train_states must be"):
        memory_capacity(states, u[:20], states, u, max_delay=5)
    with pytest.raises(ValueError, match="finite"):
        memory_capacity(np.full((30, 3), np.nan), u, states, u, max_delay=5)


# -- NRMSE -------------------------------------------------------------------------------------


def test_nrmse_by_hand():
    y = np.array([0.0, 1.0, 2.0, 3.0])
    pred = np.array([0.0, 1.0, 2.0, 4.0])
    rmse = math.sqrt(1.0 / 4.0)
    assert nrmse(y, pred) == pytest.approx(rmse / np.std(y))
    assert nrmse(y, pred, norm="minmax") == pytest.approx(rmse / 3.0)
    assert nrmse(y, y) == 0.0
    with pytest.raises(ValueError, match="constant"):
        nrmse(np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="norm"):
        nrmse(y, pred, norm="range")
    with pytest.raises(ValueError, match="one non-empty shape"):
        nrmse(y, pred[:3])
