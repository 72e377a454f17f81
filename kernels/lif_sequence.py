"""Fused multi-step leaky integrate-and-fire kernels (snnTorch ``Leaky`` semantics), with BPTT.

Layout: a sequence of ``T`` steps over ``M = B * F`` neurons, flattened row-major from
``(batch, features)`` so that neuron ``m = b * F + f`` uses the per-feature parameters
``beta[f]`` and ``threshold[f]``. Per step ``t`` and neuron, with ``mem[-1] = mem0`` and
``beta`` clamped to ``[0, 1]`` as ``snntorch.Leaky`` does:

* ``reset_t = H(mem[t-1] - threshold)`` (treated as a constant by the backward pass);
* ``reset_mode`` 0 (``"subtract"``): ``mem[t] = beta * mem[t-1] + x[t] - reset_t * threshold``;
* ``reset_mode`` 1 (``"zero"``): ``mem[t] = beta * ((1 - reset_t) * mem[t-1]) + x[t]``;
* ``spk[t] = H(mem[t] - threshold)`` with ``H(u) = 1`` for ``u > 0`` and 0 otherwise.

The backward pass uses a surrogate ``dspk/dmem = surrogate_grad(mem[t] - threshold)``
(the formulas of ``snntorch.surrogate``, see :func:`surrogate_grad`), and with upstream
gradients ``gs[t] = dL/dspk[t]`` and ``gm[t] = dL/dmem[t]`` runs the recursion, backwards in
time, for the total gradient of each membrane value

    ``dm[t] = gm[t] + gs[t] * sg[t] + dm[t+1] * a[t+1]``,

where ``a[t] = beta`` (subtract) or ``beta * (1 - reset_t)`` (zero). Then ``dL/dx[t] = dm[t]``,
``dL/dmem0 = dm[0] * a[0]``, ``dL/dbeta = sum_t dm[t] * mem_eff[t-1]`` (``mem_eff`` being
``mem[t-1]``, or ``(1 - reset_t) * mem[t-1]`` for zero; nonzero only where the unclamped beta
lies in ``[0, 1]``, as for ``torch.clamp``) and ``dL/dthreshold = -sum_t gs[t] * sg[t]``,
minus ``sum_t dm[t] * reset_t`` for subtract (the reset is detached, the threshold it
multiplies is not). Gradients of beta and threshold are summed over batch and time.

A static input (the same current at every step, e.g. the first layer of a network fed with
directly encoded images) is passed as one row ``x`` ``(1, M)``; its gradient, asked for as
one row ``grad_x`` ``(1, M)``, is ``sum_t dm[t]``. The backward pass takes None for an
absent membrane gradient and for unwanted beta and threshold gradients, and then skips that
work (fixed beta and threshold are the common case).

The forward pass computes in the dtype of ``x`` (float32 or float64), in the same order of
operations as snnTorch, so spikes agree with a PyTorch loop in the same dtype. The backward
pass computes in float64 and stores in the dtype of the gradients.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

import spikesub.kernels.threads  # noqa: F401 - loads TBB before Numba's pool starts
from spikesub.kernels.launch import THREADS_PER_BLOCK
from spikesub.kernels.lazy_cuda import cuda

RESET_SUBTRACT = 0
"""``reset_mode``: a neuron that spiked at the previous step loses ``threshold``."""
RESET_ZERO = 1
"""``reset_mode``: a neuron that spiked at the previous step starts the step from 0."""

SURROGATE_IDS = {"fast_sigmoid": 0, "atan": 1, "sigmoid": 2, "straight_through": 3}
"""Surrogate-gradient names (as in ``snntorch.surrogate``) and the ids the kernels take."""

_TILE = 512
"""Features per parallel work item in the Numba CPU kernels (each item: a block of batch rows,
:func:`_rows_per_item`, and up to this many features); fixed, so results are identical for
any number of threads."""

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _surrogate_grad_py(u, surrogate, slope):
    """Surrogate derivative of the Heaviside step at ``u = mem - threshold`` (float64)."""
    if surrogate == 0:
        d = slope * abs(u) + 1.0
        return 1.0 / (d * d)
    if surrogate == 1:
        z = 0.5 * math.pi * slope * u
        return 0.5 * slope / (1.0 + z * z)
    if surrogate == 2:
        # slope * s * (1 - s) with s = sigmoid(slope * u), written with exp(-|slope * u|),
        # the same value without overflow for large |u|
        e = math.exp(-abs(slope * u))
        return slope * e / ((1.0 + e) * (1.0 + e))
    return 1.0


surrogate_grad = njit(cache=True, inline="always")(_surrogate_grad_py)
surrogate_grad.__doc__ = """Surrogate derivative ``dspk/du`` at ``u = mem - threshold`` (njit).

