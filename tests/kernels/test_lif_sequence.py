"""Fused LIF sequence kernels: NumPy reference against snnTorch / PyTorch autograd, and the
Numba CPU and CUDA versions held to the NumPy reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesub.kernels.lif_sequence import (
    RESET_SUBTRACT,
    RESET_ZERO,
    SURROGATE_IDS,
    lif_sequence_backward_cuda,
    lif_sequence_backward_numba,
    lif_sequence_backward_numpy,
    lif_sequence_forward_cuda,
    lif_sequence_forward_numba,
    lif_sequence_forward_numpy,
    surrogate_grad,
    surrogate_grad_numpy,
)

DTYPES = (np.float32, np.float64)
RESETS = (RESET_SUBTRACT, RESET_ZERO)
SURROGATES = tuple(SURROGATE_IDS.values())
SLOPES = {0: 5.0, 1: 2.0, 2: 3.0, 3: 1.0}
TORCH_DTYPES = {np.float32: torch.float32, np.float64: torch.float64}


def _problem(n_steps, n_batch, n_features, dtype, seed):
    """Random inputs, parameters (some beta outside [0, 1]) and upstream gradients."""
    rng = np.random.default_rng(seed)
    m = n_batch * n_features
    return {
        "x": rng.normal(0.4, 0.8, (n_steps, m)).astype(dtype),
        "beta": rng.uniform(-0.2, 1.2, n_features).astype(dtype),
        "threshold": rng.uniform(0.5, 1.5, n_features).astype(dtype),
        "mem0": rng.normal(0.5, 1.0, m).astype(dtype),
        "grad_spk": rng.normal(0.0, 1.0, (n_steps, m)).astype(dtype),
        "grad_mem": rng.normal(0.0, 1.0, (n_steps, m)).astype(dtype),
    }


def _forward(fn, p, reset_mode):
    spk = np.full(p["x"].shape, -7.0, dtype=p["x"].dtype)
    mem = np.full(p["x"].shape, -7.0, dtype=p["x"].dtype)
    fn(p["x"], p["beta"], p["threshold"], p["mem0"], reset_mode, spk, mem)
    return spk, mem


def _backward(fn, p, mem, reset_mode, surrogate, slope):
    dtype = p["x"].dtype
    n_features = p["beta"].shape[0]
    grads = (
        np.full(p["x"].shape, -7.0, dtype=dtype),
        np.full(p["mem0"].shape, -7.0, dtype=dtype),
        np.full(n_features, -7.0, dtype=dtype),
        np.full(n_features, -7.0, dtype=dtype),
    )
    fn(
        p["grad_spk"], p["grad_mem"], mem, p["mem0"], p["beta"], p["threshold"], reset_mode,
        surrogate, slope, *grads,
    )  # fmt: skip
    return grads


# ----------------------------------------------------------------------------- torch references


class _Spike(torch.autograd.Function):
    """Heaviside forward, surrogate derivative (written out in torch) backward."""

    @staticmethod
    def forward(ctx, u, surrogate, slope):
        ctx.save_for_backward(u)
        ctx.surrogate, ctx.slope = surrogate, slope
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx, grad):
        (u,) = ctx.saved_tensors
        k = ctx.slope
        if ctx.surrogate == 0:
            d = 1.0 / (k * u.abs() + 1.0) ** 2
        elif ctx.surrogate == 1:
            d = k / 2 / (1 + (math.pi / 2 * k * u) ** 2)
        elif ctx.surrogate == 2:
            s = torch.sigmoid(k * u)
            d = k * s * (1 - s)
        else:
            d = torch.ones_like(u)
        return grad * d, None, None


def _torch_loop(p, n_features, reset_mode, surrogate, slope):
    """Plain PyTorch loop of the snnTorch Leaky update; returns values and autograd grads."""
    dtype = TORCH_DTYPES[p["x"].dtype.type]
    n_batch = p["mem0"].shape[0] // n_features
    x = torch.tensor(p["x"], dtype=dtype).reshape(-1, n_batch, n_features).requires_grad_()
    mem0 = torch.tensor(p["mem0"], dtype=dtype).reshape(n_batch, n_features).requires_grad_()
    beta = torch.tensor(p["beta"], dtype=dtype, requires_grad=True)
    thr = torch.tensor(p["threshold"], dtype=dtype, requires_grad=True)
    b = beta.clamp(0, 1)
    mem, spks, mems = mem0, [], []
    for t in range(x.shape[0]):
        reset = (mem - thr > 0).to(dtype).detach()
        if reset_mode == RESET_SUBTRACT:
            mem = b * mem + x[t] - reset * thr
        else:
            mem = b * ((1 - reset) * mem) + x[t]
        spks.append(_Spike.apply(mem - thr, surrogate, slope))
        mems.append(mem)
    spk, mem = torch.stack(spks), torch.stack(mems)
    gs = torch.tensor(p["grad_spk"], dtype=dtype).reshape(spk.shape)
    gm = torch.tensor(p["grad_mem"], dtype=dtype).reshape(mem.shape)
    grads = torch.autograd.grad((spk * gs).sum() + (mem * gm).sum(), (x, mem0, beta, thr))
    values = [spk.detach().reshape(len(spks), -1), mem.detach().reshape(len(mems), -1)]
    grads = [grads[0].reshape(len(spks), -1), grads[1].reshape(-1), grads[2], grads[3]]
    return [v.numpy() for v in values], [g.numpy() for g in grads]


def _tol(dtype):
    return {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-9, "atol": 1e-9}


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize("reset_mechanism", ["subtract", "zero"])
@pytest.mark.parametrize("surrogate_name", ["fast_sigmoid", "atan", "sigmoid", "straight_through"])
def test_numpy_matches_snntorch_leaky(reset_mechanism, surrogate_name):
    """Forward bit for bit, gradients (incl. learnable beta and threshold) to float tolerance."""
    snntorch = pytest.importorskip("snntorch")
    from snntorch import surrogate as sg

    n_steps, n_batch, n_features = 12, 3, 5
    p = _problem(n_steps, n_batch, n_features, np.float32, seed=11)
    surrogate = SURROGATE_IDS[surrogate_name]
    slope = SLOPES[surrogate]
    spike_grad = {
        "fast_sigmoid": lambda: sg.fast_sigmoid(slope=slope),
        "atan": lambda: sg.atan(alpha=slope),
        "sigmoid": lambda: sg.sigmoid(slope=slope),
        "straight_through": sg.straight_through_estimator,
    }[surrogate_name]()
    lif = snntorch.Leaky(
        beta=torch.tensor(p["beta"]),
        threshold=torch.tensor(p["threshold"]),
        spike_grad=spike_grad,
        learn_beta=True,
        learn_threshold=True,
        reset_mechanism=reset_mechanism,
    )
    x = torch.tensor(p["x"]).reshape(n_steps, n_batch, n_features).requires_grad_()
    mem = torch.tensor(p["mem0"]).reshape(n_batch, n_features).requires_grad_()
    mem0 = mem
    spks, mems = [], []
    for t in range(n_steps):
        spk, mem = lif(x[t], mem)
        spks.append(spk)
        mems.append(mem)
    spk_t, mem_t = torch.stack(spks), torch.stack(mems)
    gs = torch.tensor(p["grad_spk"]).reshape(spk_t.shape)
    gm = torch.tensor(p["grad_mem"]).reshape(mem_t.shape)
    loss = (spk_t * gs).sum() + (mem_t * gm).sum()
    g_x, g_mem0, g_beta, g_thr = torch.autograd.grad(loss, (x, mem0, lif.beta, lif.threshold))

    reset_mode = RESET_SUBTRACT if reset_mechanism == "subtract" else RESET_ZERO
    spk, mem_np = _forward(lif_sequence_forward_numpy, p, reset_mode)
    assert 0 < spk.sum() < spk.size  # both spikes and silence occur
    np.testing.assert_array_equal(spk, spk_t.detach().reshape(n_steps, -1).numpy())
    np.testing.assert_array_equal(mem_np, mem_t.detach().reshape(n_steps, -1).numpy())
    grads = _backward(lif_sequence_backward_numpy, p, mem_np, reset_mode, surrogate, slope)
    expected = (g_x.reshape(n_steps, -1), g_mem0.reshape(-1), g_beta, g_thr)
    for got, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(got, want.numpy(), rtol=2e-4, atol=2e-4)
    # beta outside [0, 1] is clamped: no gradient, as for torch.clamp
    outside = (p["beta"] < 0) | (p["beta"] > 1)
    assert outside.any()
    assert np.all(grads[2][outside] == 0)


@settings(max_examples=25, deadline=None)
@given(
    n_steps=st.integers(0, 9),
    n_batch=st.integers(1, 4),
    n_features=st.integers(1, 6),
    dtype=st.sampled_from(DTYPES),
    reset_mode=st.sampled_from(RESETS),
    surrogate=st.sampled_from(SURROGATES),
    seed=st.integers(0, 2**32 - 1),
)
def test_numpy_matches_torch_autograd(
    n_steps, n_batch, n_features, dtype, reset_mode, surrogate, seed
):
    p = _problem(n_steps, n_batch, n_features, dtype, seed)
    slope = SLOPES[surrogate]
    spk, mem = _forward(lif_sequence_forward_numpy, p, reset_mode)
    grads = _backward(lif_sequence_backward_numpy, p, mem, reset_mode, surrogate, slope)
    if n_steps == 0:
        np.testing.assert_array_equal(grads[1], 0)
        np.testing.assert_array_equal(grads[2], 0)
        np.testing.assert_array_equal(grads[3], 0)
        return
    (spk_t, mem_t), grads_t = _torch_loop(p, n_features, reset_mode, surrogate, slope)
    np.testing.assert_array_equal(spk, spk_t)
    np.testing.assert_array_equal(mem, mem_t)
    for got, want in zip(grads, grads_t, strict=True):
        np.testing.assert_allclose(got, want, **_tol(dtype))


@settings(max_examples=25, deadline=None)
@given(
    n_steps=st.integers(1, 12),
    n_batch=st.integers(1, 5),
    n_features=st.integers(1, 700),
    dtype=st.sampled_from(DTYPES),
    reset_mode=st.sampled_from(RESETS),
    surrogate=st.sampled_from(SURROGATES),
    seed=st.integers(0, 2**32 - 1),
)
def test_numba_matches_numpy(n_steps, n_batch, n_features, dtype, reset_mode, surrogate, seed):
    p = _problem(n_steps, n_batch, n_features, dtype, seed)
    slope = SLOPES[surrogate]
    spk, mem = _forward(lif_sequence_forward_numpy, p, reset_mode)
    spk_nb, mem_nb = _forward(lif_sequence_forward_numba, p, reset_mode)
    np.testing.assert_array_equal(spk_nb, spk)
    np.testing.assert_allclose(mem_nb, mem, rtol=1e-6 if dtype == np.float32 else 1e-12)
    grads = _backward(lif_sequence_backward_numpy, p, mem, reset_mode, surrogate, slope)
    grads_nb = _backward(lif_sequence_backward_numba, p, mem, reset_mode, surrogate, slope)
    for got, want in zip(grads_nb, grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.cuda
@settings(max_examples=10, deadline=None)
@given(
    n_steps=st.integers(1, 4),
    n_batch=st.integers(1, 3),
    n_features=st.integers(1, 5),
    dtype=st.sampled_from(DTYPES),
    reset_mode=st.sampled_from(RESETS),
    surrogate=st.sampled_from(SURROGATES),
    seed=st.integers(0, 2**32 - 1),
)
def test_cuda_matches_numpy(n_steps, n_batch, n_features, dtype, reset_mode, surrogate, seed):
    p = _problem(n_steps, n_batch, n_features, dtype, seed)
    slope = SLOPES[surrogate]
    spk, mem = _forward(lif_sequence_forward_numpy, p, reset_mode)
    spk_cu, mem_cu = _forward(lif_sequence_forward_cuda, p, reset_mode)
    np.testing.assert_array_equal(spk_cu, spk)
    np.testing.assert_allclose(
        mem_cu, mem, rtol=1e-6 if dtype == np.float32 else 1e-12,
        atol=1e-7 if dtype == np.float32 else 1e-15,
    )  # fmt: skip
    grads = _backward(lif_sequence_backward_numpy, p, mem, reset_mode, surrogate, slope)
    grads_cu = _backward(lif_sequence_backward_cuda, p, mem, reset_mode, surrogate, slope)
    for got, want in zip(grads_cu, grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.cuda
def test_cuda_device_arrays_stay_on_device():
    from numba import cuda

    p = _problem(3, 2, 4, np.float32, seed=3)
    spk, mem = _forward(lif_sequence_forward_numpy, p, RESET_SUBTRACT)
    d = {k: cuda.to_device(v) for k, v in p.items()}
    d_spk = cuda.device_array(p["x"].shape, dtype=np.float32)
    d_mem = cuda.device_array(p["x"].shape, dtype=np.float32)
    lif_sequence_forward_cuda(
        d["x"], d["beta"], d["threshold"], d["mem0"], RESET_SUBTRACT, d_spk, d_mem
    )
    np.testing.assert_array_equal(d_spk.copy_to_host(), spk)
    # a GPU fuses multiply-adds (one rounding instead of two): a few ulps, seen near zero
    np.testing.assert_allclose(d_mem.copy_to_host(), mem, rtol=1e-6, atol=1e-7)


def test_analytic_trace_subtract_and_zero():
    """beta = 0.5, threshold = 1, constant input 0.8, from rest: hand-computed membranes."""
    x = np.full((5, 1), 0.8, dtype=np.float64)
    p = {"x": x, "beta": np.array([0.5]), "threshold": np.array([1.0]), "mem0": np.zeros(1)}
    for fn in (lif_sequence_forward_numpy, lif_sequence_forward_numba):
        spk, mem = _forward(fn, p, RESET_SUBTRACT)
        # 0.8, 1.2 (spike), 0.6 + 0.8 - 1 = 0.4, 1.0 (not > 1), 1.3 (spike)
        np.testing.assert_allclose(mem[:, 0], [0.8, 1.2, 0.4, 1.0, 1.3])
        np.testing.assert_array_equal(spk[:, 0], [0, 1, 0, 0, 1])
        spk, mem = _forward(fn, p, RESET_ZERO)
        # after the spike at 1.2 the next step starts from 0: 0.8, 1.2, 0.8, 1.2, 0.8
        np.testing.assert_allclose(mem[:, 0], [0.8, 1.2, 0.8, 1.2, 0.8])
        np.testing.assert_array_equal(spk[:, 0], [0, 1, 0, 1, 0])


def test_beta_gradient_matches_finite_differences_without_spikes():
    """Below threshold the dynamics are smooth, so d(sum mem)/d(beta) is a plain derivative."""
    rng = np.random.default_rng(5)
    n_steps, n_batch, n_features = 8, 2, 3
    p = {
        "x": rng.uniform(0.0, 0.05, (n_steps, n_batch * n_features)),
        "beta": np.array([0.3, 0.6, 0.9]),
        "threshold": np.full(n_features, 10.0),
        "mem0": rng.uniform(0.0, 0.1, n_batch * n_features),
        "grad_spk": np.zeros((n_steps, n_batch * n_features)),
        "grad_mem": np.ones((n_steps, n_batch * n_features)),
    }
    _, mem = _forward(lif_sequence_forward_numpy, p, RESET_SUBTRACT)
    grads = _backward(lif_sequence_backward_numba, p, mem, RESET_SUBTRACT, 1, 2.0)
    eps = 1e-6
    for f in range(n_features):
        hi, lo = dict(p), dict(p)
        hi["beta"] = p["beta"] + eps * (np.arange(n_features) == f)
        lo["beta"] = p["beta"] - eps * (np.arange(n_features) == f)
        fd = (
            _forward(lif_sequence_forward_numpy, hi, RESET_SUBTRACT)[1].sum()
            - _forward(lif_sequence_forward_numpy, lo, RESET_SUBTRACT)[1].sum()
        ) / (2 * eps)
        assert grads[2][f] == pytest.approx(fd, rel=1e-6)
    np.testing.assert_allclose(grads[3], 0.0)  # no spike, no reset: threshold unused


@pytest.mark.parametrize("name", list(SURROGATE_IDS))
def test_surrogate_grad_matches_snntorch(name):
    from snntorch import surrogate as sg

    slope = 4.0
    fn = {
        "fast_sigmoid": lambda: sg.fast_sigmoid(slope=slope),
        "atan": lambda: sg.atan(alpha=slope),
        "sigmoid": lambda: sg.sigmoid(slope=slope),
        "straight_through": sg.straight_through_estimator,
    }[name]()
    u = torch.linspace(-3, 3, 61, dtype=torch.float64, requires_grad=True)
    (want,) = torch.autograd.grad(fn(u).sum(), u)
    sid = SURROGATE_IDS[name]
    got = surrogate_grad_numpy(u.detach().numpy(), sid, slope)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-12, atol=1e-15)
    scalar = [surrogate_grad(float(v), sid, slope) for v in u.detach().numpy()]
    np.testing.assert_allclose(scalar, got, rtol=1e-12)
    # the sigmoid surrogate stays finite far from threshold
    assert np.isfinite(surrogate_grad_numpy(np.array([-1e4, 1e4]), sid, slope)).all()


def test_bad_arguments_raise():
    p = _problem(3, 2, 4, np.float32, seed=0)
    spk = np.zeros_like(p["x"])
    mem = np.zeros_like(p["x"])
    args = (p["x"], p["beta"], p["threshold"], p["mem0"])
    for fn in (lif_sequence_forward_numpy, lif_sequence_forward_numba):
        with pytest.raises(ValueError, match="reset_mode"):
            fn(*args, 2, spk, mem)
        with pytest.raises(TypeError, match="reset_mode"):
            fn(*args, "subtract", spk, mem)
        with pytest.raises(ValueError, match="mem0"):
            fn(p["x"], p["beta"], p["threshold"], p["mem0"][:-1], 0, spk, mem)
        with pytest.raises(ValueError, match="multiple of F"):
            fn(p["x"], p["beta"][:3], p["threshold"][:3], p["mem0"], 0, spk, mem)
        with pytest.raises(TypeError, match="dtype"):
            fn(p["x"], p["beta"].astype(np.float64), p["threshold"], p["mem0"], 0, spk, mem)
        with pytest.raises(TypeError, match="float32 or float64"):
            fn(p["x"].astype(np.int32), *args[1:], 0, spk, mem)
    grads = [np.zeros_like(p["x"]), np.zeros_like(p["mem0"])] + [np.zeros_like(p["beta"])] * 2
    bwd = (p["grad_spk"], p["grad_mem"], mem, p["mem0"], p["beta"], p["threshold"], 0)
    for fn in (lif_sequence_backward_numpy, lif_sequence_backward_numba):
        with pytest.raises(ValueError, match="surrogate"):
            fn(*bwd, 4, 2.0, *grads)
        with pytest.raises(ValueError, match="slope"):
            fn(*bwd, 1, 0.0, *grads)
        with pytest.raises(ValueError, match="slope"):
            fn(*bwd, 1, float("nan"), *grads)
        with pytest.raises(ValueError, match="grad_beta"):
            fn(*bwd, 1, 2.0, *grads[:2], grads[2][:2], grads[3])


def _static_problem(n_steps, n_batch, n_features, dtype, seed):
    """A problem whose input is the same row at every step."""
    p = _problem(n_steps, n_batch, n_features, dtype, seed)
    p["x"] = np.repeat(p["x"][:1], n_steps, axis=0)
    return p


@pytest.mark.cuda
@pytest.mark.parametrize("reset_mode", RESETS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_static_input_row_equals_repeated_input(reset_mode, dtype):
    """x of one row drives every step; grad_x of one row is the sum of the per-step grads."""
    p = _static_problem(6, 3, 37, dtype, seed=11)
    spk, mem = _forward(lif_sequence_forward_numpy, p, reset_mode)
    full = _backward(lif_sequence_backward_numpy, p, mem, reset_mode, 1, 2.0)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    row = dict(x=p["x"][:1].copy())
    fns = [
        (lif_sequence_forward_numpy, lif_sequence_backward_numpy),
        (lif_sequence_forward_numba, lif_sequence_backward_numba),
        (lif_sequence_forward_cuda, lif_sequence_backward_cuda),
    ]
    for forward, backward in fns:
        spk_r, mem_r = np.full_like(spk, -7.0), np.full_like(mem, -7.0)
        forward(row["x"], p["beta"], p["threshold"], p["mem0"], reset_mode, spk_r, mem_r)
        np.testing.assert_array_equal(spk_r, spk)
        np.testing.assert_allclose(mem_r, mem, **tol)
        grad_x = np.full((1, p["x"].shape[1]), -7.0, dtype)
        grad_mem0 = np.full_like(p["mem0"], -7.0)
        grads_bt = np.full_like(p["beta"], -7.0), np.full_like(p["beta"], -7.0)
        backward(
            p["grad_spk"], p["grad_mem"], mem, p["mem0"], p["beta"], p["threshold"],
            reset_mode, 1, 2.0, grad_x, grad_mem0, *grads_bt,
        )  # fmt: skip
        np.testing.assert_allclose(grad_x[0], full[0].astype(np.float64).sum(0), **tol)
        for got, want in zip((grad_mem0, *grads_bt), full[1:], strict=True):
            np.testing.assert_allclose(got, want, **tol)


@pytest.mark.cuda
@pytest.mark.parametrize("reset_mode", RESETS)
@pytest.mark.parametrize("surrogate", SURROGATES)
def test_left_out_gradients_are_skipped_not_changed(reset_mode, surrogate):
    """grad_mem None equals zeros; grad_beta/grad_threshold None leave the rest unchanged."""
    p = _problem(7, 2, 45, np.float64, seed=12)
    p["grad_mem"] = np.zeros_like(p["grad_mem"])
    slope = SLOPES[surrogate]
    _, mem = _forward(lif_sequence_forward_numpy, p, reset_mode)
    want = _backward(lif_sequence_backward_numpy, p, mem, reset_mode, surrogate, slope)
    for backward in (
        lif_sequence_backward_numpy,
        lif_sequence_backward_numba,
        lif_sequence_backward_cuda,
    ):
        for grad_beta, grad_threshold in [(None, None), (np.empty(45), None)]:
            grad_x = np.full_like(p["x"], -7.0)
            grad_mem0 = np.full_like(p["mem0"], -7.0)
            backward(
                p["grad_spk"], None, mem, p["mem0"], p["beta"], p["threshold"], reset_mode,
                surrogate, slope, grad_x, grad_mem0, grad_beta, grad_threshold,
            )  # fmt: skip
            np.testing.assert_allclose(grad_x, want[0], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(grad_mem0, want[1], rtol=1e-12, atol=1e-12)
            if grad_beta is not None:
                np.testing.assert_allclose(grad_beta, want[2], rtol=1e-12, atol=1e-12)


def test_required_arrays_cannot_be_left_out():
    p = _problem(3, 2, 4, np.float32, seed=0)
    _, mem = _forward(lif_sequence_forward_numpy, p, RESET_SUBTRACT)
    grads = [np.zeros_like(p["x"]), np.zeros_like(p["mem0"]), None, None]
    for fn in (lif_sequence_backward_numpy, lif_sequence_backward_numba):
        with pytest.raises(TypeError, match="grad_spk must be an array"):
            fn(None, None, mem, p["mem0"], p["beta"], p["threshold"], 0, 1, 2.0, *grads)
        with pytest.raises(ValueError, match=r"grad_x must have shape \(3, 8\) or \(1, 8\)"):
            bad = [np.zeros((2, 8), np.float32), *grads[1:]]
            fn(p["grad_spk"], None, mem, p["mem0"], p["beta"], p["threshold"], 0, 1, 2.0, *bad)


@pytest.mark.parametrize("reset_mode", RESETS)
@pytest.mark.parametrize(
    ("n_batch", "n_features"),
    [(7, 1300), (1500, 3), (2, 9000)],
    ids=["blocks-of-3-rows-3-tiles", "2-blocks-of-many-rows", "one-row-per-block-18-tiles"],
)
def test_numba_work_items_cover_every_neuron_once(reset_mode, n_batch, n_features):
    """The Numba kernels split the neurons into blocks of batch rows and tiles of features,
    with partial blocks and tiles at the ends: every neuron is computed, once, as the NumPy
    reference computes it, for a per-step and a static input, with and without beta and
    threshold gradients."""
    p = _problem(4, n_batch, n_features, np.float32, seed=21)
    spk, mem = _forward(lif_sequence_forward_numpy, p, reset_mode)
    spk_nb, mem_nb = _forward(lif_sequence_forward_numba, p, reset_mode)
    np.testing.assert_array_equal(spk_nb, spk)
    np.testing.assert_array_equal(mem_nb, mem)
    want = _backward(lif_sequence_backward_numpy, p, mem, reset_mode, 1, 2.0)
    got = _backward(lif_sequence_backward_numba, p, mem, reset_mode, 1, 2.0)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    grad_x = np.full_like(p["x"], -7.0)
    grad_mem0 = np.full_like(p["mem0"], -7.0)
    lif_sequence_backward_numba(
        p["grad_spk"], None, mem, p["mem0"], p["beta"], p["threshold"], reset_mode, 1, 2.0,
        grad_x, grad_mem0, None, None,
    )  # fmt: skip
    no_gm = _backward(
        lif_sequence_backward_numpy, {**p, "grad_mem": np.zeros_like(p["grad_mem"])}, mem,
        reset_mode, 1, 2.0,
    )  # fmt: skip
    np.testing.assert_allclose(grad_x, no_gm[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(grad_mem0, no_gm[1], rtol=1e-6, atol=1e-6)
    static = _static_problem(4, n_batch, n_features, np.float32, seed=22)
    row = static["x"][:1].copy()
    spk_s, mem_s = _forward(lif_sequence_forward_numpy, static, reset_mode)
    spk_r, mem_r = np.full_like(spk_s, -7.0), np.full_like(mem_s, -7.0)
    lif_sequence_forward_numba(
        row, static["beta"], static["threshold"], static["mem0"], reset_mode, spk_r, mem_r
    )
    np.testing.assert_array_equal(spk_r, spk_s)
    np.testing.assert_array_equal(mem_r, mem_s)
    full = _backward(lif_sequence_backward_numpy, static, mem_s, reset_mode, 1, 2.0)
    grad_row = np.full_like(row, -7.0)
    lif_sequence_backward_numba(
        static["grad_spk"], static["grad_mem"], mem_s, static["mem0"], static["beta"],
        static["threshold"], reset_mode, 1, 2.0, grad_row, np.empty_like(static["mem0"]),
        None, None,
    )  # fmt: skip
    np.testing.assert_allclose(grad_row[0], full[0].astype(np.float64).sum(0), rtol=1e-5, atol=1e-5)
