"""The configuration of the snnTorch swap benchmark (``experiments/bench_snntorch_swap.py``).

A timing benchmark: never run two of its trials at once (a sweep over it takes
``--max-parallel 1``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from spikesub.config import JobConfig, setting

__all__ = ["BenchSnntorchSwapConfig"]


@dataclass(frozen=True)
class BenchSnntorchSwapConfig(JobConfig):
    """What the swap benchmark runs; each setting is also its command-line option.

    A timing benchmark: never run two of its trials at once (a sweep over it takes
    ``--max-parallel 1``)."""

    job: ClassVar[str] = "bench_snntorch_swap"

    rounds: int = setting(30, low=1, help="timed steps per model")
    steps: int = setting(20, low=1, help="time steps T")
    batch: int = setting(64, low=1, help="batch size")
    threads: int = setting(0, low=0, help="torch threads (0: torch's own choice)")
