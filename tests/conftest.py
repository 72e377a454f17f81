"""Test configuration: run CUDA kernels on Numba's simulator when there is no GPU.

The switch must be set before ``numba.cuda`` is first imported, hence here.
"""

from __future__ import annotations

import glob
import os

if not glob.glob("/dev/nvidia[0-9]*"):
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

    # pyproject's warning filters import numba before this file runs: re-read its settings
    from numba.core import config

    config.reload_config()
