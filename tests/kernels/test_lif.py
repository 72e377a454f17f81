"""LIF kernel: Numba and CUDA held to the NumPy reference; analytical inter-spike intervals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesub.kernels import (
    LIF_RESET_SUBTRACT,
    LIF_RESET_ZERO,
    lif_update_cuda,
    lif_update_numba,
    lif_update_numpy,
)
from spikesub.kernels.lif import PARALLEL_MIN_NEURONS

DTYPES = (np.float32, np.float64)


def _population(n, dtype, seed, dt_ms=0.5):
    rng = np.random.default_rng(seed)
    tau_ms = rng.uniform(5.0, 30.0, n)
    return {
        "v": rng.uniform(-75.0, -45.0, n).astype(dtype),
        "current": rng.uniform(0.0, 3.0, n).astype(dtype),
        "refractory_left": rng.integers(0, 4, n).astype(np.int32),
        "decay": np.exp(-dt_ms / tau_ms).astype(dtype),
        "v_rest": rng.uniform(-72.0, -68.0, n).astype(dtype),
        "v_th": rng.uniform(-55.0, -48.0, n).astype(dtype),
        "v_reset": rng.uniform(-75.0, -65.0, n).astype(dtype),
        "resistance": rng.uniform(5.0, 20.0, n).astype(dtype),
    }


def _run(fn, p, refractory_steps, reset_mode, n_steps=1):
    v = p["v"].copy()
    refractory_left = p["refractory_left"].copy()
    spiked = np.zeros(v.shape[0], dtype=bool)
    counts = np.zeros(v.shape[0], dtype=np.int64)
    for _ in range(n_steps):
        fn(
            v, p["current"], refractory_left, p["decay"], p["v_rest"], p["v_th"], p["v_reset"],
            p["resistance"], refractory_steps, reset_mode, spiked,
        )  # fmt: skip
        counts += spiked
    return v, refractory_left, spiked, counts


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 64),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**32 - 1),
    refractory_steps=st.integers(0, 5),
    reset_mode=st.sampled_from([LIF_RESET_ZERO, LIF_RESET_SUBTRACT]),
)
def test_numba_equals_numpy(n, dtype, seed, refractory_steps, reset_mode):
    p = _population(n, dtype, seed)
    ref = _run(lif_update_numpy, p, refractory_steps, reset_mode, n_steps=20)
    got = _run(lif_update_numba, p, refractory_steps, reset_mode, n_steps=20)
    for r, g in zip(ref, got, strict=True):
        assert g.dtype == r.dtype
        np.testing.assert_array_equal(g, r)


def test_parallel_path_equals_numpy():
    p = _population(PARALLEL_MIN_NEURONS + 11, np.float32, 8)
    ref = _run(lif_update_numpy, p, 3, LIF_RESET_ZERO, n_steps=10)
    assert ref[3].sum() > 100
    got = _run(lif_update_numba, p, 3, LIF_RESET_ZERO, n_steps=10)
    for r, g in zip(ref, got, strict=True):
        np.testing.assert_array_equal(g, r)


@pytest.mark.cuda
@settings(max_examples=4, deadline=None)
@given(
    n=st.integers(1, 64),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**32 - 1),
    reset_mode=st.sampled_from([LIF_RESET_ZERO, LIF_RESET_SUBTRACT]),
)
def test_cuda_close_to_numpy(n, dtype, seed, reset_mode):
    p = _population(n, dtype, seed)
    v_ref, ref_left, s_ref, _ = _run(lif_update_numpy, p, 2, reset_mode, n_steps=2)
    v, left, s, _ = _run(lif_update_cuda, p, 2, reset_mode, n_steps=2)
    tol = {"rtol": 1e-5, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-10}
    np.testing.assert_allclose(v, v_ref, **tol)
    np.testing.assert_array_equal(left, ref_left)
    np.testing.assert_array_equal(s, s_ref)


def _constant_current_isi(fn, currents, tau_ms, dt_ms, v_th, refractory_steps, n_steps, dtype):
    """Spike steps of neurons with v_rest = v_reset = 0, R = 1, under constant currents,
    and the final potentials."""
    n = currents.shape[0]

    def full(x):
        return np.full(n, x, dtype=dtype)

    v = full(0.0)
    refractory_left = np.zeros(n, dtype=np.int32)
    spiked = np.zeros(n, dtype=bool)
    decay = full(np.exp(-dt_ms / tau_ms))
    current = currents.astype(dtype)
    steps = [[] for _ in range(n)]
    for t in range(n_steps):
        fn(
            v, current, refractory_left, decay, full(0.0), full(v_th), full(0.0), full(1.0),
            refractory_steps, LIF_RESET_ZERO, spiked,
        )  # fmt: skip
        for i in np.flatnonzero(spiked):
            steps[i].append(t)
    return [np.array(s) for s in steps], v


@pytest.mark.parametrize("fn", [lif_update_numpy, lif_update_numba])
@pytest.mark.parametrize("dtype", DTYPES)
def test_isi_matches_analytical_value(fn, dtype):
    tau_ms, dt_ms, v_th = 10.0, 0.1, 1.0
    currents = np.array([1.05, 1.2, 1.5, 2.0, 4.0])  # R I > v_th: tonic firing
    spikes = _constant_current_isi(fn, currents, tau_ms, dt_ms, v_th, 0, 2000, dtype)[0]
    for ri, s in zip(currents, spikes, strict=True):
        expected_ms = tau_ms * np.log(ri / (ri - v_th))
        isi_ms = np.diff(s) * dt_ms
        assert isi_ms.size >= 3
        assert np.all(np.abs(isi_ms - expected_ms) <= dt_ms)  # within one step
        # The first spike comes one interval after t = 0, from v = 0 as after a reset.
        assert abs((s[0] + 1) * dt_ms - expected_ms) <= dt_ms


@pytest.mark.parametrize("fn", [lif_update_numpy, lif_update_numba])
def test_refractory_period_lengthens_isi_by_its_steps(fn):
    currents = np.array([1.1, 1.5, 3.0])
    base = _constant_current_isi(fn, currents, 10.0, 0.1, 1.0, 0, 1500, np.float64)[0]
    for refractory_steps in (1, 7, 25):
        longer = _constant_current_isi(
            fn, currents, 10.0, 0.1, 1.0, refractory_steps, 1500, np.float64
        )[0]
        for b, s in zip(base, longer, strict=True):
            # Every interval is the same whole number of steps, plus the refractory steps.
            assert np.unique(np.diff(b)).size == 1
            np.testing.assert_array_equal(np.diff(s), np.diff(b)[0] + refractory_steps)


@pytest.mark.parametrize("fn", [lif_update_numpy, lif_update_numba])
def test_below_rheobase_never_fires_and_settles_at_r_times_i(fn):
    currents = np.array([0.5, 0.99])
    spikes, v = _constant_current_isi(fn, currents, 10.0, 0.1, 1.0, 0, 2000, np.float64)
    assert all(s.size == 0 for s in spikes)
    # After 20 time constants, v = R I (1 - exp(-20)).
    np.testing.assert_allclose(v, currents * (1.0 - np.exp(-20.0)), rtol=1e-9)


@pytest.mark.parametrize("fn", [lif_update_numpy, lif_update_numba])
def test_refractory_clamps_and_counts_down(fn):
    n = 3
    v = np.array([0.5, 2.0, 0.5])  # neuron 1 is above threshold
    refractory_left = np.array([2, 0, 0], dtype=np.int32)
    spiked = np.zeros(n, dtype=bool)
    args = (np.full(n, 0.9), np.zeros(n), np.full(n, 1.0), np.full(n, -1.0), np.ones(n))
    current = np.zeros(n)
    fn(v, current, refractory_left, *args, 4, LIF_RESET_ZERO, spiked)
    np.testing.assert_array_equal(spiked, [False, True, False])
    np.testing.assert_array_equal(refractory_left, [1, 4, 0])
    np.testing.assert_array_equal(v, [-1.0, -1.0, 0.45])  # clamped, reset, decayed
    fn(v, current, refractory_left, *args, 4, LIF_RESET_ZERO, spiked)
    np.testing.assert_array_equal(refractory_left, [0, 3, 0])
    assert not spiked.any()


@pytest.mark.parametrize("fn", [lif_update_numpy, lif_update_numba])
def test_subtract_reset_keeps_overshoot(fn):
    v = np.array([0.0, 0.0], dtype=np.float64)
    refractory_left = np.zeros(2, dtype=np.int32)
    spiked = np.zeros(2, dtype=bool)
    # decay = 0: v jumps to R I in one step; 1.75 crosses v_th = 1 and keeps 0.75 after subtracting
    # v_th - v_reset = 1.0 (v_reset = 0).
    fn(
        v, np.array([1.75, 0.5]), refractory_left, np.zeros(2), np.zeros(2), np.ones(2),
        np.zeros(2), np.ones(2), 0, LIF_RESET_SUBTRACT, spiked,
    )  # fmt: skip
    np.testing.assert_array_equal(spiked, [True, False])
    np.testing.assert_array_equal(v, [0.75, 0.5])


def test_bad_reset_mode_raises():
    one = np.ones(1)
    with pytest.raises(ValueError, match="reset_mode"):
        lif_update_numpy(
            one.copy(), one, np.zeros(1, np.int32), one, one, one, one, one, 0, 2,
            np.zeros(1, bool),
        )  # fmt: skip
