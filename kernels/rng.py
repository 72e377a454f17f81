"""Counter-based random numbers shared by every backend.

A random number is a pure function of ``(seed, stream, counter, index)``: a
SplitMix64-style hash, so the NumPy, Numba CPU and CUDA backends draw the very
same numbers in any order and from any thread. Simulations use ``stream`` to
separate purposes (noise, Poisson input), ``counter`` for the time step or draw
number, and ``index`` for the neuron or input channel.

The scalar functions are plain Python over ``numpy.uint64`` values, compiled
twice: with ``numba.njit`` for CPU kernels and as CUDA device functions.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
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


# Numba CPU versions (arguments must be numpy.uint64).
mix_numba = njit(inline="always", cache=True)(_mix)


@njit(cache=True)
def _mix_chain_numba(seed, stream, counter, index):
    z = mix_numba(seed + _GOLDEN)
    z = mix_numba(z ^ (stream + _GOLDEN))
    z = mix_numba(z ^ (counter + _GOLDEN))
    return mix_numba(z ^ (index + _GOLDEN))


@njit(cache=True)
def uniform_numba(seed, stream, counter, index):
    """Uniform [0, 1) float64; all arguments ``numpy.uint64``."""
    return float(_mix_chain_numba(seed, stream, counter, index) >> _S11) * _TWO_M53


@njit(cache=True)
def normal_numba(seed, stream, counter, index):
    """Standard normal float64; all arguments ``numpy.uint64``."""
    two = np.uint64(2) * index
    u1 = 1.0 - uniform_numba(seed, stream, counter, two)
    u2 = uniform_numba(seed, stream, counter, two + np.uint64(1))
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)


# CUDA device versions.
_mix_cuda = cuda.jit(device=True)(_mix)


@cuda.jit(device=True)
def _hash4_cuda(seed, stream, counter, index):
    z = _mix_cuda(seed + _GOLDEN)
    z = _mix_cuda(z ^ (stream + _GOLDEN))
    z = _mix_cuda(z ^ (counter + _GOLDEN))
    return _mix_cuda(z ^ (index + _GOLDEN))


@cuda.jit(device=True)
def uniform_cuda(seed, stream, counter, index):
    """Uniform [0, 1) float64 on the device; all arguments ``numpy.uint64``."""
    return float(_hash4_cuda(seed, stream, counter, index) >> _S11) * _TWO_M53


@cuda.jit(device=True)
def normal_cuda(seed, stream, counter, index):
    """Standard normal float64 on the device; all arguments ``numpy.uint64``."""
    two = np.uint64(2) * index
    u1 = 1.0 - uniform_cuda(seed, stream, counter, two)
    u2 = uniform_cuda(seed, stream, counter, two + np.uint64(1))
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)


# NumPy reference versions, vectorised over ``index``.
def _mix_np(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = (z ^ (z >> _S30)) * _MIX1
        z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


def _hash4_np(seed: int, stream: int, counter: int, index: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        s = np.uint64(seed) + _GOLDEN
        z = _mix_np(np.asarray(s, dtype=np.uint64))
        z = _mix_np(z ^ (np.uint64(stream) + _GOLDEN))
        z = _mix_np(z ^ (np.asarray(counter, dtype=np.uint64) + _GOLDEN))
        return _mix_np(z ^ (np.asarray(index, dtype=np.uint64) + _GOLDEN))


def uniform_numpy(seed: int, stream: int, counter, index) -> np.ndarray:
    """Uniform [0, 1) float64 array for every ``index`` (broadcast with ``counter``)."""
    return (_hash4_np(seed, stream, counter, index) >> _S11).astype(np.float64) * _TWO_M53


def normal_numpy(seed: int, stream: int, counter, index) -> np.ndarray:
    """Standard normal float64 array for every ``index`` (broadcast with ``counter``)."""
    two = np.uint64(2) * np.asarray(index, dtype=np.uint64)
    u1 = 1.0 - uniform_numpy(seed, stream, counter, two)
    u2 = uniform_numpy(seed, stream, counter, two + np.uint64(1))
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(_TWO_PI * u2)
