"""Test configuration: run CUDA kernels on Numba's simulator when there is no GPU, and give
Numba at least two threads, so every CUDA and threaded test runs on any machine.

The switches must be set before ``numba`` is first configured, hence here.
"""

from __future__ import annotations

import glob
import importlib.util
import os
from pathlib import Path

import pytest

if not glob.glob("/dev/nvidia[0-9]*"):
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
# The threaded loops are tested with two threads, also on a one-core machine.
if int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)) < 2:
    os.environ["NUMBA_NUM_THREADS"] = "2"

# pyproject's warning filters import numba before this file runs: re-read its settings
from numba.core import config  # noqa: E402

config.reload_config()

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


@pytest.fixture
def experiment_script():
    """A loader of ``experiments/NAME.py`` as a module, so a test calls its ``main(argv)``."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
