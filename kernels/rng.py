"""Counter-based random numbers shared by every backend.

A random number is a pure function of ``(seed, stream, counter, index)``, so the
NumPy, Numba CPU and CUDA backends draw the very same numbers in any order and
from any thread. Simulations use ``stream`` to separate purposes (noise, Poisson
input), ``counter`` for the time step or draw number, and ``index`` for the
neuron or input channel.

Construction: ``key = H(seed, stream, counter)`` chains the SplitMix64
finaliser over the three words; the ``index``-th 64-bit word of that key is
SplitMix64's output ``mix(key + (index + 1) * golden)``. Uniforms take its top
53 bits. Normals come in Box-Muller pairs: indices ``2j`` and ``2j + 1`` share
the uniforms ``(2j, 2j + 1)`` and take the cosine and the sine branch, so a
kernel that fills a whole array computes one logarithm per two numbers
(:func:`normal_pair_numba`).

All integer arguments of the compiled functions must be ``numpy.uint64``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_ONE = np.uint64(1)
_TWO = np.uint64(2)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53
_TWO_PI = 2.0 * math.pi


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


@njit(inline="always", cache=True)
def normal_pair_numba(key, pair):
    """Standard normals of indices ``2 * pair`` and ``2 * pair + 1`` under ``key``."""
    u1 = 1.0 - uniform_from_key_numba(key, _TWO * pair)  # in (0, 1]: the log is finite
    u2 = uniform_from_key_numba(key, _TWO * pair + _ONE)
    r = math.sqrt(-2.0 * math.log(u1))
    return r * math.cos(_TWO_PI * u2), r * math.sin(_TWO_PI * u2)


@njit(cache=True)
def uniform_numba(seed, stream, counter, index):
    """Uniform float64 in [0, 1)."""
    return uniform_from_key_numba(key_numba(seed, stream, counter), index)


@njit(cache=True)
def normal_numba(seed, stream, counter, index):
    """Standard normal float64."""
    z0, z1 = normal_pair_numba(key_numba(seed, stream, counter), index // _TWO)
    return z0 if index % _TWO == 0 else z1


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


@cuda.jit(device=True)
def normal_from_key_cuda(key, index):
    """Standard normal of ``index`` under ``key`` (its half of the Box-Muller pair)."""
    pair = index // _TWO
    u1 = 1.0 - uniform_from_key_cuda(key, _TWO * pair)
    u2 = uniform_from_key_cuda(key, _TWO * pair + _ONE)
    r = math.sqrt(-2.0 * math.log(u1))
    if index % _TWO == 0:
        return r * math.cos(_TWO_PI * u2)
    return r * math.sin(_TWO_PI * u2)


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
    index = np.asarray(index, dtype=np.uint64)
    pair = index // _TWO
    u1 = 1.0 - uniform_numpy(seed, stream, counter, _TWO * pair)
    u2 = uniform_numpy(seed, stream, counter, _TWO * pair + _ONE)
    r = np.sqrt(-2.0 * np.log(u1))
    return np.where(index % _TWO == 0, r * np.cos(_TWO_PI * u2), r * np.sin(_TWO_PI * u2))
