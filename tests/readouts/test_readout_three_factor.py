"""The three-factor rule: its updates against reference loops, gates, consolidation."""

from __future__ import annotations

import numpy as np
import pytest
from readout_data import BACKENDS, bernoulli_cues, lms_loop, regression

import spikesub as ss
from spikesub.readouts import ReadoutDivergedError


def test_three_factor_constant_gate_is_delta_rule():
    x, y = regression()
    w_ref, out_ref = lms_loop(x, y, 0.05)
    ro = ss.ThreeFactorReadout(12, 2, learning_rate=0.05, dtype=np.float64, backend="numpy")
    out = ro.fit_online(x, y, gate=np.ones(len(x)))
    np.testing.assert_array_equal(ro.weights, w_ref)
    np.testing.assert_array_equal(out, out_ref)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_three_factor_numba_equals_numpy(dtype):
    x, y = regression(seed=1)
    gate = np.random.default_rng(0).random((len(x), 2))
    results = []
    for backend in BACKENDS:
        ro = ss.ThreeFactorReadout(
            12, 2, learning_rate=0.05, tau_eligibility_ms=5.0, dtype=dtype, backend=backend
        )
        results.append((ro.fit_online(x, y, gate=gate), ro.weights.copy()))
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=rtol, atol=1e-9)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=rtol, atol=1e-9)
    assert results[1][1].dtype == dtype


