"""The configuration of the kernel breakdown (``experiments/bench_snn_breakdown.py``).

A timing benchmark: never run two of its trials at once (a sweep over it takes
``--max-parallel 1``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from spikesub.config import JobConfig, setting

__all__ = ["BenchSnnBreakdownConfig"]


@dataclass(frozen=True)
class BenchSnnBreakdownConfig(JobConfig):
    """What the kernel breakdown runs; each setting is also its command-line option.

    A timing benchmark: never run two of its trials at once (a sweep over it takes
    ``--max-parallel 1``)."""

    job: ClassVar[str] = "bench_snn_breakdown"

    threads: int = setting(
        1, low=1, help="torch and Numba threads (1: the CPU times are what the kernels cost)"
    )
    train_steps: int = setting(30, low=0, help="training steps before timing")
    repeats: int = setting(20, low=1, help="timed calls per kernel (and timed training steps)")
    batch: int = setting(64, low=1, help="batch size")
    T: int = setting(20, low=1, help="time steps")
    lr: float = setting(0.05, low=0.0, low_open=True, help="SGD learning rate")
    data_dir: str | None = setting(
        None,
        help="the MNIST files (default: ../shared/data/mnist-10k beside the repository)",
    )
    synthetic: bool = setting(False, help="random images instead of MNIST")
    seed: int = setting(0, low=0, help="seed of weights, images and batches")
