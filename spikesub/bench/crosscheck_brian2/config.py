"""The configuration of the Brian2 cross-check (``experiments/crosscheck_brian2.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from spikesub.config import JobConfig, setting

__all__ = ["CrosscheckBrian2Config"]


@dataclass(frozen=True)
class CrosscheckBrian2Config(JobConfig):
    """What the cross-check runs; each setting is also its command-line option."""

    job: ClassVar[str] = "crosscheck_brian2"

    seeds: tuple[int, ...] = setting((1, 2, 3), low=0, help="network/input seeds")
    duration_ms: float = setting(
        1000.0, low=1.0, help="simulated time, ms (whole ms: the input is drawn once per ms)"
    )

    def check(self) -> None:
        if not float(self.duration_ms).is_integer():
            raise ValueError(f"duration_ms must be a whole number of ms; got {self.duration_ms}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct; got {list(self.seeds)}")
