"""Izhikevich array kernels: Numba and CUDA held to the NumPy reference; known behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import cuda

from spikesub.kernels import (
    izhikevich2003_scalar,
    izhikevich2003_step_cuda,
    izhikevich2003_step_numba,
    izhikevich2003_step_numpy,
    izhikevich2003_update_cuda,
    izhikevich2003_update_numba,
    izhikevich2003_update_numpy,
    izhikevich2007_step_cuda,
    izhikevich2007_step_numba,
    izhikevich2007_step_numpy,
    izhikevich2007_update_cuda,
    izhikevich2007_update_numba,
    izhikevich2007_update_numpy,
    izhikevich_reset_cuda,
    izhikevich_reset_numba,
    izhikevich_reset_numpy,
)
from spikesub.kernels.izhikevich import PARALLEL_MIN_NEURONS

DTYPES = (np.float32, np.float64)


def _tol(dtype):
    return {"rtol": 1e-5, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-11, "atol": 1e-9}


def _neurons2003(n, dtype, param_dtype, seed):
    """Random regular-spiking-like neurons, some already above the peak."""
    rng = np.random.default_rng(seed)
    return {
        "v": rng.uniform(-80.0, 35.0, n).astype(dtype),
        "u": rng.uniform(-20.0, 10.0, n).astype(dtype),
        "current": rng.uniform(-5.0, 25.0, n).astype(param_dtype),
        "a": rng.uniform(0.01, 0.1, n).astype(param_dtype),
        "b": rng.uniform(0.2, 0.26, n).astype(param_dtype),
        "c": rng.uniform(-65.0, -50.0, n).astype(param_dtype),
        "d": rng.uniform(0.05, 8.0, n).astype(param_dtype),
    }


def _neurons2007(n, dtype, param_dtype, seed):
    """Random 2007-form neurons around the Nicola & Clopath (2017) parameters."""
    rng = np.random.default_rng(seed)
    return {
        "v": rng.uniform(-70.0, 35.0, n).astype(dtype),
        "u": rng.uniform(-10.0, 100.0, n).astype(dtype),
        "current": rng.uniform(0.0, 2000.0, n).astype(param_dtype),
        "C": rng.uniform(100.0, 250.0, n).astype(param_dtype),
        "k": rng.uniform(0.7, 2.5, n).astype(param_dtype),
        "v_r": rng.uniform(-62.0, -58.0, n).astype(param_dtype),
        "v_t": rng.uniform(-42.0, -38.0, n).astype(param_dtype),
        "a": rng.uniform(0.002, 0.03, n).astype(param_dtype),
        "b": rng.uniform(-2.0, 2.0, n).astype(param_dtype),
        "c": rng.uniform(-65.0, -50.0, n).astype(param_dtype),
        "d": rng.uniform(50.0, 200.0, n).astype(param_dtype),
    }


def _run2003(fn, p, dt_ms, n_substeps, v_peak, *, step):
    v, u = p["v"].copy(), p["u"].copy()
    spiked = np.zeros(v.shape[0], dtype=bool)
    if step:
        fn(v, u, p["current"], p["a"], p["b"], p["c"], p["d"], dt_ms, n_substeps, v_peak, spiked)
    else:
        fn(v, u, p["current"], p["a"], p["b"], dt_ms, n_substeps, v_peak, spiked)
    return v, u, spiked


def _run2007(fn, p, dt_ms, n_substeps, v_peak, *, step):
    v, u = p["v"].copy(), p["u"].copy()
    spiked = np.zeros(v.shape[0], dtype=bool)
    args = [p["current"], p["C"], p["k"], p["v_r"], p["v_t"], p["a"], p["b"]]
    if step:
        args += [p["c"], p["d"]]
    fn(v, u, *args, dt_ms, n_substeps, v_peak, spiked)
    return v, u, spiked


def _assert_same(ref, got):
    for r, g in zip(ref, got, strict=True):
        assert g.dtype == r.dtype
        np.testing.assert_array_equal(g, r)


def _assert_close(ref, got, dtype):
    v_ref, u_ref, s_ref = ref
    v, u, s = got
    np.testing.assert_allclose(v, v_ref, **_tol(dtype))
    np.testing.assert_allclose(u, u_ref, **_tol(dtype))
    np.testing.assert_array_equal(s, s_ref)


# (state dtype, parameter dtype); mixed pairs get their own tests below, since every pair is
# one more compilation of each kernel.
common = {
    "n": st.integers(1, 64),
    "dtypes": st.sampled_from([(np.float32, np.float32), (np.float64, np.float64)]),
    "seed": st.integers(0, 2**32 - 1),
    "dt_ms": st.sampled_from([0.05, 0.1, 0.25, 0.5, 1.0]),
    "n_substeps": st.integers(1, 4),
}


# NumPy reference against the scalar math -----------------------------------


def test_numpy_matches_scalar_function():
    p = _neurons2003(20, np.float64, np.float64, 1)
    v, u, spiked = _run2003(izhikevich2003_update_numpy, p, 0.5, 2, 30.0, step=False)
    for i in range(20):
        vi, ui = izhikevich2003_scalar(
            float(p["v"][i]), float(p["u"][i]), float(p["current"][i]), float(p["a"][i]),
            float(p["b"][i]), 0.5, 2,
        )  # fmt: skip
        assert v[i] == vi and u[i] == ui
        assert spiked[i] == (vi >= 30.0)


def test_float32_state_rounds_the_float64_result_once():
    p = _neurons2003(30, np.float32, np.float32, 2)
    v32, u32, _ = _run2003(izhikevich2003_update_numpy, p, 1.0, 2, 30.0, step=False)
    p64 = {k: x.astype(np.float64) for k, x in p.items()}
    v64, u64, _ = _run2003(izhikevich2003_update_numpy, p64, 1.0, 2, 30.0, step=False)
    np.testing.assert_array_equal(v32, v64.astype(np.float32))
    np.testing.assert_array_equal(u32, u64.astype(np.float32))


def test_spike_flag_reads_stored_v():
    # 0.1 is not a float32 number: the float32 state rounds just below/above it.
    v = np.array([0.1, 0.1], dtype=np.float32)
    u = np.zeros(2, dtype=np.float32)
    zeros = np.zeros(2, dtype=np.float32)
    spiked = np.zeros(2, dtype=bool)
    for fn in (izhikevich2003_update_numpy, izhikevich2003_update_numba):
        vv = v.copy()
        # dt_ms = 0 leaves the state as it is; only the spike test acts.
        fn(vv, u.copy(), zeros, zeros, zeros, 0.0, 1, float(np.float32(0.1)), spiked)
        assert spiked.all()
        fn(vv, u.copy(), zeros, zeros, zeros, 0.0, 1, 0.1000001, spiked)
        assert not spiked.any()


# Numba against NumPy: bit for bit ------------------------------------------


@settings(max_examples=25, deadline=None)
@given(**common, v_peak=st.sampled_from([30.0, 25.0, 0.1]))
def test_2003_update_and_step_numba_equal_numpy(n, dtypes, seed, dt_ms, n_substeps, v_peak):
    p = _neurons2003(n, *dtypes, seed)
    for step, ref_fn, fn in (
        (False, izhikevich2003_update_numpy, izhikevich2003_update_numba),
        (True, izhikevich2003_step_numpy, izhikevich2003_step_numba),
    ):
        ref = _run2003(ref_fn, p, dt_ms, n_substeps, v_peak, step=step)
        _assert_same(ref, _run2003(fn, p, dt_ms, n_substeps, v_peak, step=step))


@settings(max_examples=25, deadline=None)
@given(**common)
def test_2007_update_and_step_numba_equal_numpy(n, dtypes, seed, dt_ms, n_substeps):
    p = _neurons2007(n, *dtypes, seed)
    for step, ref_fn, fn in (
        (False, izhikevich2007_update_numpy, izhikevich2007_update_numba),
        (True, izhikevich2007_step_numpy, izhikevich2007_step_numba),
    ):
        ref = _run2007(ref_fn, p, dt_ms, n_substeps, 35.0, step=step)
        _assert_same(ref, _run2007(fn, p, dt_ms, n_substeps, 35.0, step=step))


@settings(max_examples=25, deadline=None)
@given(n=common["n"], dtype=st.sampled_from(DTYPES), seed=common["seed"])
def test_reset_numba_equals_numpy(n, dtype, seed):
    rng = np.random.default_rng(seed)
    p = _neurons2003(n, dtype, dtype, seed)
    spiked = rng.random(n) < 0.5
    v1, u1, v2, u2 = p["v"].copy(), p["u"].copy(), p["v"].copy(), p["u"].copy()
    izhikevich_reset_numpy(v1, u1, p["c"], p["d"], spiked)
    izhikevich_reset_numba(v2, u2, p["c"], p["d"], spiked)
    _assert_same((v1, u1), (v2, u2))
    np.testing.assert_array_equal(v1[spiked], p["c"][spiked])
    np.testing.assert_array_equal(v1[~spiked], p["v"][~spiked])
    np.testing.assert_array_equal(u1[~spiked], p["u"][~spiked])
    np.testing.assert_allclose(u1[spiked], p["u"][spiked] + p["d"][spiked], rtol=1e-6)


def test_mixed_dtypes_numba_equal_numpy():
    # float32 state with float64 parameters: widened to float64 alike on both paths.
    p = _neurons2003(50, np.float32, np.float64, 6)
    ref = _run2003(izhikevich2003_step_numpy, p, 0.5, 2, 30.0, step=True)
    _assert_same(ref, _run2003(izhikevich2003_step_numba, p, 0.5, 2, 30.0, step=True))
    p = _neurons2007(50, np.float32, np.float64, 6)
    ref = _run2007(izhikevich2007_step_numpy, p, 0.5, 2, 30.0, step=True)
    _assert_same(ref, _run2007(izhikevich2007_step_numba, p, 0.5, 2, 30.0, step=True))


def test_parallel_path_equals_numpy():
    n = PARALLEL_MIN_NEURONS + 37  # above the threshold: the multi-threaded loop runs
    p3 = _neurons2003(n, np.float32, np.float32, 7)
    p7 = _neurons2007(n, np.float32, np.float32, 7)
    for step in (False, True):
        fns3 = (izhikevich2003_step_numpy, izhikevich2003_step_numba)
        if not step:
            fns3 = (izhikevich2003_update_numpy, izhikevich2003_update_numba)
        ref = _run2003(fns3[0], p3, 1.0, 2, 30.0, step=step)
        assert ref[2].sum() > 100
        _assert_same(ref, _run2003(fns3[1], p3, 1.0, 2, 30.0, step=step))
        fns7 = (izhikevich2007_step_numpy, izhikevich2007_step_numba)
        if not step:
            fns7 = (izhikevich2007_update_numpy, izhikevich2007_update_numba)
        ref = _run2007(fns7[0], p7, 0.5, 1, 30.0, step=step)
        _assert_same(ref, _run2007(fns7[1], p7, 0.5, 1, 30.0, step=step))
    spiked = np.arange(n) % 2 == 0
    v1, u1, v2, u2 = p3["v"].copy(), p3["u"].copy(), p3["v"].copy(), p3["u"].copy()
    izhikevich_reset_numpy(v1, u1, p3["c"], p3["d"], spiked)
    izhikevich_reset_numba(v2, u2, p3["c"], p3["d"], spiked)
    _assert_same((v1, u1), (v2, u2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_step_is_update_then_reset(dtype):
    p = _neurons2007(64, dtype, dtype, 3)
    v, u, spiked = _run2007(izhikevich2007_update_numba, p, 0.5, 1, 30.0, step=False)
    assert spiked.any() and not spiked.all()
    izhikevich_reset_numba(v, u, p["c"], p["d"], spiked)
    _assert_same((v, u, spiked), _run2007(izhikevich2007_step_numba, p, 0.5, 1, 30.0, step=True))


# CUDA against NumPy (simulator where no GPU) ---------------------------------


@pytest.mark.cuda
@settings(max_examples=4, deadline=None)
@given(**common)
def test_2003_cuda_close_to_numpy(n, dtypes, seed, dt_ms, n_substeps):
    dtype = dtypes[0]
    p = _neurons2003(n, *dtypes, seed)
    for step, ref_fn, fn in (
        (False, izhikevich2003_update_numpy, izhikevich2003_update_cuda),
        (True, izhikevich2003_step_numpy, izhikevich2003_step_cuda),
    ):
        ref = _run2003(ref_fn, p, dt_ms, n_substeps, 30.0, step=step)
        _assert_close(ref, _run2003(fn, p, dt_ms, n_substeps, 30.0, step=step), dtype)


@pytest.mark.cuda
@settings(max_examples=4, deadline=None)
@given(**common)
def test_2007_cuda_close_to_numpy(n, dtypes, seed, dt_ms, n_substeps):
    dtype = dtypes[0]
    p = _neurons2007(n, *dtypes, seed)
    for step, ref_fn, fn in (
        (False, izhikevich2007_update_numpy, izhikevich2007_update_cuda),
        (True, izhikevich2007_step_numpy, izhikevich2007_step_cuda),
    ):
        ref = _run2007(ref_fn, p, dt_ms, n_substeps, 35.0, step=step)
        _assert_close(ref, _run2007(fn, p, dt_ms, n_substeps, 35.0, step=step), dtype)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
def test_reset_cuda_close_to_numpy(dtype):
    p = _neurons2003(40, dtype, dtype, 4)
    spiked = np.arange(40) % 3 == 0
    v1, u1, v2, u2 = p["v"].copy(), p["u"].copy(), p["v"].copy(), p["u"].copy()
    izhikevich_reset_numpy(v1, u1, p["c"], p["d"], spiked)
    izhikevich_reset_cuda(v2, u2, p["c"], p["d"], spiked)
    np.testing.assert_allclose(v2, v1, **_tol(dtype))
    np.testing.assert_allclose(u2, u1, **_tol(dtype))


@pytest.mark.cuda
def test_cuda_accepts_device_arrays_and_many_blocks():
    n = 200  # two blocks of 128 threads
    p = _neurons2003(n, np.float32, np.float32, 5)
    ref = _run2003(izhikevich2003_step_numpy, p, 1.0, 2, 30.0, step=True)
    d = {k: cuda.to_device(x) for k, x in p.items()}
    d_spiked = cuda.to_device(np.zeros(n, dtype=bool))
    izhikevich2003_step_cuda(
        d["v"], d["u"], d["current"], d["a"], d["b"], d["c"], d["d"], 1.0, 2, 30.0, d_spiked
    )
    got = (d["v"].copy_to_host(), d["u"].copy_to_host(), d_spiked.copy_to_host())
    _assert_close(ref, got, np.float32)
    assert ref[2].any()


def test_empty_population_is_a_no_op():
    empty = np.zeros(0)
    spiked = np.zeros(0, dtype=bool)
    for fn in (izhikevich2003_step_numpy, izhikevich2003_step_numba, izhikevich2003_step_cuda):
        assert fn(empty, empty, empty, empty, empty, empty, empty, 1.0, 2, 30.0, spiked) is None


# Behaviour with known answers ------------------------------------------------


def _simulate_rs(step_fn, current, n_steps, dt_ms=1.0, n_substeps=2, dtype=np.float32):
    """One regular-spiking neuron (a=0.02, b=0.2, c=-65, d=8) at constant current."""

    def par(x):
        return np.array([x], dtype=dtype)

    v, u = par(-65.0), par(-65.0 * 0.2)
    spiked = np.zeros(1, dtype=bool)
    spike_steps, vs = [], []
    for t in range(n_steps):
        step_fn(
            v, u, par(current), par(0.02), par(0.2), par(-65.0), par(8.0),
            dt_ms, n_substeps, 30.0, spiked,
        )  # fmt: skip
        if spiked[0]:
            spike_steps.append(t)
        vs.append(float(v[0]))
    return np.array(spike_steps), np.array(vs)


@pytest.mark.parametrize("step_fn", [izhikevich2003_step_numpy, izhikevich2003_step_numba])
def test_regular_spiking_neuron_fires_tonically(step_fn):
    spikes, _ = _simulate_rs(step_fn, 10.0, 1000)
    assert 5 <= spikes.size <= 40  # a few to a few tens of Hz
    isi = np.diff(spikes)
    # Spike-frequency adaptation: the first interval is the shortest, then the rate settles.
    assert isi[0] < isi[-1]
    late = isi[isi.size // 2 :]
    assert late.max() - late.min() <= 1  # tonic: constant interval within one step
    assert spikes[-1] > 900  # still firing at the end


@pytest.mark.parametrize("step_fn", [izhikevich2003_step_numpy, izhikevich2003_step_numba])
def test_regular_spiking_neuron_rests_without_input(step_fn):
    spikes, vs = _simulate_rs(step_fn, 0.0, 500)
    assert spikes.size == 0
    # Stable fixed point of 0.04 v^2 + 5 v + 140 - b v = 0 with u = b v: v = -70 mV.
    assert abs(vs[-1] - (-70.0)) < 0.1
    assert np.all(vs < -60.0)


@pytest.mark.cuda
def test_regular_spiking_first_spike_same_on_cuda():
    ref, ref_v = _simulate_rs(izhikevich2003_step_numpy, 10.0, 12, dtype=np.float64)
    got, got_v = _simulate_rs(izhikevich2003_step_cuda, 10.0, 12, dtype=np.float64)
    assert ref.size >= 1
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_allclose(got_v, ref_v, rtol=1e-9, atol=1e-9)
