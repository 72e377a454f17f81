"""Readouts: known answers (delta rule, ridge solution, Bernoulli probabilities), backends,
gating, consolidation, state and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

import spikesub as ss
from spikesub.readouts import ReadoutDivergedError

BACKENDS = ["numpy", "numba"]


def _regression(seed=0, t=300, n=12, m=2):
    rng = np.random.default_rng(seed)
    x = rng.random((t, n))
    w_true = rng.standard_normal((m, n))
    return x, x @ w_true.T + 0.05 * rng.standard_normal((t, m))


def _lms_loop(x, y, lr):
    w = np.zeros((y.shape[1], x.shape[1]))
    outs = []
    for r, target in zip(x, y, strict=True):
        out = w @ r
        outs.append(out)
        w += np.outer(lr * (target - out), r)
    return w, np.array(outs)


def _bernoulli_cues(seed=0, steps_per_cue=5000, probs=(0.2, 0.4, 0.6, 0.8)):
    rng = np.random.default_rng(seed)
    cue = rng.integers(0, len(probs), size=steps_per_cue * len(probs))
    x = np.eye(len(probs))[cue]
    y = (rng.random(cue.size) < np.asarray(probs)[cue]).astype(np.float64)[:, None]
    return x, y, cue, np.asarray(probs)


# ---------------------------------------------------------------------------
# Three-factor rule
# ---------------------------------------------------------------------------


def test_three_factor_constant_gate_is_delta_rule():
    x, y = _regression()
    w_ref, out_ref = _lms_loop(x, y, 0.05)
    ro = ss.ThreeFactorReadout(12, 2, learning_rate=0.05, dtype=np.float64, backend="numpy")
    out = ro.fit_online(x, y, gate=np.ones(len(x)))
    np.testing.assert_array_equal(ro.weights, w_ref)
    np.testing.assert_array_equal(out, out_ref)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_three_factor_numba_equals_numpy(dtype):
    x, y = _regression(seed=1)
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
    x, y = _regression()
    ro = ss.ThreeFactorReadout(12, 2, weight_init=1.0, seed=3, backend=backend)
    w0 = ro.weights.copy()
    out = ro.fit_online(x, y, gate=np.zeros(len(x)))
    np.testing.assert_array_equal(ro.weights, w0)
    np.testing.assert_allclose(out, ro.predict(x), rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_three_factor_gate_subset_updates_only_those(backend):
    x, y = _regression(seed=2)
    rng = np.random.default_rng(5)
    open_steps = rng.random(len(x)) < 0.4
    gate = np.zeros((len(x), 2))
    gate[open_steps, 0] = 1.0  # output 1 never learns
    ro = ss.ThreeFactorReadout(12, 2, learning_rate=0.05, dtype=np.float64, backend=backend)
    ro.fit_online(x, y, gate=gate)
    # with tau = 0, closed steps change nothing: same as the delta rule on the open steps only
    w_ref, _ = _lms_loop(x[open_steps], y[open_steps], 0.05)
    np.testing.assert_allclose(ro.weights[0], w_ref[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(ro.weights[1], 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_three_factor_offline_outputs_accumulate_pending(backend):
    x, y = _regression(seed=4)
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
    w_online, _ = _lms_loop(x, y[:, :1], 0.01)
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
    x, y = _regression(seed=6, t=200, n=8, m=2)
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
    x, y = _regression(seed=7, t=5, n=4, m=2)
    ro = ss.ThreeFactorReadout(4, 2, post="output", weight_init=1.0, dtype=np.float64)
    out = ro.fit_online(x, y)
    np.testing.assert_array_equal(ro.eligibility, np.outer(out[-1], x[-1]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_three_factor_learns_bernoulli_probabilities(backend):
    x, y, _, probs = _bernoulli_cues()
    ro = ss.ThreeFactorReadout(4, 1, learning_rate=1e-3, backend=backend)
    ro.fit_online(x, y)
    np.testing.assert_allclose(ro.predict(np.eye(4))[:, 0], probs, atol=0.05)


def test_three_factor_fit_offline_epochs_then_consolidates():
    x, y = _regression(seed=8)
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
    x, y = _regression(seed=9)
    ro = ss.ThreeFactorReadout(12, 2, learning_rate=0.01)
    ro.fit_online(x[:50], y[:50])
    w0 = ro.weights.copy()
    ro.learning_rate = 1e4
    with pytest.raises(ReadoutDivergedError, match="step") as info:
        ro.fit_online(x, y)
    assert isinstance(info.value, ss.SpikesubError)
    assert 0 <= info.value.step < len(x)
    np.testing.assert_array_equal(ro.weights, w0)


# ---------------------------------------------------------------------------
# FORCE (recursive least squares)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_force_equals_batch_ridge_solution(backend):
    x, y = _regression(seed=10, t=400, n=15, m=3)
    alpha = 0.5
    ro = ss.FORCEReadout(15, 3, alpha=alpha, backend=backend)
    out = ro.fit_online(x, y)
    ridge = np.linalg.solve(x.T @ x + alpha * np.eye(15), x.T @ y).T
    np.testing.assert_allclose(ro.weights, ridge, rtol=1e-8, atol=1e-10)
    assert out.shape == (400, 3)
    np.testing.assert_array_equal(out[0], 0.0)  # weights start at zero
    assert ro.fit_offline(x, y) is ro
    np.testing.assert_allclose(ro.weights, ridge, rtol=1e-8, atol=1e-10)


def test_force_numba_equals_numpy():
    x, y = _regression(seed=11, t=300, n=20, m=2)
    results = []
    for backend in BACKENDS:
        ro = ss.FORCEReadout(20, 2, alpha=0.1, update_every=2, forgetting=0.99, backend=backend)
        results.append((ro.fit_online(x, y), ro.weights.copy(), ro.P.copy()))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_force_update_every_counts_steps_across_calls(backend):
    x, y = _regression(seed=12, t=301, n=10, m=1)
    ro = ss.FORCEReadout(10, 1, alpha=2.0, update_every=2, backend=backend)
    ro.fit_online(x[:101], y[:101])
    ro.fit_online(x[101:], y[101:])
    even = slice(0, None, 2)  # updates on steps 0, 2, 4, ...
    ridge = np.linalg.solve(x[even].T @ x[even] + 2.0 * np.eye(10), x[even].T @ y[even]).T
    np.testing.assert_allclose(ro.weights, ridge, rtol=1e-8, atol=1e-10)
    assert ro.steps == 301


@pytest.mark.parametrize("backend", BACKENDS)
def test_force_learns_bernoulli_probabilities(backend):
    x, y, cue, probs = _bernoulli_cues(seed=1)
    ro = ss.FORCEReadout(4, 1, alpha=1.0, backend=backend)
    ro.fit_online(x, y)
    pred = ro.predict(np.eye(4))[:, 0]
    np.testing.assert_allclose(pred, probs, atol=0.05)
    # RLS gives the regularised empirical frequency exactly
    counts = np.bincount(cue, minlength=4)
    hits = np.bincount(cue, weights=y[:, 0], minlength=4)
    np.testing.assert_allclose(pred, hits / (counts + 1.0), rtol=1e-9)


def test_force_forgetting_tracks_a_switch_faster():
    rng = np.random.default_rng(13)
    x = np.ones((2200, 1))
    y = np.where(np.arange(2200) < 2000, 0.2, 0.8)[:, None] + 0.05 * rng.standard_normal((2200, 1))
    errors = {}
    for lam in (1.0, 0.98):
        ro = ss.FORCEReadout(1, 1, alpha=1.0, forgetting=lam)
        out = ro.fit_online(x, y)
        errors[lam] = np.abs(out[2100:] - 0.8).mean()
    assert errors[0.98] < 0.05 < errors[1.0]


def test_force_reset_restores_P():
    x, y = _regression(seed=14, n=6, m=1)
    ro = ss.FORCEReadout(6, 1, alpha=0.5)
    ro.fit_online(x, y)
    w = ro.weights.copy()
    assert not np.allclose(ro.P, 2.0 * np.eye(6))
    ro.reset()
    np.testing.assert_array_equal(ro.P, 2.0 * np.eye(6))
    np.testing.assert_array_equal(ro.weights, w)
    ro.reset(weights=True)
    np.testing.assert_array_equal(ro.weights, 0.0)
    assert ro.steps == 0


# ---------------------------------------------------------------------------
# Ridge
# ---------------------------------------------------------------------------


def test_ridge_solution_and_online_statistics():
    x, y = _regression(seed=15, t=200, n=9, m=2)
    ro = ss.RidgeReadout(9, 2, ridge=0.3)
    ro.fit_offline(x, y)
    ridge = np.linalg.solve(x.T @ x + 0.3 * np.eye(9), x.T @ y).T
    np.testing.assert_allclose(ro.weights, ridge, rtol=1e-12)

    online = ss.RidgeReadout(9, 2, ridge=0.3)
    out1 = online.fit_online(x[:120], y[:120])
    np.testing.assert_array_equal(out1, 0.0)  # weights from before the call
    w_mid = online.weights.copy()
    out2 = online.fit_online(x[120:], y[120:])
    np.testing.assert_allclose(out2, x[120:] @ w_mid.T, rtol=1e-12)
    np.testing.assert_allclose(online.weights, ridge, rtol=1e-10)


def test_ridge_intercept_is_fitted_and_not_penalised():
    rng = np.random.default_rng(16)
    x = rng.standard_normal((500, 3))
    y = x @ np.array([[1.0, -2.0, 0.5]]).T + 3.0
    ro = ss.RidgeReadout(3, 1, ridge=1e-9, fit_intercept=True).fit_offline(x, y)
    np.testing.assert_allclose(ro.intercept, [3.0], rtol=1e-6)
    np.testing.assert_allclose(ro.weights, [[1.0, -2.0, 0.5]], rtol=1e-6)
    np.testing.assert_allclose(ro.predict(x), y, rtol=1e-6)


def test_ridge_learns_bernoulli_frequencies_exactly():
    x, y, cue, _ = _bernoulli_cues(seed=2, steps_per_cue=500)
    ro = ss.RidgeReadout(4, 1, ridge=0.0).fit_offline(x, y)
    freq = np.bincount(cue, weights=y[:, 0], minlength=4) / np.bincount(cue, minlength=4)
    np.testing.assert_allclose(ro.predict(np.eye(4))[:, 0], freq, rtol=1e-12)


# ---------------------------------------------------------------------------
# Shared interface
# ---------------------------------------------------------------------------

READOUTS = [
    lambda: ss.ThreeFactorReadout(5, 2, learning_rate=0.01, tau_eligibility_ms=3.0),
    lambda: ss.FORCEReadout(5, 2, alpha=0.5, update_every=2),
    lambda: ss.RidgeReadout(5, 2, ridge=0.1, fit_intercept=True),
]


@pytest.mark.parametrize("make", READOUTS)
def test_interface_shapes_config_and_state(make):
    x, y = _regression(seed=17, t=50, n=5, m=2)
    ro = make()
    assert (ro.n_inputs, ro.n_outputs) == (5, 2)
    assert ro.fit_online(x, y).shape == (50, 2)
    assert ro.predict(x).shape == (50, 2)
    assert ro.predict(x[0]).shape == (2,)
    np.testing.assert_allclose(ro.predict(x[0]), ro.predict(x)[0])
    config = json.loads(json.dumps(ro.config()))
    state = ro.state_dict()
    clone = type(ro).from_state_dict(state)
    assert clone.config() == config
    np.testing.assert_array_equal(clone.predict(x), ro.predict(x))
    # both continue identically
    np.testing.assert_array_equal(clone.fit_online(x, y), ro.fit_online(x, y))
    np.testing.assert_array_equal(clone.weights, ro.weights)
    with pytest.raises(ValueError, match="shape"):
        make().load_state_dict({**state, "weights": np.zeros((3, 3))})


@pytest.mark.parametrize("make", READOUTS)
def test_bad_recordings(make):
    x, y = _regression(seed=18, t=20, n=5, m=2)
    ro = make()
    with pytest.raises(ValueError, match=r"\(20, 5\).*\(19, 2\)"):
        ro.fit_online(x, y[:19])
    with pytest.raises(ValueError, match=r"\(20, 4\)"):
        ro.fit_online(x[:, :4], y)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="traces"):
        ro.fit_online(bad, y)
    bad = y.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="targets"):
        ro.fit_offline(x, bad)
    with pytest.raises(ValueError, match="traces"):
        ro.predict(np.zeros((3, 4)))


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: ss.ThreeFactorReadout(3, 1, learning_rate=0.0), "learning_rate"),
        (lambda: ss.ThreeFactorReadout(3, 1, learning_rate=np.inf), "learning_rate"),
        (lambda: ss.ThreeFactorReadout(3, 1, tau_eligibility_ms=-1.0), "tau_eligibility_ms"),
        (lambda: ss.ThreeFactorReadout(3, 1, dt_ms=0.0), "dt_ms"),
        (lambda: ss.ThreeFactorReadout(3, 1, post="pre"), "post"),
        (lambda: ss.ThreeFactorReadout(3, 2, online_outputs=[True]), "online_outputs"),
        (lambda: ss.ThreeFactorReadout(3, 1, weight_init=np.zeros((2, 3))), "weights"),
        (lambda: ss.ThreeFactorReadout(3, 1, backend="cuda"), "backend"),
        (lambda: ss.FORCEReadout(3, 1, alpha=0.0), "alpha"),
        (lambda: ss.FORCEReadout(3, 1, forgetting=1.5), "forgetting"),
        (lambda: ss.FORCEReadout(3, 1, forgetting=0.0), "forgetting"),
        (lambda: ss.FORCEReadout(3, 1, update_every=0), "update_every"),
        (lambda: ss.FORCEReadout(3, 1, dtype=np.int32), "dtype"),
        (lambda: ss.RidgeReadout(3, 1, ridge=-1.0), "ridge"),
        (lambda: ss.RidgeReadout(0, 1), "n_inputs"),
    ],
)
def test_bad_parameters(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_bad_gate():
    x, y = _regression(seed=19, t=10, n=5, m=2)
    ro = ss.ThreeFactorReadout(5, 2)
    with pytest.raises(ValueError, match="gate"):
        ro.fit_online(x, y, gate=np.full(10, 1.5))
    with pytest.raises(ValueError, match="gate"):
        ro.fit_online(x, y, gate=np.ones((10, 3)))
    with pytest.raises(ValueError, match="gate"):
        ro.fit_online(x, y, gate=np.full(10, np.nan))
