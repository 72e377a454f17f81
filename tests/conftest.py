"""Test configuration: run CUDA kernels on Numba's simulator when there is no GPU, and give
Numba at least two threads, so every CUDA and threaded test runs on any machine.

The switches must be set before ``numba`` is first configured, hence here.
"""

from __future__ import annotations

import glob
import os

if not glob.glob("/dev/nvidia[0-9]*"):
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
# The threaded loops are tested with two threads, also on a one-core machine.
if int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)) < 2:
    os.environ["NUMBA_NUM_THREADS"] = "2"

# pyproject's warning filters import numba before this file runs: re-read its settings
from numba.core import config  # noqa: E402

config.reload_config()
