"""Shared fixtures of the continual-learning tests."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import torch

from spikesub.datasets import MNIST_FILES, write_idx


@pytest.fixture
def one_thread():
    """Torch and Numba on one thread: the tensors here are small, and thread start-up and
    spinning cost more than the work."""
    torch_threads, numba_threads = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    yield
    torch.set_num_threads(torch_threads)
    numba.set_num_threads(numba_threads)


def _write_tiny_mnist(folder, n_train=60, n_test=20, seed=0):
    """The four MNIST files with random images; every digit appears in both splits."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for role, stem in MNIST_FILES.items():
        write_idx(folder / f"{stem}.gz", arrays[role])
    return arrays


@pytest.fixture
def write_tiny_mnist():
    """``write_tiny_mnist(folder, n_train=60, n_test=20, seed=0) -> arrays``: writes the
    four gzipped IDX files of random digits into ``folder``."""
    return _write_tiny_mnist
