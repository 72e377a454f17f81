"""Counter-based random numbers shared by every backend.

A random number is a pure function of ``(seed, stream, counter, index)``, so the
NumPy, Numba CPU and CUDA backends draw the very same numbers in any order and
from any thread. Simulations use ``stream`` to separate purposes (noise, Poisson
input), ``counter`` for the time step or draw number, and ``index`` for the
neuron or input channel.

Construction: ``key = H(seed, stream, counter)`` chains the SplitMix64
finaliser over the three words; the ``index``-th 64-bit word of that key is
SplitMix64's output ``mix(key + (index + 1) * golden)``. Uniforms take its top
53 bits. Normals are the inverse normal CDF of the open-interval uniform
``(bits + 0.5) / 2**53``, by Acklam's rational approximation (relative error
below 1.2e-9): pure arithmetic in the central 95 % (no transcendental
functions, so it is fast and rounds identically everywhere), a logarithm and a
square root in the tails.

All integer arguments of the compiled functions must be ``numpy.uint64``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from spikesub.kernels.lazy_cuda import cuda

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_ONE = np.uint64(1)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53

# Acklam's inverse normal CDF: central region p in [P_LOW, 1 - P_LOW], tails outside.
_P_LOW = 0.02425
_A1, _A2, _A3 = -3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02
_A4, _A5, _A6 = 1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00
_B1, _B2, _B3 = -5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02
_B4, _B5 = 6.680131188771972e01, -1.328068155288572e01
_C1, _C2, _C3 = -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00
_C4, _C5, _C6 = -2.549671010429087e00, 4.374664141464968e00, 2.938163982698783e00
_D1, _D2, _D3, _D4 = (
    7.784695709041462e-03,
    3.224671290700398e-01,
    2.445134137142996e00,
    3.754408661907416e00,
)


def _central(q):
    r = q * q
    num = (((((_A1 * r + _A2) * r + _A3) * r + _A4) * r + _A5) * r + _A6) * q
    return num / (((((_B1 * r + _B2) * r + _B3) * r + _B4) * r + _B5) * r + 1.0)


def _tail(q):
    num = ((((_C1 * q + _C2) * q + _C3) * q + _C4) * q + _C5) * q + _C6
    return num / ((((_D1 * q + _D2) * q + _D3) * q + _D4) * q + 1.0)


def _mix(z):
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


# ----------------------------------------------------------------------------------------------
# Numba CPU
_mix_numba = njit(inline="always", cache=True)(_mix)


@njit(inline="always", cache=True)
def key_numba(seed, stream, counter):
    """The 64-bit key of ``(seed, stream, counter)``."""
    z = _mix_numba(seed + _GOLDEN)
    z = _mix_numba(z ^ (stream + _GOLDEN))
    return _mix_numba(z ^ (counter + _GOLDEN))


@njit(inline="always", cache=True)
def uniform_from_key_numba(key, index):
    """Uniform float64 in [0, 1) for ``index`` under ``key``."""
    return float(_mix_numba(key + (index + _ONE) * _GOLDEN) >> _S11) * _TWO_M53


_central_numba = njit(inline="always", cache=True)(_central)
_tail_numba = njit(inline="always", cache=True)(_tail)


@njit(inline="always", cache=True)
def normal_from_key_numba(key, index):
    """Standard normal float64 for ``index`` under ``key``."""
    bits = _mix_numba(key + (index + _ONE) * _GOLDEN) >> _S11
    p = (float(bits) + 0.5) * _TWO_M53
    if p < _P_LOW:
        return _tail_numba(math.sqrt(-2.0 * math.log(p)))
    if p > 1.0 - _P_LOW:
        return -_tail_numba(math.sqrt(-2.0 * math.log(1.0 - p)))
    return _central_numba(p - 0.5)


# A superset of the tails (|p - 0.5| > 0.5 - _P_LOW = 0.47575), whatever the rounding of p - 0.5.
_TAIL_CANDIDATE = 0.47


@njit(inline="always", cache=True, error_model="numpy")
def normal_fill_numba(key, lo, hi, scale, out, p_buf, tail_buf):
    """``out[i] = scale[i] * normal(key, i)`` for ``i`` in ``[lo, hi)``, bit for bit as
    :func:`normal_from_key_numba`, in three passes that keep the branches out of the bulk.

    1. Straight-line loop that the compiler vectorises: the counter-based bits, the uniform
       ``p`` (kept in ``p_buf``) and the central-region value for every index.
    2. The indices whose ``p`` may lie in a tail (a superset, about 5 %) into ``tail_buf``,
       without branches.
    3. The tail value (a logarithm and a square root) for those indices in the tails.

    Args:
        key: numpy.uint64 key from :func:`key_numba`.
        lo, hi: index range (``0 <= lo <= hi <= len(out)``).
        scale: ``(>= hi,)`` float64 factor per index (the noise's standard deviation).
        out: ``(>= hi,)`` float64 output.
        p_buf: ``(>= hi,)`` float64 scratch; only ``[lo, hi)`` is written.
        tail_buf: ``(>= hi,)`` uint64 scratch; only ``[lo, hi)`` is written.

    Inlined into the caller; the caller should compile with ``error_model="numpy"`` (Numba's
    default error model checks every division for zero, which keeps the loop scalar).
    """
    for i in range(np.uint64(lo), np.uint64(hi)):
        bits = _mix_numba(key + (i + _ONE) * _GOLDEN) >> _S11
        p = (float(bits) + 0.5) * _TWO_M53
        p_buf[i] = p
        out[i] = scale[i] * _central_numba(p - 0.5)
    n_tail = np.uint64(lo)
    for i in range(np.uint64(lo), np.uint64(hi)):
        tail_buf[n_tail] = i
        n_tail += np.uint64(abs(p_buf[i] - 0.5) > _TAIL_CANDIDATE)
    for t in range(np.uint64(lo), n_tail):
        i = tail_buf[t]
        p = p_buf[i]
        if p < _P_LOW:
            out[i] = scale[i] * _tail_numba(math.sqrt(-2.0 * math.log(p)))
        elif p > 1.0 - _P_LOW:
            out[i] = scale[i] * -_tail_numba(math.sqrt(-2.0 * math.log(1.0 - p)))


@njit(cache=True, error_model="numpy")
def normal_fill(seed, stream, counter, lo, hi, scale, out):
    """``out[i] = scale[i] * normal(seed, stream, counter, i)`` for ``i`` in ``[lo, hi)``
    (:func:`normal_fill_numba` with its own scratch; integer arguments numpy.uint64 or int).

    Args:
        scale: ``(>= hi,)`` float64. out: ``(>= hi,)`` float64, written in ``[lo, hi)``.
    """
    n = out.shape[0]
    key = key_numba(np.uint64(seed), np.uint64(stream), np.uint64(counter))
    normal_fill_numba(key, lo, hi, scale, out, np.empty(n), np.empty(n, np.uint64))


@njit(cache=True)
def uniform_numba(seed, stream, counter, index):
    """Uniform float64 in [0, 1)."""
    return uniform_from_key_numba(key_numba(seed, stream, counter), index)


@njit(cache=True)
def normal_numba(seed, stream, counter, index):
    """Standard normal float64."""
    return normal_from_key_numba(key_numba(seed, stream, counter), index)


# ----------------------------------------------------------------------------------------------
# CUDA device functions
_mix_cuda = cuda.jit(device=True)(_mix)


@cuda.jit(device=True)
def key_cuda(seed, stream, counter):
    """The 64-bit key of ``(seed, stream, counter)``."""
    z = _mix_cuda(seed + _GOLDEN)
    z = _mix_cuda(z ^ (stream + _GOLDEN))
    return _mix_cuda(z ^ (counter + _GOLDEN))


@cuda.jit(device=True)
def uniform_from_key_cuda(key, index):
    """Uniform float64 in [0, 1) for ``index`` under ``key``."""
    return float(_mix_cuda(key + (index + _ONE) * _GOLDEN) >> _S11) * _TWO_M53


_central_cuda = cuda.jit(device=True)(_central)
_tail_cuda = cuda.jit(device=True)(_tail)


@cuda.jit(device=True)
def normal_from_key_cuda(key, index):
    """Standard normal float64 for ``index`` under ``key``."""
    bits = _mix_cuda(key + (index + _ONE) * _GOLDEN) >> _S11
    p = (float(bits) + 0.5) * _TWO_M53
    if p < _P_LOW:
        return _tail_cuda(math.sqrt(-2.0 * math.log(p)))
    if p > 1.0 - _P_LOW:
        return -_tail_cuda(math.sqrt(-2.0 * math.log(1.0 - p)))
    return _central_cuda(p - 0.5)


@cuda.jit(device=True)
def uniform_cuda(seed, stream, counter, index):
    """Uniform float64 in [0, 1)."""
    return uniform_from_key_cuda(key_cuda(seed, stream, counter), index)


@cuda.jit(device=True)
def normal_cuda(seed, stream, counter, index):
    """Standard normal float64."""
    return normal_from_key_cuda(key_cuda(seed, stream, counter), index)


# ----------------------------------------------------------------------------------------------
# NumPy reference, vectorised over ``index``
def _mix_np(z):
    with np.errstate(over="ignore"):
        z = (z ^ (z >> _S30)) * _MIX1
        z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


def key_numpy(seed: int, stream: int, counter: int) -> np.uint64:
    """The 64-bit key of ``(seed, stream, counter)``."""
    with np.errstate(over="ignore"):
        z = _mix_np(np.uint64(seed) + _GOLDEN)
        z = _mix_np(z ^ (np.uint64(stream) + _GOLDEN))
        return _mix_np(z ^ (np.uint64(counter) + _GOLDEN))


def uniform_numpy(seed: int, stream: int, counter: int, index) -> np.ndarray:
    """Uniform float64 in [0, 1) for every entry of ``index``."""
    key = key_numpy(seed, stream, counter)
    index = np.asarray(index, dtype=np.uint64)
    with np.errstate(over="ignore"):
        bits = _mix_np(key + (index + _ONE) * _GOLDEN)
    return (bits >> _S11).astype(np.float64) * _TWO_M53


def normal_numpy(seed: int, stream: int, counter: int, index) -> np.ndarray:
    """Standard normal float64 for every entry of ``index``."""
    key = key_numpy(seed, stream, counter)
    index = np.asarray(index, dtype=np.uint64)
    with np.errstate(over="ignore"):
        bits = _mix_np(key + (index + _ONE) * _GOLDEN) >> _S11
    p = (bits.astype(np.float64) + 0.5) * _TWO_M53
    out = _central(p - 0.5)
    low = p < _P_LOW
    high = p > 1.0 - _P_LOW
    if low.any():
        out[low] = _tail(np.sqrt(-2.0 * np.log(p[low])))
    if high.any():
        out[high] = -_tail(np.sqrt(-2.0 * np.log(1.0 - p[high])))
    return out
