"""CPU intrinsics for Numba: prefetch, atomics, spin-wait."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from numba import njit, prange

from spikesub.kernels.intrinsics import (
    atomic_add_numba,
    atomic_load_numba,
    atomic_store_numba,
    prefetch_numba,
    spin_pause_numba,
    wait_until_at_least_numba,
    yield_thread_numba,
)
from spikesub.kernels.threads import numba_threads


@njit
def _add_many(counter, n):
    old = 0
    for _ in range(n):
        old = atomic_add_numba(counter, 1, 2)
    return old


@njit(parallel=True)
def _add_from_threads(counter, n_tasks, n):
    for _task in prange(n_tasks):
        for _i in range(n):
            atomic_add_numba(counter, 0, 1)


@njit
def _load_store(values):
    atomic_store_numba(values, 2, 42)
    spin_pause_numba()
    yield_thread_numba()
    prefetch_numba(values, 0)
    return atomic_load_numba(values, 2)


@njit
def _wait_for_reached(flag, target):
    wait_until_at_least_numba(flag, 0, target)
    return atomic_load_numba(flag, 0)


def test_atomic_add_returns_the_old_value_and_adds():
    counter = np.zeros(3, dtype=np.int64)
    assert _add_many(counter, 5) == 8
    np.testing.assert_array_equal(counter, [0, 10, 0])


def test_atomic_adds_from_several_threads_all_count():
    counter = np.zeros(1, dtype=np.int64)
    with numba_threads(min(2, numba.config.NUMBA_NUM_THREADS)):
        _add_from_threads(counter, 8, 10_000)
    assert counter[0] == 80_000


def test_atomic_load_store_and_hints():
    values = np.zeros(4, dtype=np.int32)
    assert _load_store(values) == 42
    np.testing.assert_array_equal(values, [0, 0, 42, 0])


def test_wait_until_returns_once_the_value_is_reached():
    """(Waiting for another thread is exercised by the threaded network loop, whose workers
    never wait for work nobody has claimed; a test that needs two threads to run at once could
    hang where the thread pool runs both tasks on one thread.)"""
    flag = np.array([7], dtype=np.int64)
    assert _wait_for_reached(flag, 7) == 7
    assert _wait_for_reached(flag, -3) == 7


def test_atomics_refuse_float_arrays():
    @njit
    def add_to_floats(x):
        return atomic_add_numba(x, 0, 1)

    with pytest.raises(numba.core.errors.TypingError, match="integer array"):
        add_to_floats(np.zeros(2))
