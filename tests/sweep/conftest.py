"""Shared pieces of the sweep tests: sweep files written for a test, a local Ray of two CPUs
that the tests of a module share, started and stopped by the module itself, and the thread
counts that a trial run in this process changes, put back after each test."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numba
import pytest

from spikesub.kernels.threads import default_threads, set_default_threads


@pytest.fixture
def sweep_file(tmp_path):
    """Write a sweep file (dedented) into the test's folder; returns its path."""

    def write(text: str, name: str = "sweep.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with two CPUs for the module's tests (sweeps use it rather than start
    their own), shut down when the module's tests are done."""
    pytest.importorskip("ray")
    from spikesub.sweep.engine import connect

    with connect(cpus=2) as cluster:
        yield cluster


@pytest.fixture(autouse=True)
def _threads_put_back():
    """A trial run here sets the process's threads (Numba's and torch's); restore them."""
    numba_threads, default = numba.get_num_threads(), default_threads()
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    yield
    set_default_threads(default)
    numba.set_num_threads(numba_threads)
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
