"""The configuration of ``spikesub simulate``: the Izhikevich (2003) network at any size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from spikesub.config import JobConfig, setting
from spikesub.kernels.backends import BACKEND_CHOICES

__all__ = ["SimulationConfig"]

ALL_TO_ALL_MAX = 1000
"""Networks up to this size are connected all to all unless ``p`` or ``in_degree`` is given."""


@dataclass(frozen=True)
class SimulationConfig(JobConfig):
    """What ``spikesub simulate`` runs; each setting is also its command-line option."""

    job: ClassVar[str] = "simulate"

    n_exc: int = setting(
        800, low=0, help="excitatory neurons (heterogeneous: regular spiking to chattering)"
    )
    n_inh: int = setting(
        200, low=0, help="inhibitory neurons (heterogeneous: fast spiking to low-threshold)"
    )
    p: float | None = setting(
        None,
        low=0.0,
        high=1.0,
        help=f"connection probability (unset: 1 up to {ALL_TO_ALL_MAX} neurons, else 0.1)",
    )
    in_degree: int | None = setting(
        None, low=0, help="a fixed number of inputs per neuron, instead of --p"
    )
    noise_std_exc: float = setting(
        5.0, low=0.0, flag="--noise-exc", help="thalamic noise std of excitatory neurons"
    )
    noise_std_inh: float = setting(
        2.0, low=0.0, flag="--noise-inh", help="thalamic noise std of inhibitory neurons"
    )
    duration_ms: float = setting(1000.0, low=0.0, low_open=True, help="biological time, ms")
    dt_ms: float = setting(0.1, low=0.0, low_open=True, help="time step, ms")
    backend: str = setting(
        "auto",
        choices=BACKEND_CHOICES,
        help="auto (CUDA if a GPU is present, else numba), numpy, numba or cuda",
    )
    dtype: str = setting("float32", choices=("float32", "float64"), help="state precision")
    seed: int = setting(0, low=0, high=2**64 - 1, help="seed of the network and its noise")
    n_traces: int = setting(
        4, low=0, flag="--traces", help="neurons whose membrane potential is recorded and drawn"
    )

    def check(self) -> None:
        if self.n_neurons < 1:
            raise ValueError("n_exc + n_inh must be at least 1")
        if self.p is not None and self.in_degree is not None:
            raise ValueError("give p or in_degree, not both")
        if self.in_degree is not None and self.in_degree > self.n_neurons:
            raise ValueError(f"in_degree must be in [0, {self.n_neurons}]; got {self.in_degree}")

    @property
    def n_neurons(self) -> int:
        return self.n_exc + self.n_inh

    @property
    def connection_probability(self) -> float | None:
        """``p``, its default for the network's size, or None with a fixed in-degree."""
        if self.in_degree is not None:
            return None
        if self.p is not None:
            return self.p
        return 1.0 if self.n_neurons <= ALL_TO_ALL_MAX else 0.1