Args:
    u: membrane minus threshold (float).
    surrogate: id from :data:`SURROGATE_IDS`:
        0 fast_sigmoid ``1 / (slope * |u| + 1)^2``;
        1 atan ``slope / 2 / (1 + (pi / 2 * slope * u)^2)``;
        2 sigmoid ``slope * s * (1 - s)`` with ``s = 1 / (1 + exp(-slope * u))``;
        3 straight_through ``1``.
    slope: the surrogate's slope (snnTorch's ``slope``, or ``alpha`` for atan).

Returns:
    The derivative as a float64.
"""

surrogate_grad_cuda = cuda.jit(device=True, inline="always")(_surrogate_grad_py)
"""CUDA device version of :func:`surrogate_grad`."""


def surrogate_grad_numpy(u: np.ndarray, surrogate: int, slope: float) -> np.ndarray:
    """Vectorised :func:`surrogate_grad` over an array ``u`` (any shape); returns float64."""
    _check_surrogate(surrogate, slope)
    u = np.asarray(u, dtype=np.float64)
    if surrogate == 0:
        return 1.0 / (slope * np.abs(u) + 1.0) ** 2
    if surrogate == 1:
        return 0.5 * slope / (1.0 + (0.5 * math.pi * slope * u) ** 2)
    if surrogate == 2:
        e = np.exp(-np.abs(slope * u))
        return slope * e / (1.0 + e) ** 2
    return np.ones_like(u)


# ----------------------------------------------------------------------------- validation


def _shape(a) -> tuple:
    shape = getattr(a, "shape", None)
    if shape is None:
        shape = a.__cuda_array_interface__["shape"]
    return tuple(int(s) for s in shape)


def _dtype(a):
    dtype = getattr(a, "dtype", None)
    if dtype is None:
        return np.dtype(a.__cuda_array_interface__["typestr"])
    try:
        return np.dtype(dtype)
    except TypeError:
        # e.g. torch dtypes, which NumPy does not understand
        return np.dtype(a.__cuda_array_interface__["typestr"])


def _check_reset_mode(reset_mode) -> int:
    if isinstance(reset_mode, bool) or not isinstance(reset_mode, (int, np.integer)):
        raise TypeError(f"reset_mode must be an int (0 subtract, 1 zero); got {reset_mode!r}")
    if reset_mode not in (RESET_SUBTRACT, RESET_ZERO):
        raise ValueError(f"reset_mode must be 0 (subtract) or 1 (zero); got {reset_mode!r}")
    return int(reset_mode)


def _check_surrogate(surrogate, slope) -> tuple[int, float]:
    if isinstance(surrogate, bool) or not isinstance(surrogate, (int, np.integer)):
        raise TypeError(f"surrogate must be an int id from SURROGATE_IDS; got {surrogate!r}")
    if surrogate not in SURROGATE_IDS.values():
        raise ValueError(
            f"surrogate must be one of {sorted(SURROGATE_IDS.values())} (SURROGATE_IDS); "
            f"got {surrogate}"
        )
    if isinstance(slope, bool) or not isinstance(slope, (int, float, np.integer, np.floating)):
        raise TypeError(f"slope must be a real number; got {slope!r}")
    if not math.isfinite(float(slope)) or float(slope) <= 0.0:
        raise ValueError(f"slope must be finite and > 0; got {slope!r}")
    return int(surrogate), float(slope)


def _check_arrays(named_shapes: dict, arrays: dict) -> tuple[int, int, int]:
    """Check shapes and one common float dtype; returns ``(T, M, F)``.

    Shape kinds: ``"seq"`` (T, M); ``"step"`` (T, M), or (1, M) for the same values at every
    step; ``"feat"`` (F,); ``"neur"`` (M,). A kind ending in ``"?"`` may also be None (left
    out). ``T`` is read from the first ``"seq"`` array.
    """
    for name, kind in named_shapes.items():
        if arrays[name] is None and not kind.endswith("?"):
            raise TypeError(f"{name} must be an array; got None")
    present = {name: a for name, a in arrays.items() if a is not None}
    first = next(iter(present))
    dtype = _dtype(present[first])
    if dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{first} must be float32 or float64; got {dtype}")
    for name, a in present.items():
        if _dtype(a) != dtype:
            raise TypeError(f"{name} must have the dtype of {first} ({dtype}); got {_dtype(a)}")
    seq_name = next(name for name, kind in named_shapes.items() if kind == "seq")
    seq = _shape(arrays[seq_name])
    if len(seq) != 2:
        raise ValueError(f"{seq_name} must have shape (T, M); got {seq}")
    n_steps, n_neurons = seq
    n_features = _shape(arrays["beta"])
    if len(n_features) != 1 or n_features[0] < 1:
        raise ValueError(f"beta must have shape (F,) with F >= 1; got {n_features}")
    n_features = n_features[0]
    if n_neurons % n_features:
        raise ValueError(
            f"M = {n_neurons} neurons must be a multiple of F = {n_features} (len(beta))"
        )
    expected = {
        "seq": [(n_steps, n_neurons)],
        "step": [(n_steps, n_neurons), (1, n_neurons)],
        "feat": [(n_features,)],
        "neur": [(n_neurons,)],
    }
    for name, kind in named_shapes.items():
        if name not in present:
            continue
        allowed = expected[kind.rstrip("?")]
        if _shape(present[name]) not in allowed:
            want = " or ".join(str(shape) for shape in allowed)
            raise ValueError(f"{name} must have shape {want}; got {_shape(present[name])}")
    return n_steps, n_neurons, n_features


_FWD_SHAPES = {
    "x": "step", "beta": "feat", "threshold": "feat", "mem0": "neur", "spk": "seq", "mem": "seq",
}  # fmt: skip
_BWD_SHAPES = {
    "grad_spk": "seq", "grad_mem": "seq?", "mem": "seq", "mem0": "neur", "beta": "feat",
    "threshold": "feat", "grad_x": "step", "grad_mem0": "neur", "grad_beta": "feat?",
    "grad_threshold": "feat?",
}  # fmt: skip


# ----------------------------------------------------------------------------- NumPy reference


def lif_sequence_forward_numpy(
    x: np.ndarray,
    beta: np.ndarray,
    threshold: np.ndarray,
    mem0: np.ndarray,
    reset_mode: int,
    spk: np.ndarray,
    mem: np.ndarray,
) -> None:
    """Run LIF neurons over a whole sequence (snnTorch ``Leaky`` forward), NumPy reference.

    Args:
        x: input of every step (T, M), float32 or float64, ``M = B * F`` row-major; or
            (1, M), a static input: the same current at every step.
        beta: membrane decay per feature (F,), clamped to [0, 1] as in snnTorch.
        threshold: firing threshold per feature (F,).
        mem0: membrane before the first step (M,).
        reset_mode: :data:`RESET_SUBTRACT` (0) or :data:`RESET_ZERO` (1).
        spk: output (T, M), written with 0/1 spikes.
        mem: output (T, M), written with the membrane after every step.
    All arrays share the dtype of ``x``; arithmetic is done in that dtype.
    """
    reset_mode = _check_reset_mode(reset_mode)
    n_steps, n_neurons, n_features = _check_arrays(
        _FWD_SHAPES,
        {"x": x, "beta": beta, "threshold": threshold, "mem0": mem0, "spk": spk, "mem": mem},
    )
    dtype = x.dtype
    reps = n_neurons // n_features
    b = np.tile(np.clip(beta, dtype.type(0), dtype.type(1)), reps)
    th = np.tile(threshold, reps)
    zero = dtype.type(0)
    prev = np.array(mem0, dtype=dtype, copy=True)
    for t in range(n_steps):
        x_t = x[t if x.shape[0] == n_steps else 0]
        reset = prev > th
        if reset_mode == RESET_SUBTRACT:
            cur = b * prev + x_t
            cur = np.where(reset, cur - th, cur)
        else:
            cur = b * np.where(reset, zero, prev) + x_t
        mem[t] = cur
        spk[t] = cur > th
        prev = mem[t]


def lif_sequence_backward_numpy(
    grad_spk: np.ndarray,
    grad_mem: np.ndarray | None,
    mem: np.ndarray,
    mem0: np.ndarray,
    beta: np.ndarray,
    threshold: np.ndarray,
    reset_mode: int,
    surrogate: int,
    slope: float,
    grad_x: np.ndarray,
    grad_mem0: np.ndarray,
    grad_beta: np.ndarray | None,
    grad_threshold: np.ndarray | None,
) -> None:
    """Backpropagation through time for :func:`lif_sequence_forward_numpy`, NumPy reference.

    Args:
        grad_spk: upstream gradient of the spikes (T, M).
        grad_mem: upstream gradient of the membrane (T, M); None when none flows into it.
        mem: membrane written by the forward pass (T, M).
        mem0, beta, threshold, reset_mode: as given to the forward pass.
        surrogate: id from :data:`SURROGATE_IDS`.
        slope: the surrogate's slope (> 0).
        grad_x: output (T, M), gradient of the inputs; or (1, M) for a static input, the
            gradient summed over the steps (in float64, from the last step to the first).
        grad_mem0: output (M,), gradient of the initial membrane.
        grad_beta: output (F,), gradient of the (unclamped) beta, summed over batch and time;
            None: not computed.
        grad_threshold: output (F,), gradient of the threshold, summed over batch and time;
            None: not computed.
    All arrays share one float dtype; arithmetic is float64.
    """
    reset_mode = _check_reset_mode(reset_mode)
    surrogate, slope = _check_surrogate(surrogate, slope)
    n_steps, n_neurons, n_features = _check_arrays(
        _BWD_SHAPES,
        {
            "grad_spk": grad_spk, "grad_mem": grad_mem, "mem": mem, "mem0": mem0, "beta": beta,
            "threshold": threshold, "grad_x": grad_x, "grad_mem0": grad_mem0,
            "grad_beta": grad_beta, "grad_threshold": grad_threshold,
        },
    )  # fmt: skip
    reps = n_neurons // n_features
    beta_in = (beta >= 0) & (beta <= 1)
    b = np.tile(np.clip(beta.astype(np.float64), 0.0, 1.0), reps)
    th_d = np.tile(threshold, reps)
    acc_beta = np.zeros(n_neurons)
    acc_thr = np.zeros(n_neurons)
    carry = np.zeros(n_neurons)
    static = grad_x.shape[0] != n_steps
    grad_x_sum = np.zeros(n_neurons)
    for t in range(n_steps - 1, -1, -1):
        cur = mem[t]
        prev = mem0 if t == 0 else mem[t - 1]
        sg = surrogate_grad_numpy(cur - th_d, surrogate, slope)
        gs_sg = grad_spk[t].astype(np.float64) * sg
        if grad_mem is None:
            dm = gs_sg + carry
        else:
            dm = grad_mem[t].astype(np.float64) + gs_sg + carry
        if static:
            grad_x_sum += dm
        else:
            grad_x[t] = dm
        reset = prev > th_d
        acc_thr -= gs_sg
        if reset_mode == RESET_SUBTRACT:
            acc_thr -= np.where(reset, dm, 0.0)
            acc_beta += dm * prev
            carry = dm * b
        else:
            acc_beta += np.where(reset, 0.0, dm * prev)
            carry = np.where(reset, 0.0, dm * b)
    if static:
        grad_x[0] = grad_x_sum
    grad_mem0[...] = carry
    if grad_beta is not None:
        grad_beta[...] = np.where(beta_in, acc_beta.reshape(reps, n_features).sum(axis=0), 0.0)
    if grad_threshold is not None:
        grad_threshold[...] = acc_thr.reshape(reps, n_features).sum(axis=0)


# ----------------------------------------------------------------------------- Numba CPU


@njit(cache=True)
def _rows_per_item(n_batch, n_features):
    """Batch rows per parallel work item: about _TILE * 8 neurons, at least one row."""
    return max(1, min(n_batch, (_TILE * 8) // n_features))


@njit(parallel=True, cache=True)
def _forward_numba(x, beta, threshold, mem0, reset_mode, spk, mem):
    # One work item per block of batch rows and tile of up to _TILE features, running all the
    # steps. Written with a loop over the item's rows inside the step loop (a trip count the
    # compiler cannot fix at one) and unsigned feature indices, the feature loop runs fast:
    # 0.16-0.22 ms for T = 20 steps of 64 x 800 neurons on one core, against 0.8-0.9 ms when
    # each item held one row whose index was decoded outside the step loop.
    n_steps, n_neurons = spk.shape
    x_step = 1 if x.shape[0] == n_steps else 0  # 0: a static input, one row for every step
    n_features = beta.shape[0]
    n_batch = n_neurons // n_features
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    n_f = np.uint64(n_features)
    rows = _rows_per_item(n_batch, n_features)
    row_blocks = (n_batch + rows - 1) // rows
    f_tiles = (n_features + _TILE - 1) // _TILE
    for item in prange(row_blocks * f_tiles):
        row_lo = (item // f_tiles) * rows
        row_hi = min(row_lo + rows, n_batch)
        lo = np.uint64((item % f_tiles) * _TILE)
        hi = min(lo + np.uint64(_TILE), n_f)
        for t in range(n_steps):
            prev_row = mem0 if t == 0 else mem[t - 1]
            x_t = x[t * x_step]
            mem_t = mem[t]
            spk_t = spk[t]
            for row in range(row_lo, row_hi):
                base = np.uint64(row) * n_f
                # selects instead of branches: the loop vectorises
                for f in range(lo, hi):
                    m = base + f
                    b = min(max(beta[f], zero), one)
                    th = threshold[f]
                    prev = prev_row[m]
                    fired = prev > th
                    if reset_mode == 0:
                        cur = (b * prev + x_t[m]) - (th if fired else zero)
                    else:
                        cur = b * (zero if fired else prev) + x_t[m]
                    mem_t[m] = cur
                    spk_t[m] = one if cur > th else zero


@njit(inline="always")
def _surrogate_row(mem_t, threshold, offset, f_lo, f_hi, surrogate, slope, out):
    """``out[f - f_lo] = surrogate_grad(mem_t[offset + f] - threshold[f])`` for one tile.

    One loop per surrogate, each free of branches, so the compiler vectorises it; the same
    float operations as :func:`surrogate_grad`.
    """
    base = np.uint64(offset)
    lo = np.uint64(f_lo)
    if surrogate == 0:
        for f in range(lo, np.uint64(f_hi)):
            d = slope * abs(float(mem_t[base + f]) - float(threshold[f])) + 1.0
            out[f - lo] = 1.0 / (d * d)
    elif surrogate == 1:
        for f in range(lo, np.uint64(f_hi)):
            z = 0.5 * math.pi * slope * (float(mem_t[base + f]) - float(threshold[f]))
            out[f - lo] = 0.5 * slope / (1.0 + z * z)
    elif surrogate == 2:
        for f in range(lo, np.uint64(f_hi)):
            e = math.exp(-abs(slope * (float(mem_t[base + f]) - float(threshold[f]))))
            out[f - lo] = slope * e / ((1.0 + e) * (1.0 + e))
    else:
        for f in range(lo, np.uint64(f_hi)):
            out[f - lo] = 1.0


@njit(inline="always")
def _backward_row(
    gs_t, gm_t, prev_row, beta, threshold, sg, carry, acc_beta, acc_thr, base, lo, hi,
    reset_mode, param_grads, out,
):  # fmt: skip
    """One step of the reverse recursion over one tile: ``out[f - lo] = dm`` for features
    ``lo <= f < hi`` of the batch row starting at neuron ``base``; updates ``carry`` (and the
    partial sums ``acc_*`` when ``param_grads``).

    One loop per case, each with unsigned indices (no negative-index wraparound) and no
    branches, so that the compiler vectorises it.
    """
    if param_grads:
        for f in range(lo, hi):
            m = base + f
            b = min(max(float(beta[f]), 0.0), 1.0)
            th = float(threshold[f])
            prev = float(prev_row[m])
            gs_sg = float(gs_t[m]) * sg[f - lo]
            dm = float(gm_t[m]) + gs_sg + carry[m]
            out[f - lo] = dm
            fired = 1.0 if prev > th else 0.0
            if reset_mode == 0:
                acc_thr[m] = acc_thr[m] - gs_sg - fired * dm
                acc_beta[m] += dm * prev
                carry[m] = dm * b
            else:
                keep = 1.0 - fired
                acc_thr[m] -= gs_sg
                acc_beta[m] += keep * (dm * prev)
                carry[m] = keep * (dm * b)
    elif reset_mode == 0:
        for f in range(lo, hi):
            m = base + f
            b = min(max(float(beta[f]), 0.0), 1.0)
            dm = float(gm_t[m]) + float(gs_t[m]) * sg[f - lo] + carry[m]
            out[f - lo] = dm
            carry[m] = dm * b
    else:
        for f in range(lo, hi):
            m = base + f
            b = min(max(float(beta[f]), 0.0), 1.0)
            keep = 0.0 if float(prev_row[m]) > float(threshold[f]) else 1.0
            dm = float(gm_t[m]) + float(gs_t[m]) * sg[f - lo] + carry[m]
            out[f - lo] = dm
            carry[m] = keep * (dm * b)


@njit(parallel=True, cache=True)
def _backward_numba(
    grad_spk, grad_mem, mem, mem0, beta, threshold, reset_mode, surrogate, slope,
    grad_x, grad_mem0, grad_beta, grad_threshold, param_grads,
):  # fmt: skip
    # grad_mem: (T, M), or one row of zeros (no membrane gradient); grad_x: (T, M), or one row
    # (a static input: the gradient summed over the steps); param_grads False skips the sums
    # for beta and threshold (more than half of the work when they are fixed).
    n_steps, n_neurons = mem.shape
    n_features = beta.shape[0]
    gm_step = 1 if grad_mem.shape[0] == n_steps else 0
    static = grad_x.shape[0] != n_steps
    acc_beta = np.zeros(n_neurons if param_grads else 0)
    acc_thr = np.zeros(n_neurons if param_grads else 0)
    carry = np.zeros(n_neurons)
    gx_acc = np.zeros(n_neurons if static else 0)  # a static input's gradient, float64 sums
    n_batch = n_neurons // n_features
    rows = _rows_per_item(n_batch, n_features)  # work items as in _forward_numba
    row_blocks = (n_batch + rows - 1) // rows
    f_tiles = (n_features + _TILE - 1) // _TILE
    for item in prange(row_blocks * f_tiles):
        row_lo = (item // f_tiles) * rows
        row_hi = min(row_lo + rows, n_batch)
        f_lo = (item % f_tiles) * _TILE
        f_hi = min(f_lo + _TILE, n_features)
        lo = np.uint64(f_lo)
        hi = np.uint64(f_hi)
        sg = np.empty(_TILE)
        dm_tile = np.empty(_TILE)
        for t in range(n_steps - 1, -1, -1):
            prev_row = mem0 if t == 0 else mem[t - 1]
            gm_t = grad_mem[t * gm_step]
            for row in range(row_lo, row_hi):
                offset = row * n_features
                base = np.uint64(offset)
                _surrogate_row(mem[t], threshold, offset, f_lo, f_hi, surrogate, slope, sg)
                if static:
                    _backward_row(
                        grad_spk[t], gm_t, prev_row, beta, threshold, sg, carry, acc_beta,
                        acc_thr, base, lo, hi, reset_mode, param_grads, dm_tile,
                    )  # fmt: skip
                    for f in range(lo, hi):
                        gx_acc[base + f] += dm_tile[f - lo]
                else:
                    _backward_row(
                        grad_spk[t], gm_t, prev_row, beta, threshold, sg, carry, acc_beta,
                        acc_thr, base, lo, hi, reset_mode, param_grads,
                        grad_x[t, offset + f_lo : offset + f_hi],
                    )  # fmt: skip
        for row in range(row_lo, row_hi):
            base = np.uint64(row * n_features)
            for f in range(lo, hi):
                grad_mem0[base + f] = carry[base + f]
            if static:
                for f in range(lo, hi):
                    grad_x[0, base + f] = gx_acc[base + f]
    if param_grads:
        for f in prange(n_features):
            sb = 0.0
            st = 0.0
            for k in range(n_batch):
                sb += acc_beta[k * n_features + f]
                st += acc_thr[k * n_features + f]
            grad_beta[f] = sb if 0.0 <= beta[f] <= 1.0 else 0.0
            grad_threshold[f] = st


def lif_sequence_forward_numba(
    x: np.ndarray,
    beta: np.ndarray,
    threshold: np.ndarray,
    mem0: np.ndarray,
    reset_mode: int,
    spk: np.ndarray,
    mem: np.ndarray,
) -> None:
    """Numba CPU version of :func:`lif_sequence_forward_numpy` (parallel over neurons)."""
    reset_mode = _check_reset_mode(reset_mode)
    _check_arrays(
        _FWD_SHAPES,
        {"x": x, "beta": beta, "threshold": threshold, "mem0": mem0, "spk": spk, "mem": mem},
    )
    _forward_numba(x, beta, threshold, mem0, reset_mode, spk, mem)


def lif_sequence_backward_numba(
    grad_spk: np.ndarray,
    grad_mem: np.ndarray | None,
    mem: np.ndarray,
    mem0: np.ndarray,
    beta: np.ndarray,
    threshold: np.ndarray,
    reset_mode: int,
    surrogate: int,
    slope: float,
    grad_x: np.ndarray,
    grad_mem0: np.ndarray,
    grad_beta: np.ndarray | None,
    grad_threshold: np.ndarray | None,
) -> None:
    """Numba CPU version of :func:`lif_sequence_backward_numpy`.

    Parallel over tiles of neurons; each neuron keeps its own partial sums for beta and
    threshold, reduced over the batch afterwards in a fixed order (deterministic, no races).
    With ``grad_beta`` and ``grad_threshold`` both None those sums are skipped, which more than
    halves the work of the recursion; only one of them None still computes both.
    """
    reset_mode = _check_reset_mode(reset_mode)
    surrogate, slope = _check_surrogate(surrogate, slope)
    _check_arrays(
        _BWD_SHAPES,
        {
            "grad_spk": grad_spk, "grad_mem": grad_mem, "mem": mem, "mem0": mem0, "beta": beta,
            "threshold": threshold, "grad_x": grad_x, "grad_mem0": grad_mem0,
            "grad_beta": grad_beta, "grad_threshold": grad_threshold,
        },
    )  # fmt: skip
    param_grads = grad_beta is not None or grad_threshold is not None
    if grad_mem is None:
        grad_mem = np.zeros((1, mem.shape[1]), mem.dtype)
    if param_grads:
        grad_beta = np.empty_like(beta) if grad_beta is None else grad_beta
        grad_threshold = np.empty_like(threshold) if grad_threshold is None else grad_threshold
    else:
        grad_beta = grad_threshold = beta[:0]
    _backward_numba(
        grad_spk, grad_mem, mem, mem0, beta, threshold, reset_mode, surrogate, slope,
        grad_x, grad_mem0, grad_beta, grad_threshold, param_grads,
    )  # fmt: skip


# ----------------------------------------------------------------------------- CUDA


@cuda.jit
def _forward_cuda(x, beta, threshold, mem0, reset_mode, spk, mem):
    m = cuda.grid(1)
    n_steps = mem.shape[0]
    n_neurons = mem.shape[1]
    x_step = 1 if x.shape[0] == n_steps else 0  # 0: a static input, one row for every step
    if m < n_neurons:
        zero = x.dtype.type(0)
        one = x.dtype.type(1)
        f = m % beta.shape[0]
        b = min(max(beta[f], zero), one)
        th = threshold[f]
        prev = mem0[m]
        for t in range(n_steps):
            if reset_mode == 0:
                cur = b * prev + x[t * x_step, m]
                if prev > th:
                    cur = cur - th
            elif prev > th:
                cur = b * zero + x[t * x_step, m]
            else:
                cur = b * prev + x[t * x_step, m]
            mem[t, m] = cur
            spk[t, m] = one if cur > th else zero
            prev = cur


@cuda.jit
def _backward_cuda(
    grad_spk, grad_mem, mem, mem0, beta, threshold, reset_mode, surrogate, slope,
    grad_x, grad_mem0, acc_beta, acc_thr, param_grads,
):  # fmt: skip
    # grad_mem (T, M) or one row of zeros; grad_x (T, M) or one row (static: summed over t)
    m = cuda.grid(1)
    n_steps = mem.shape[0]
    n_neurons = mem.shape[1]
    gm_step = 1 if grad_mem.shape[0] == n_steps else 0
    static = grad_x.shape[0] != n_steps
    if m < n_neurons:
        f = m % beta.shape[0]
        b = min(max(float(beta[f]), 0.0), 1.0)
        th = threshold[f]
        carry = 0.0
        sb = 0.0
        st = 0.0
        gx_sum = 0.0
        for t in range(n_steps - 1, -1, -1):
            cur = mem[t, m]
            prev = mem0[m] if t == 0 else mem[t - 1, m]
            gs_sg = float(grad_spk[t, m]) * surrogate_grad_cuda(float(cur - th), surrogate, slope)
            dm = float(grad_mem[t * gm_step, m]) + gs_sg + carry
            if static:
                gx_sum += dm
            else:
                grad_x[t, m] = dm
            st -= gs_sg
            if reset_mode == 0:
                if prev > th:
                    st -= dm
                sb += dm * float(prev)
                carry = dm * b
            elif prev > th:
                carry = 0.0
            else:
                sb += dm * float(prev)
                carry = dm * b
        grad_mem0[m] = carry
        if static:
            grad_x[0, m] = gx_sum
        if param_grads:
            acc_beta[m] = sb
            acc_thr[m] = st


@cuda.jit
def _reduce_cuda(acc_beta, acc_thr, beta, grad_beta, grad_threshold):
    f = cuda.grid(1)
    n_features = beta.shape[0]
    if f < n_features:
        n_batch = acc_beta.shape[0] // n_features
        sb = 0.0
        st = 0.0
        for k in range(n_batch):
            sb += acc_beta[k * n_features + f]
            st += acc_thr[k * n_features + f]
        grad_beta[f] = sb if 0.0 <= beta[f] <= 1.0 else 0.0
        grad_threshold[f] = st


def _to_device(arrays: dict) -> tuple[dict, list]:
    """Device views of every array; NumPy arrays are copied over (and listed for copy-back)."""
    out = {}
    host = []
    for name, a in arrays.items():
        if isinstance(a, np.ndarray):
            out[name] = cuda.to_device(a)
            host.append(name)
        elif not hasattr(a, "copy_to_host"):
            out[name] = cuda.as_cuda_array(a)
        else:
            out[name] = a
    return out, host


def _blocks(n: int) -> int:
    return (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK


def lif_sequence_forward_cuda(x, beta, threshold, mem0, reset_mode: int, spk, mem) -> None:
    """CUDA version of :func:`lif_sequence_forward_numpy`: one thread per neuron, loop over t.

    Arrays may be NumPy arrays (copied to the device and back) or device arrays / objects with
    ``__cuda_array_interface__`` such as torch CUDA tensors (read and written on the device).
    """
    reset_mode = _check_reset_mode(reset_mode)
    arrays = {"x": x, "beta": beta, "threshold": threshold, "mem0": mem0, "spk": spk, "mem": mem}
    _, n_neurons, _ = _check_arrays(_FWD_SHAPES, arrays)
    if n_neurons == 0:
        return
    d, host = _to_device(arrays)
    _forward_cuda[_blocks(n_neurons), THREADS_PER_BLOCK](
        d["x"], d["beta"], d["threshold"], d["mem0"], reset_mode, d["spk"], d["mem"]
    )
    for name in ("spk", "mem"):
        if name in host:
            d[name].copy_to_host(arrays[name])


def lif_sequence_backward_cuda(
    grad_spk, grad_mem, mem, mem0, beta, threshold, reset_mode: int, surrogate: int,
    slope: float, grad_x, grad_mem0, grad_beta, grad_threshold,
) -> None:  # fmt: skip
    """CUDA version of :func:`lif_sequence_backward_numpy`.

    One thread per neuron runs the reverse-time recursion and writes its own partial sums
    for beta and threshold to a float64 scratch array; a second kernel (one thread per
    feature) reduces them over the batch in a fixed order (deterministic, no atomics); with
    ``grad_beta`` and ``grad_threshold`` both None neither is done. Arrays as for
    :func:`lif_sequence_forward_cuda`.
    """
    reset_mode = _check_reset_mode(reset_mode)
    surrogate, slope = _check_surrogate(surrogate, slope)
    arrays = {
        "grad_spk": grad_spk, "grad_mem": grad_mem, "mem": mem, "mem0": mem0, "beta": beta,
        "threshold": threshold, "grad_x": grad_x, "grad_mem0": grad_mem0,
        "grad_beta": grad_beta, "grad_threshold": grad_threshold,
    }  # fmt: skip
    _, n_neurons, n_features = _check_arrays(_BWD_SHAPES, arrays)
    param_grads = grad_beta is not None or grad_threshold is not None
    dtype = _dtype(mem)
    if grad_mem is None:
        arrays["grad_mem"] = cuda.to_device(np.zeros((1, n_neurons), dtype))
    if param_grads:
        for name in ("grad_beta", "grad_threshold"):
            if arrays[name] is None:
                arrays[name] = cuda.device_array(n_features, dtype=dtype)
    else:
        arrays["grad_beta"] = arrays["grad_threshold"] = cuda.device_array(0, dtype=dtype)
    d, host = _to_device(arrays)
    acc_beta = cuda.device_array(n_neurons if param_grads else 0, dtype=np.float64)
    acc_thr = cuda.device_array(n_neurons if param_grads else 0, dtype=np.float64)
    if n_neurons > 0:
        _backward_cuda[_blocks(n_neurons), THREADS_PER_BLOCK](
            d["grad_spk"], d["grad_mem"], d["mem"], d["mem0"], d["beta"], d["threshold"],
            reset_mode, surrogate, slope, d["grad_x"], d["grad_mem0"], acc_beta, acc_thr,
            param_grads,
        )  # fmt: skip
    if param_grads:
        _reduce_cuda[_blocks(n_features), THREADS_PER_BLOCK](
            acc_beta, acc_thr, d["beta"], d["grad_beta"], d["grad_threshold"]
        )
    for name in ("grad_x", "grad_mem0", "grad_beta", "grad_threshold"):
        if name in host:
            d[name].copy_to_host(arrays[name])
