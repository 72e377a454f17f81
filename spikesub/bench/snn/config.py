"""The configuration of the SNN training benchmark (``experiments/bench_snn.py``).

A timing benchmark: never run two of its trials at once (a sweep over it takes
``--max-parallel 1``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from spikesub.bench.common import names
from spikesub.config import JobConfig, setting

__all__ = ["BENCHES", "BenchSnnConfig", "FRAMEWORKS", "OMP_PASSIVE_CHOICES", "SJ_BACKENDS"]

BENCHES: tuple[str, ...] = ("mlp", "ob")
FRAMEWORKS: tuple[str, ...] = ("snntorch", "spikingjelly", "spikesub")
SJ_BACKENDS: tuple[str, ...] = ("auto", "cuda", "triton", "torch")
OMP_PASSIVE_CHOICES: tuple[str, ...] = ("spikesub", "all", "none")
"""``omp_passive``: whose processes run with ``OMP_WAIT_POLICY=PASSIVE``."""


@dataclass(frozen=True)
class BenchSnnConfig(JobConfig):
    """What the SNN training benchmark runs; each setting is also its command-line option.

    A timing benchmark: never run two of its trials at once (a sweep over it takes
    ``--max-parallel 1``)."""

    job: ClassVar[str] = "bench_snn"

    bench: str = setting("mlp,ob", help="comma-separated workloads: mlp, ob")
    frameworks: str = setting(
        ",".join(FRAMEWORKS),
        help="comma-separated, run in this order each round: snntorch, spikingjelly, spikesub",
    )
    device: str = setting("cpu", choices=("cpu", "cuda"), help="where the networks train")
    sj_backend: str = setting(
        "auto",
        choices=SJ_BACKENDS,
        help="SpikingJelly's LIF implementation on a GPU (auto: native CUDA, else Triton)",
    )
    dtype: str = setting(
        "float32",
        choices=("float32", "float64"),
        help="dtype of weights, data and state (float64: loss curves agree for longer)",
    )
    steps: int = setting(50, low=1, help="timed MLP training steps (K)")
    warmup: int = setting(5, low=0, help="MLP warm-up steps, not timed")
    batch: int = setting(64, low=1, help="MLP batch size")
    T: int = setting(20, low=1, help="MLP time steps")
    hidden: tuple[int, ...] = setting((800, 800), low=1, help="MLP hidden sizes, comma-separated")
    lr: float = setting(0.05, low=0.0, low_open=True, help="SGD learning rate")
    data_dir: str | None = setting(
        None,
        help="the MNIST files (default: ../shared/data/mnist-10k beside the repository)",
    )
    synthetic: bool = setting(False, help="random images instead of MNIST")
    ob_n: int = setting(4096, low=1, help="neurons of the ob workload's Linear+LIF layer")
    ob_steps: int = setting(500, low=1, help="time steps of the ob workload")
    ob_batch: int = setting(16, low=1, help="batch of the ob workload")
    ob_repeats: int = setting(3, low=1, help="timed ob forward+backward runs")
    ob_warmup: int = setting(1, low=0, help="ob warm-up runs, not timed")
    threads: int = setting(
        0, low=0, help="torch and Numba threads (0: automatic, from the cores this process may use)"
    )
    seed: int = setting(0, low=0, help="seed of weights, data and batch order")
    rounds: int = setting(
        1, low=1, help="times the frameworks take turns on each workload; timed steps are pooled"
    )
    omp_passive: str = setting(
        "spikesub",
        choices=OMP_PASSIVE_CHOICES,
        help="whose child processes run with OMP_WAIT_POLICY=PASSIVE",
    )
    profile: bool = setting(False, help="write torch.profiler tables")
    in_process: bool = setting(False, help="no child processes (peak memory then mixes)")

    def check(self) -> None:
        names("bench", self.bench, BENCHES)
        names("frameworks", self.frameworks, FRAMEWORKS)

    @property
    def bench_names(self) -> tuple[str, ...]:
        return names("bench", self.bench, BENCHES)

    @property
    def framework_names(self) -> tuple[str, ...]:
        return names("frameworks", self.frameworks, FRAMEWORKS)
