"""spikesub's STDP kernels against Brian2 on the same spike trains (Brian2's numpy target)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("brian2")

from spikesub.brian2_stdp import brian2_stdp, spikesub_stdp  # noqa: E402
from spikesub.models.network.connectivity import SparseWeights  # noqa: E402
from spikesub.models.network.plasticity import STDP, RewardSTDP  # noqa: E402

# Brian2 2.9 parses equations with pyparsing names that newer pyparsing deprecates.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

N_PRE, N_POST, N_STEPS = 6, 5, 400


def _case(seed=0):
    rng = np.random.default_rng(seed)
    dense = rng.random((N_POST, N_PRE)) < 0.6
    w = np.where(dense, rng.uniform(0.3, 0.7, dense.shape), 0.0)
    weights = SparseWeights.from_dense(w, dtype=np.float64)
    pre = rng.random((N_STEPS, N_PRE)) < 0.03
    post = rng.random((N_STEPS, N_POST)) < 0.03
    pre[50, 0] = post[50, :] = True  # same-step pairs
    return weights, pre, post


@pytest.mark.parametrize("bounds", ["additive", "multiplicative"])
@pytest.mark.parametrize("trace", ["additive", "nearest"])
def test_stdp_weights_equal_brian2(bounds, trace):
    weights, pre, post = _case()
    rule = STDP(a_plus=0.05, a_minus=0.06, tau_plus_ms=15.0, tau_minus_ms=25.0, w_min=0.0,
                w_max=1.0, bounds=bounds, trace=trace)  # fmt: skip
    ours = spikesub_stdp(weights, rule, pre, post, dt_ms=0.5)
    ref = brian2_stdp(weights, rule, pre, post, dt_ms=0.5)
    np.testing.assert_allclose(ours.weights, ref.weights, rtol=1e-12, atol=1e-12)
    assert np.abs(ours.weights - weights.weights).max() > 0.01


def test_hard_bounds_reached_in_both():
    weights, pre, post = _case(1)
    rule = STDP(a_plus=0.6, a_minus=0.6, w_max=0.8)
    ours = spikesub_stdp(weights, rule, pre, post)
    ref = brian2_stdp(weights, rule, pre, post)
    np.testing.assert_allclose(ours.weights, ref.weights, rtol=1e-12, atol=1e-12)
    assert (ours.weights == 0.8).any() and (ours.weights == 0.0).any()


@pytest.mark.parametrize("bounds", ["additive", "multiplicative"])
def test_reward_stdp_eligibility_and_weights_equal_brian2(bounds):
    weights, pre, post = _case(2)
    stdp = STDP(a_plus=0.1, a_minus=0.15, w_max=1.0, bounds=bounds, trace="nearest")
    rule = RewardSTDP(stdp=stdp, tau_e_ms=100.0, lr=0.5, tonic_dopamine=0.01, update_every_ms=5.0)
    dopamine = np.zeros(N_STEPS)
    dopamine[200:] = 0.5 * np.exp(-np.arange(N_STEPS - 200) / 50.0)
    plastic = np.arange(weights.nnz) % 4 != 0
    ours = spikesub_stdp(weights, rule, pre, post, dopamine=dopamine, plastic=plastic)
    ref = brian2_stdp(weights, rule, pre, post, dopamine=dopamine, plastic=plastic)
    np.testing.assert_allclose(ours.eligibility, ref.eligibility, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ours.weights, ref.weights, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(ours.weights[~plastic], weights.weights[~plastic])
    assert np.abs(ours.eligibility).max() > 1e-3
    assert np.abs(ours.weights - weights.weights).max() > 1e-3


def test_numba_backend_gives_the_numpy_bits():
    weights, pre, post = _case(3)
    rule = RewardSTDP(stdp=STDP(bounds="multiplicative"), update_every_ms=1.0)
    a = spikesub_stdp(weights, rule, pre, post, backend="numpy")
    b = spikesub_stdp(weights, rule, pre, post, backend="numba")
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.eligibility, b.eligibility)


def test_bad_trains_are_refused():
    weights, pre, post = _case()
    with pytest.raises(ValueError, match="post_raster"):
        spikesub_stdp(weights, STDP(), pre, post[:, :2])
    with pytest.raises(TypeError, match="rule"):
        brian2_stdp(weights, "stdp", pre, post)
