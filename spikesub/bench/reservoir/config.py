"""The configuration of the reservoir benchmark (``experiments/bench_reservoir.py``).

A timing benchmark: never run two of its trials at once (a sweep over it takes
``--max-parallel 1``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from spikesub.bench.common import names
from spikesub.config import JobConfig, setting

__all__ = ["BACKENDS", "BRIAN2_TARGETS", "BenchReservoirConfig", "PRECISIONS"]

BACKENDS: tuple[str, ...] = ("numba", "cuda", "numpy")
PRECISIONS: tuple[str, ...] = ("float64", "float32")
BRIAN2_TARGETS: tuple[str, ...] = ("cython", "numpy", "cpp_standalone")


@dataclass(frozen=True)
class BenchReservoirConfig(JobConfig):
    """What the reservoir benchmark runs; each setting is also its command-line option.

    A timing benchmark: never run two of its trials at once (a sweep over it takes
    ``--max-parallel 1``)."""

    job: ClassVar[str] = "bench_reservoir"

    sizes: tuple[int, ...] = setting((1000, 10000), low=10, help="network sizes N, comma-separated")
    durations_s: tuple[float, ...] = setting(
        (1.0, 10.0),
        low=0.0,
        low_open=True,
        flag="--durations",
        metavar="DURATIONS",
        help="biological durations in s, comma-separated",
    )
    backends: str = setting(
        "numba", help="spikesub backends, comma-separated, from numba,cuda,numpy"
    )
    precisions: str = setting(
        "float64",
        help="spikesub arithmetic, comma-separated, from float64,float32; float32 rows are "
        "named '-f32'",
    )
    brian2: bool = setting(True, help="run Brian2 too (--no-brian2: skip the Brian2 runs)")
    brian2_targets: str = setting(
        "cython,cpp_standalone",
        help="Brian2 targets, comma-separated, from cython,numpy,cpp_standalone",
    )
    nest: bool = setting(
        False,
        help="add NEST (model izhikevich, spikesub's thread count; pip install nest-simulator)",
    )
    threads: int = setting(
        0,
        low=0,
        help="threads of the spikesub Numba backend and of Brian2's C++ standalone program "
        "(0: automatic, all available cores for N >= 2048)",
    )
    repeat: int = setting(
        1,
        low=1,
        help="runs per size, duration and simulator; the fastest is reported (standalone: the "
        "compiled program runs again)",
    )
    seed: int = setting(0, low=0, help="seed of network and noise")
    machine_limit: bool = setting(
        True,
        help="measure the machine's limit on each thread count (--no-machine-limit saves a "
        "few seconds per thread count)",
    )

    def check(self) -> None:
        names("backends", self.backends, BACKENDS)
        names("precisions", self.precisions, PRECISIONS)
        names("brian2_targets", self.brian2_targets, BRIAN2_TARGETS)

    @property
    def backend_names(self) -> tuple[str, ...]:
        return names("backends", self.backends, BACKENDS)

    @property
    def precision_names(self) -> tuple[str, ...]:
        return names("precisions", self.precisions, PRECISIONS)

    @property
    def brian2_target_names(self) -> tuple[str, ...]:
        return names("brian2_targets", self.brian2_targets, BRIAN2_TARGETS)

    @property
    def thread_count(self) -> int | None:
        """``threads`` as the reservoir takes it (None: automatic)."""
        return self.threads or None
