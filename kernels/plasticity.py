"""Readout plasticity kernels: recursive least squares (FORCE) and the three-factor rule.

Recursive least squares (Sussillo & Abbott 2009), one step, in place. With ``P`` the (N, N)
inverse correlation estimate (symmetric), ``r`` the (N,) presynaptic rates, ``err`` the
(n_out,) error ``output - target`` measured *before* the step and ``lam`` the forgetting
factor in (0, 1] (1 = standard RLS)::

    k     = P r
    c     = 1 / (lam + r.k)
    P    <- (P - (k k^T) c) / lam
    w    <- w - outer(err, k c)            # k c == P_new r, since P is symmetric

The symmetry of ``P`` makes ``P_new r = k / (lam + r.k)``, so a step is two passes over
``P`` (one reading it for ``k``, one updating it) and allocates only vectors. Each element
of ``P`` is updated as ``P_ij - (k_i k_j) c``: the product ``k_i k_j`` is commutative in
floating point, so a symmetric ``P`` stays exactly symmetric.

Arithmetic is float64 inside (also for float32 ``P`` and ``w``), stored in the arrays'
dtype. The NumPy version computes ``k = P r`` and ``r.k`` with BLAS, the Numba version with
its own loops, so the two agree to rounding (about 1e-15 relative per step in float64), not
bit for bit; the rank-1 update itself is the same expression in both.
:func:`rls_update_parallel_numba` runs the rows in parallel (worth it from about
:data:`PARALLEL_MIN_N`); every row is computed by one thread in a fixed order, so it gives
the same bits as the serial :func:`rls_update_numba`. Only the serial version is called
from cached code (Numba issue #8578: a cached function calling a parallel one can crash
when loaded from the cache).

The run kernels (``rls_run_*``, ``three_factor_run_*``) stream a whole recording through a
readout in one call (output ``y = W r`` first, then the update) and return the step at which
an output became non-finite, or -1.

There is no CUDA version yet. A step is two dependent passes over ``P`` (``k = P r`` must
be complete before ``P`` is updated) plus the output ``y = W r`` whose error drives it: three
launches per time step, whose fixed cost (several microseconds each) is paid T times. On the
CPU one step takes about 0.5 ms at N = 1000 and 3-8 ms at N = 2000 (float64, one thread of
the 2-core development machine, memory-bound above N ~ 1500). A device-resident version
(``P``, the weights and the whole recording on the GPU, no host round trip per step) should
therefore win from N ~ 1000 on, but it could not be measured (no GPU in the development
environment), so it is left out rather than shipped unmeasured; the readouts' backends are
``"numpy"`` and ``"numba"``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

import spikesub.kernels.threads  # noqa: F401 - loads TBB before Numba's pool starts

PARALLEL_MIN_N = 1024
"""Size N of ``P`` from which :func:`rls_update_numba` runs rows in parallel (below it,
starting threads costs more than the update; both paths give the same bits)."""

_NUMPY_BLOCK_ELEMENTS = 1 << 20
"""Elements of ``P`` the NumPy reference processes at once (bounds its float64 temporaries
to 8 MB whatever N is)."""


# ---------------------------------------------------------------------------
# Recursive least squares: NumPy reference
# ---------------------------------------------------------------------------


def _rls_numpy(P, w, r, err, lam):
    n = P.shape[0]
    r64 = np.asarray(r, dtype=np.float64)
    err64 = np.asarray(err, dtype=np.float64)
    rows = max(1, _NUMPY_BLOCK_ELEMENTS // max(n, 1))
    k = np.empty(n, dtype=np.float64)
    for lo in range(0, n, rows):
        hi = min(n, lo + rows)
        k[lo:hi] = np.asarray(P[lo:hi], dtype=np.float64) @ r64
    c = 1.0 / (lam + float(r64 @ k))
    for lo in range(0, n, rows):
        hi = min(n, lo + rows)
        block = np.asarray(P[lo:hi], dtype=np.float64) - np.outer(k[lo:hi], k) * c
        if lam != 1.0:
            block /= lam
        P[lo:hi] = block
    g = k * c
    w[...] = np.asarray(w, dtype=np.float64) - np.outer(err64, g)


def rls_update_numpy(P: np.ndarray, w: np.ndarray, r: np.ndarray, err: np.ndarray) -> None:
    """One recursive-least-squares step (Sussillo & Abbott 2009), in place.

    Args:
        P: (N, N) inverse correlation estimate, symmetric, float32 or float64; updated to
            ``P - k k^T / (1 + r.k)`` with ``k = P r``.
        w: (n_out, N) readout weights, float32 or float64; updated to
            ``w - outer(err, P_new r)``.
        r: (N,) presynaptic filtered rates.
        err: (n_out,) error ``output - target``, measured before the update.
    """
    _rls_numpy(P, w, r, err, 1.0)


def rls_update_forgetting_numpy(
    P: np.ndarray, w: np.ndarray, r: np.ndarray, err: np.ndarray, lam: float
) -> None:
    """:func:`rls_update_numpy` with a forgetting factor ``lam`` in (0, 1]:
    ``P <- (P - k k^T / (lam + r.k)) / lam``; ``lam = 1`` is the standard step."""
    _rls_numpy(P, w, r, err, float(lam))


# ---------------------------------------------------------------------------
# Recursive least squares: Numba
# ---------------------------------------------------------------------------


@njit(inline="always", cache=True, error_model="numpy")
def _row_dot(P, i, r64, n):
    # four partial sums: independent chains the CPU can overlap (no reassociation, so the
    # result is fixed by this order whatever the compiler does)
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    n4 = n - n % 4
    for j in range(0, n4, 4):
        s0 += np.float64(P[i, j]) * r64[j]
        s1 += np.float64(P[i, j + 1]) * r64[j + 1]
        s2 += np.float64(P[i, j + 2]) * r64[j + 2]
        s3 += np.float64(P[i, j + 3]) * r64[j + 3]
    tail = 0.0
    for j in range(n4, n):
        tail += np.float64(P[i, j]) * r64[j]
    return ((s0 + s1) + (s2 + s3)) + tail


@njit(inline="always", cache=True, error_model="numpy")
def _row_update(P, i, k, c, n):
    ki = k[i]
    for j in range(n):
        P[i, j] = np.float64(P[i, j]) - (ki * k[j]) * c


@njit(inline="always", cache=True, error_model="numpy")
def _row_update_forgetting(P, i, k, c, lam, n):
    ki = k[i]
    for j in range(n):
        P[i, j] = (np.float64(P[i, j]) - (ki * k[j]) * c) / lam


@njit(inline="always", cache=True, error_model="numpy")
def _rls_prepare(P, r):
    n = P.shape[0]
    r64 = np.empty(n, dtype=np.float64)
    for j in range(n):
        r64[j] = r[j]
    return r64, np.empty(n, dtype=np.float64)


@njit(inline="always", cache=True, error_model="numpy")
def _rls_gain(r64, k, lam):
    rk = 0.0
    for j in range(r64.shape[0]):
        rk += r64[j] * k[j]
    return 1.0 / (lam + rk)


@njit(inline="always", cache=True, error_model="numpy")
def _rls_weights(w, err, k, c):
    n = k.shape[0]
    for j in range(n):
        k[j] *= c
    for o in range(w.shape[0]):
        e = np.float64(err[o])
        for j in range(n):
            w[o, j] = np.float64(w[o, j]) - e * k[j]


@njit(cache=True, error_model="numpy")
def _rls_core(P, w, r, err, lam):
    n = P.shape[0]
    r64, k = _rls_prepare(P, r)
    for i in range(n):
        k[i] = _row_dot(P, i, r64, n)
    c = _rls_gain(r64, k, lam)
    if lam == 1.0:
        for i in range(n):
            _row_update(P, i, k, c, n)
    else:
        for i in range(n):
            _row_update_forgetting(P, i, k, c, lam, n)
    _rls_weights(w, err, k, c)


# Numba issue #8578: a cached function that calls a parallel one can crash when it is loaded
# from the cache. So the cached entry points (and everything cached that calls them) use the
# serial core above, and the parallel version is its own top-level function, for Python
# callers and for uncached loops.
@njit(parallel=True, cache=True, error_model="numpy")
def rls_update_parallel_numba(P, w, r, err, lam):
    """:func:`rls_update_numba` (``lam = 1``) or :func:`rls_update_forgetting_numba`, with
    the two ``O(N^2)`` passes parallel over rows: the same bits as the serial version (each
    row is computed by one thread in the same order). Worth it from about
    :data:`PARALLEL_MIN_N`. Call it from Python or from uncached ``njit`` code only."""
    n = P.shape[0]
    r64, k = _rls_prepare(P, r)
    for i in prange(n):
        k[i] = _row_dot(P, i, r64, n)
    c = _rls_gain(r64, k, lam)
    if lam == 1.0:
        for i in prange(n):
            _row_update(P, i, k, c, n)
    else:
        for i in prange(n):
            _row_update_forgetting(P, i, k, c, lam, n)
    _rls_weights(w, err, k, c)


@njit(cache=True, error_model="numpy")
def rls_update_numba(P, w, r, err):
    """Numba version of :func:`rls_update_numpy` (agrees to rounding; serial; callable from
    other ``njit`` code, cached or not)."""
    _rls_core(P, w, r, err, 1.0)


@njit(cache=True, error_model="numpy")
def rls_update_forgetting_numba(P, w, r, err, lam):
    """Numba version of :func:`rls_update_forgetting_numpy` (serial)."""
    _rls_core(P, w, r, err, np.float64(lam))


# ---------------------------------------------------------------------------
# Streaming a recording through an RLS (FORCE) readout
# ---------------------------------------------------------------------------


def rls_run_numpy(P, w, traces, targets, update_every, phase, lam, out):
    """Stream ``traces`` through an RLS readout: per step ``t``, ``y = w r_t`` is written to
    ``out[t]``, then, on steps with ``(phase + t) % update_every == 0``, one RLS step with
    ``err = y - targets[t]`` (forgetting factor ``lam``; 1 = standard).

    Args:
        P: (N, N) inverse correlation estimate, updated in place.
        w: (n_out, N) weights, updated in place.
        traces: (T, N) presynaptic rates (the output reads them).
        presynaptic: (T, N) the eligibility's presynaptic factor (pass ``traces`` for the
            plain rule). targets: (T, n_out).
        update_every: steps between updates (>= 1). phase: step count before ``traces[0]``.
        lam: forgetting factor in (0, 1].
        out: (T, n_out) outputs, written.

    Returns:
        The first step ``t`` whose output or updated weights are not finite (the loop stops
        there; the state is then partly updated), or -1.
    """
    lam = float(lam)
    for t in range(traces.shape[0]):
        r64 = np.asarray(traces[t], dtype=np.float64)
        y = np.asarray(w, dtype=np.float64) @ r64
        out[t] = y
        if not np.isfinite(y).all():
            return t
        if (phase + t) % update_every == 0:
            _rls_numpy(P, w, r64, y - np.asarray(targets[t], dtype=np.float64), lam)
            if not np.isfinite(w).all():
                return t
    return -1


@njit(inline="always", cache=True, error_model="numpy")
def _weights_dot(w, o, traces, t, n):
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    n4 = n - n % 4
    for j in range(0, n4, 4):
        s0 += np.float64(w[o, j]) * np.float64(traces[t, j])
        s1 += np.float64(w[o, j + 1]) * np.float64(traces[t, j + 1])
        s2 += np.float64(w[o, j + 2]) * np.float64(traces[t, j + 2])
        s3 += np.float64(w[o, j + 3]) * np.float64(traces[t, j + 3])
    tail = 0.0
    for j in range(n4, n):
        tail += np.float64(w[o, j]) * np.float64(traces[t, j])
    return ((s0 + s1) + (s2 + s3)) + tail


@njit(inline="always", cache=True, error_model="numpy")
def _read_outputs(w, traces, t, n, y, out):
    """The outputs ``y = W r`` of step ``t`` into ``y`` and ``out[t]``; False when one of them
    is not finite (the run kernels then stop and return ``t``)."""
    finite = True
    for o in range(w.shape[0]):
        y[o] = _weights_dot(w, o, traces, t, n)
        out[t, o] = y[o]
        if not np.isfinite(y[o]):
            finite = False
    return finite


@njit(cache=True, error_model="numpy")
def _all_finite(a):
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            if not np.isfinite(a[i, j]):
                return False
    return True


@njit(cache=True, error_model="numpy")
def rls_run_numba(P, w, traces, targets, update_every, phase, lam, out):
    """Numba version of :func:`rls_run_numpy` (agrees to rounding)."""
    n_steps = traces.shape[0]
    n = w.shape[1]
    n_out = w.shape[0]
    lam64 = np.float64(lam)
    y = np.empty(n_out, dtype=np.float64)
    err = np.empty(n_out, dtype=np.float64)
    for t in range(n_steps):
        if not _read_outputs(w, traces, t, n, y, out):
            return t
        if (phase + t) % update_every == 0:
            for o in range(n_out):
                err[o] = y[o] - np.float64(targets[t, o])
            _rls_core(P, w, traces[t], err, lam64)
            if not _all_finite(w):
                return t
    return -1


# ---------------------------------------------------------------------------
# Streaming a recording through the three-factor rule
# ---------------------------------------------------------------------------


def three_factor_run_numpy(
    w, pending, elig, traces, presynaptic, targets, gate, learning_rate, decay, online, out
):
    """Stream ``traces`` through the error-modulated, gated three-factor rule.

    Per step ``t`` (all arithmetic float64, stored in the arrays' dtypes):

    1. output ``y = w r_t``, written to ``out[t]``;
    2. eligibility ``e <- decay * e + (1 - decay) * pre * post`` with ``pre = p_t`` (the
       ``presynaptic`` row: ``r_t`` itself for the plain rule, or ``r_t`` less a lateral
       circuit's feedback ``H^T (H r_t)`` for orthogonal-projection continual learning,
       HLOP / GPM, where the output still reads the whole ``r_t``) and ``post = 1``
       (``elig`` of shape (1, N), one trace per input) or ``post = y_i`` (``elig`` of shape
       (n_out, N), Hebbian pre x post);
    3. for outputs with ``gate[t, i] > 0``: ``a_i = learning_rate * gate[t, i] *
       (targets[t, i] - y_i)`` and row ``i`` of ``w`` (``online[i]``) or of ``pending``
       (not online) gains ``a_i * e_i``.

    Args:
        w: (n_out, N) weights, updated in place. pending: (n_out, N), updated in place.
        elig: (1, N) or (n_out, N) float64 eligibility traces, updated in place.
        traces: (T, N) presynaptic rates (the output reads them).
        presynaptic: (T, N) the eligibility's presynaptic factor (pass ``traces`` for the
            plain rule). targets: (T, n_out).
        gate: (T, 1) (one gate for all outputs) or (T, n_out), values in [0, 1].
        learning_rate: > 0. decay: ``exp(-dt_ms / tau_eligibility_ms)`` in [0, 1).
        online: (n_out,) bool. out: (T, n_out) outputs, written.

    Returns:
        The first step whose output or updated weights/pending sums are not finite (the loop
        stops there), or -1.
    """
    lr = float(learning_rate)
    dec = float(decay)
    gain = 1.0 - dec
    per_output = elig.shape[0] > 1
    gate_cols = gate.shape[1]
    n_out = w.shape[0]
    online = np.asarray(online, dtype=bool)
    for t in range(traces.shape[0]):
        y = np.asarray(w, dtype=np.float64) @ np.asarray(traces[t], dtype=np.float64)
        out[t] = y
        if not np.isfinite(y).all():
            return t
        pre = np.asarray(presynaptic[t], dtype=np.float64)
        if per_output:
            elig[...] = dec * elig + gain * np.outer(y, pre)
        else:
            elig[0] = dec * elig[0] + gain * pre
        g = gate[t] if gate_cols > 1 else np.full(n_out, gate[t, 0])
        g = np.asarray(g, dtype=np.float64)
        a = lr * g * (np.asarray(targets[t], dtype=np.float64) - y)
        plastic = g > 0
        for dest, rows in ((w, plastic & online), (pending, plastic & ~online)):
            if not rows.any():
                continue
            e = elig[rows] if per_output else elig[0][None, :]
            with np.errstate(over="ignore", invalid="ignore"):
                dest[rows] = np.asarray(dest[rows], dtype=np.float64) + a[rows][:, None] * e
            if not np.isfinite(dest[rows]).all():
                return t
    return -1


@njit(cache=True, error_model="numpy")
def three_factor_run_numba(
    w, pending, elig, traces, presynaptic, targets, gate, learning_rate, decay, online, out
):
    """Numba version of :func:`three_factor_run_numpy` (agrees to rounding)."""
    n_steps = traces.shape[0]
    n_out = w.shape[0]
    n = w.shape[1]
    lr = np.float64(learning_rate)
    dec = np.float64(decay)
    gain = 1.0 - dec
    per_output = elig.shape[0] > 1
    gate_stride = 1 if gate.shape[1] > 1 else 0
    y = np.empty(n_out, dtype=np.float64)
    for t in range(n_steps):
        if not _read_outputs(w, traces, t, n, y, out):
            return t
        if per_output:
            for o in range(n_out):
                post = y[o]
                for j in range(n):
                    elig[o, j] = dec * elig[o, j] + gain * (post * np.float64(presynaptic[t, j]))
        else:
            for j in range(n):
                elig[0, j] = dec * elig[0, j] + gain * np.float64(presynaptic[t, j])
        for o in range(n_out):
            g = np.float64(gate[t, o * gate_stride])
            if not g > 0.0:
                continue
            a = lr * g * (np.float64(targets[t, o]) - y[o])
            eo = o if per_output else 0
            dest = w if online[o] else pending
            bad = False
            for j in range(n):
                v = np.float64(dest[o, j]) + a * elig[eo, j]
                dest[o, j] = v
                bad |= not np.isfinite(dest[o, j])
            if bad:
                return t
    return -1


# ---------------------------------------------------------------------------
# The three-factor rule with normalised, high-passed updates for some outputs
# ---------------------------------------------------------------------------


def three_factor_nlms_run_numpy(
    w, pending, elig, slow, traces, targets, gate, rates, decay, slow_decay, online, normalised,
    out,
):  # fmt: skip
    """:func:`three_factor_run_numpy` in which the outputs flagged in ``normalised`` take a
    normalised step on a high-passed eligibility.

    Per step ``t``, after the output and the eligibility ``e`` (one trace per input):

    1. the slow trace of every input, ``s <- slow_decay * s + (1 - slow_decay) * e``
       (``slow_decay = 1``: ``s`` stays at its value, 0 from a reset);
    2. an output ``i`` with ``normalised[i]`` and ``gate[t, i] > 0`` gains, with ``h = e - s``,
       ``rates[i] * gate[t, i] * (targets[t, i] - y_i) * h / (h . r_t)`` (nothing when
       ``h . r_t <= 1e-12``): the step that would move its output on this input by
       ``rates[i] * gate * error``, made along the input's deviation from its recent
       average, where the timing information of a sustained input lives;
    3. the other outputs as in :func:`three_factor_run_numpy`, with ``rates[i]`` as their
       learning rate.

    Args:
        elig: (1, N) float64 eligibility (``post = 1``). slow: (1, N) float64 slow traces.
        rates: (n_out,) float64 learning rates (the normalised outputs' are dimensionless).
        slow_decay: in [0, 1]. normalised: (n_out,) bool. The others as in
            :func:`three_factor_run_numpy`.

    Returns:
        The first step whose output or updated weights are not finite, or -1.
    """
    dec = float(decay)
    gain = 1.0 - dec
    sd = float(slow_decay)
    gate_cols = gate.shape[1]
    n_out = w.shape[0]
    online = np.asarray(online, dtype=bool)
    normalised = np.asarray(normalised, dtype=bool)
    rates = np.asarray(rates, dtype=np.float64)
    for t in range(traces.shape[0]):
        r64 = np.asarray(traces[t], dtype=np.float64)
        y = np.asarray(w, dtype=np.float64) @ r64
        out[t] = y
        if not np.isfinite(y).all():
            return t
        elig[0] = dec * elig[0] + gain * r64
        slow[0] = sd * slow[0] + (1.0 - sd) * elig[0]
        g = gate[t] if gate_cols > 1 else np.full(n_out, gate[t, 0])
        g = np.asarray(g, dtype=np.float64)
        err = np.asarray(targets[t], dtype=np.float64) - y
        h = elig[0] - slow[0]
        power = float(h @ r64)
        for i in range(n_out):
            if not g[i] > 0:
                continue
            dest = w if online[i] else pending
            if normalised[i]:
                if not power > 1e-12:
                    continue
                step = (rates[i] * g[i] * err[i] / power) * h
            else:
                step = rates[i] * g[i] * err[i] * elig[0]
            with np.errstate(over="ignore", invalid="ignore"):
                dest[i] = np.asarray(dest[i], dtype=np.float64) + step
            if not np.isfinite(dest[i]).all():
                return t
    return -1


@njit(cache=True, error_model="numpy")
def three_factor_nlms_run_numba(
    w, pending, elig, slow, traces, targets, gate, rates, decay, slow_decay, online, normalised,
    out,
):  # fmt: skip
    """Numba version of :func:`three_factor_nlms_run_numpy` (agrees to rounding)."""
    n_steps = traces.shape[0]
    n_out = w.shape[0]
    n = w.shape[1]
    dec = np.float64(decay)
    gain = 1.0 - dec
    sd = np.float64(slow_decay)
    gate_stride = 1 if gate.shape[1] > 1 else 0
    y = np.empty(n_out, dtype=np.float64)
    for t in range(n_steps):
        if not _read_outputs(w, traces, t, n, y, out):
            return t
        power = 0.0
        for j in range(n):
            r = np.float64(traces[t, j])
            elig[0, j] = dec * elig[0, j] + gain * r
            slow[0, j] = sd * slow[0, j] + (1.0 - sd) * elig[0, j]
            power += (elig[0, j] - slow[0, j]) * r
        for o in range(n_out):
            g = np.float64(gate[t, o * gate_stride])
            if not g > 0.0:
                continue
            dest = w if online[o] else pending
            bad = False
            if normalised[o]:
                if not power > 1e-12:
                    continue
                a = rates[o] * g * (np.float64(targets[t, o]) - y[o]) / power
                for j in range(n):
                    dest[o, j] = np.float64(dest[o, j]) + a * (elig[0, j] - slow[0, j])
                    bad |= not np.isfinite(dest[o, j])
            else:
                a = rates[o] * g * (np.float64(targets[t, o]) - y[o])
                for j in range(n):
                    dest[o, j] = np.float64(dest[o, j]) + a * elig[0, j]
                    bad |= not np.isfinite(dest[o, j])
            if bad:
                return t
    return -1