@pytest.mark.parametrize("backend", BACKENDS)
def test_three_factor_closed_gate_changes_nothing(backend):
    x, y = regression()
    ro = ss.ThreeFactorReadout(12, 2, weight_init=1.0, seed=3, backend=backend)
    w0 = ro.weights.copy()
    out = ro.fit_online(x, y, gate=np.zeros(len(x)))
    np.testing.assert_array_equal(ro.weights, w0)
    np.testing.assert_allclose(out, ro.predict(x), rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_three_factor_gate_subset_updates_only_those(backend):
    x, y = regression(seed=2)
    rng = np.random.default_rng(5)
    open_steps = rng.random(len(x)) < 0.4
    gate = np.zeros((len(x), 2))
    gate[open_steps, 0] = 1.0  # output 1 never learns
    ro = ss.ThreeFactorReadout(12, 2, learning_rate=0.05, dtype=np.float64, backend=backend)
    ro.fit_online(x, y, gate=gate)
    # with tau = 0, closed steps change nothing: same as the delta rule on the open steps only
    w_ref, _ = lms_loop(x[open_steps], y[open_steps], 0.05)
    np.testing.assert_allclose(ro.weights[0], w_ref[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(ro.weights[1], 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_three_factor_offline_outputs_accumulate_pending(backend):
    x, y = regression(seed=4)
    online = np.array([True, False])
    ro = ss.ThreeFactorReadout(
        12, 2, learning_rate=0.01, online_outputs=online, consolidation_rate=0.5,
        dtype=np.float64, backend=backend,
    )  # fmt: skip
    out = ro.fit_online(x, y)
    # output 1 kept its (zero) weights: its updates are the batch gradient, summed
    np.testing.assert_array_equal(ro.weights[1], 0.0)
    np.testing.assert_array_equal(out[:, 1], 0.0)
    expected = 0.01 * (y[:, 1] @ x)
    np.testing.assert_allclose(ro.pending[1], expected, rtol=1e-12)
    np.testing.assert_array_equal(ro.pending[0], 0.0)
    w_online, _ = lms_loop(x, y[:, :1], 0.01)
    np.testing.assert_allclose(ro.weights[0], w_online[0], rtol=1e-12, atol=1e-14)

    w_before = ro.weights.copy()
    norm = ro.consolidate()
    np.testing.assert_allclose(ro.weights[1], 0.5 * expected, rtol=1e-12)
    np.testing.assert_array_equal(ro.weights[0], w_before[0])
    assert norm == pytest.approx(np.linalg.norm(0.5 * expected))
    np.testing.assert_array_equal(ro.pending, 0.0)


@pytest.mark.parametrize("post", ["none", "output"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_three_factor_eligibility_is_filtered_loop(post, backend):
    x, y = regression(seed=6, t=200, n=8, m=2)
    gate = np.random.default_rng(1).random(len(x))
    lr, tau, dt = 0.02, 10.0, 1.0
    d = np.exp(-dt / tau)
    w = np.full((2, 8), 0.1)
    e = np.zeros((2, 8)) if post == "output" else np.zeros(8)
    for t in range(len(x)):
        out = w @ x[t]
        e = d * e + (1 - d) * (np.outer(out, x[t]) if post == "output" else x[t])
        w = w + lr * gate[t] * (y[t] - out)[:, None] * e
    ro = ss.ThreeFactorReadout(
        8, 2, learning_rate=lr, tau_eligibility_ms=tau, dt_ms=dt, post=post,
        weight_init=np.full((2, 8), 0.1), dtype=np.float64, backend=backend,
    )  # fmt: skip
    ro.fit_online(x, y, gate=gate)
    np.testing.assert_allclose(ro.weights, w, rtol=1e-10)
    assert ro.eligibility.shape == ((2, 8) if post == "output" else (8,))
    np.testing.assert_allclose(ro.eligibility, e, rtol=1e-12)


def test_three_factor_tau_zero_eligibility_is_pre_times_post():
    x, y = regression(seed=7, t=5, n=4, m=2)
    ro = ss.ThreeFactorReadout(4, 2, post="output", weight_init=1.0, dtype=np.float64)
    out = ro.fit_online(x, y)
    np.testing.assert_array_equal(ro.eligibility, np.outer(out[-1], x[-1]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_three_factor_learns_bernoulli_probabilities(backend):
    x, y, _, probs = bernoulli_cues()
    ro = ss.ThreeFactorReadout(4, 1, learning_rate=1e-3, backend=backend)
    ro.fit_online(x, y)
    np.testing.assert_allclose(ro.predict(np.eye(4))[:, 0], probs, atol=0.05)


def test_three_factor_fit_offline_epochs_then_consolidates():
    x, y = regression(seed=8)
    lr = 1e-3
    ro = ss.ThreeFactorReadout(12, 2, learning_rate=lr, online_outputs=False, dtype=np.float64)
    assert ro.fit_offline(x, y, epochs=3) is ro
    np.testing.assert_array_equal(ro.pending, 0.0)
    # offline outputs: one batch gradient step per epoch
    w = np.zeros((2, 12))
    for _ in range(3):
        w = w + lr * (y - x @ w.T).T @ x
    np.testing.assert_allclose(ro.weights, w, rtol=1e-10)
    assert np.mean((ro.predict(x) - y) ** 2) < 0.5 * np.mean(y**2)


def test_three_factor_divergence_raises_and_restores():
    x, y = regression(seed=9)
    ro = ss.ThreeFactorReadout(12, 2, learning_rate=0.01)
    ro.fit_online(x[:50], y[:50])
    w0 = ro.weights.copy()
    ro.learning_rate = 1e4
    with pytest.raises(ReadoutDivergedError, match="step") as info:
        ro.fit_online(x, y)
    assert isinstance(info.value, ss.SpikesubError)
    assert 0 <= info.value.step < len(x)
    np.testing.assert_array_equal(ro.weights, w0)


@pytest.mark.parametrize("value", [1.5, -0.1, np.nan])
def test_three_factor_gate_outside_0_1_is_refused_and_changes_nothing(value):
    x, y = regression(seed=9)
    ro = ss.ThreeFactorReadout(12, 2, learning_rate=0.01, normalised_outputs=[True, False])
    w0 = ro.weights.copy()
    gate = np.full((len(x), 2), 0.5)
    gate[3, 1] = value
    with pytest.raises(ValueError, match="gate"):
        ro.fit_online(x, y, gate=gate)
    np.testing.assert_array_equal(ro.weights, w0)


def test_three_factor_normalised_kernels_agree():
    from spikesub.kernels.plasticity import (
        three_factor_nlms_run_numba,
        three_factor_nlms_run_numpy,
    )

    x, y = regression(seed=3)
    gate = np.ones((len(x), 1))
    results = []
    for run in (three_factor_nlms_run_numpy, three_factor_nlms_run_numba):
        w = np.zeros((2, 12))
        pending = np.zeros_like(w)
        elig, slow = np.zeros((1, 12)), np.zeros((1, 12))
        out = np.empty((len(x), 2))
        rates = np.array([0.5, 0.01])
        normalised = np.array([True, False])
        online = np.array([True, False])
        bad = run(w, pending, elig, slow, x, y, gate, rates, 0.0, 0.9, online, normalised, out)
        assert bad == -1
        results.append((w, pending, out))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_three_factor_normalised_step_corrects_a_fraction_of_the_error():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 1.0, (1, 20))
    ro = ss.ThreeFactorReadout(20, 1, learning_rate=0.5, normalised_outputs=True)
    ro.fit_online(x, np.array([[2.0]]))
    np.testing.assert_allclose(ro.predict(x), [[1.0]], rtol=1e-5)  # half of the error 2


def test_three_factor_per_output_rates_and_their_checks():
    ro = ss.ThreeFactorReadout(
        4,
        3,
        learning_rate=[0.5, 1e-3, 1e-3],
        normalised_outputs=[True, False, False],
        highpass_tau_ms=100.0,
    )
    assert ro.config()["learning_rate"] == [0.5, 1e-3, 1e-3]
    assert ss.ThreeFactorReadout.from_state_dict(ro.state_dict()).config() == ro.config()
    with pytest.raises(ValueError, match="learning_rate"):
        ss.ThreeFactorReadout(4, 3, learning_rate=[0.5, 1e-3])
    with pytest.raises(ValueError, match="learning_rate"):
        ss.ThreeFactorReadout(4, 3, learning_rate=[0.5, -1.0, 1e-3])
    with pytest.raises(ValueError, match="post"):
        ss.ThreeFactorReadout(4, 3, normalised_outputs=True, post="output")
    with pytest.raises(ValueError, match="highpass_tau_ms"):
        ss.ThreeFactorReadout(4, 3, highpass_tau_ms=-1.0)
