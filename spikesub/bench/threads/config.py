"""The configuration of the thread benchmark (``experiments/bench_threads.py``).

A timing benchmark: never run two of its trials at once (a sweep over it takes
``--max-parallel 1``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from spikesub.bench.common import names
from spikesub.config import JobConfig, setting

__all__ = ["AUTO", "BenchThreadsConfig", "DT_MS", "LAYERS", "QUICK"]

AUTO = "auto"
DT_MS = 0.1
LAYERS: tuple[str, ...] = ("default", "tbb", "omp", "workqueue")
"""Numba's threading layers; ``default`` is the one spikesub picks."""
QUICK: dict[str, Any] = {"duration_ms": 20.0, "rounds": 1}
"""A smoke run of a few seconds."""


def thread_labels(text: str) -> tuple[str, ...]:
    """The thread settings of ``threads`` as labels, each once: ``auto`` (also ``0``) or a
    count >= 1 as text.

    Raises:
        ValueError: an item that is neither (one line, naming ``threads``).
    """
    labels = []
    for item in (part.strip() for part in text.split(",")):
        if item.lower() in (AUTO, "0"):
            labels.append(AUTO)
            continue
        try:
            value = int(item)
        except ValueError:
            value = -1
        if value < 1:
            raise ValueError(
                f"threads must be integers >= 0 or 'auto', comma-separated; got {item!r}"
            )
        labels.append(str(value))
    return tuple(dict.fromkeys(labels))


@dataclass(frozen=True)
class BenchThreadsConfig(JobConfig):
    """What the thread benchmark runs; each setting is also its command-line option.

    A timing benchmark: never run two of its trials at once (a sweep over it takes
    ``--max-parallel 1``)."""

    job: ClassVar[str] = "bench_threads"

    threads: str = setting(
        f"1,2,{AUTO}",
        help="thread settings, comma-separated: counts >= 1, or 'auto' (or 0) for the "
        "reservoir's default",
    )
    duration_ms: float = setting(1000.0, low=DT_MS, help="biological time per run, ms")
    rounds: int = setting(5, low=1, help="rounds; each times every setting once")
    busy: int = setting(2, low=0, help="busy-loop processes beside the loaded runs")
    layers: str = setting(
        "default",
        help="Numba threading layers, comma-separated, from default (what spikesub picks), "
        "tbb, omp, workqueue",
    )
    seed: int = setting(1, low=0, help="seed of network and noise")

    @classmethod
    def quick(cls, **overrides: Any) -> BenchThreadsConfig:
        """The smoke run (:data:`QUICK`: 20 ms, one round), with ``overrides`` on top."""
        return cls.from_dict({**QUICK, **overrides})

    def check(self) -> None:
        thread_labels(self.threads)
        self.layer_names  # noqa: B018 (checks the names)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return names("layers", self.layers.lower(), LAYERS)
