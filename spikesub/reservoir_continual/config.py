"""The configuration of ``spikesub reservoir-continual``.

The defaults are the reported run (seeds 1-4 of a 500-neuron LIF reservoir, five tasks of
four cues each); their learning rate, passes and energy threshold were chosen on seed 0
(``experiments/reservoir_continual.py --validate``). :data:`QUICK`
(:meth:`ReservoirContinualConfig.quick`) is a run of a few seconds on 300 neurons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from spikesub.config import JobConfig, setting

__all__ = ["QUICK", "ReservoirContinualConfig"]

QUICK: dict[str, Any] = {
    "n_neurons": 300,
    "n_train": 80,
    "n_test": 60,
    "epochs": 10,
    "hebbian_epochs": 20,
    "seeds": (1,),
}
"""A run of a few seconds: 300 neurons, fewer trials and passes, one seed."""


@dataclass(frozen=True)
class ReservoirContinualConfig(JobConfig):
    """What ``spikesub reservoir-continual`` runs; each setting is also its option."""

    job: ClassVar[str] = "reservoir-continual"

    # the tasks
    n_tasks: int = setting(5, low=2, help="tasks learnt in sequence")
    n_classes: int = setting(4, low=2, help="cues per task = outputs, shared by every task")
    n_channels: int = setting(8, low=1, help="input channels of each task (its own)")
    n_segments: int = setting(2, low=1, help="segments of a cue's pattern (each held in turn)")
    stimulus_samples: int = setting(12, low=2, help="input samples a cue lasts")
    gap_samples: int = setting(4, low=0, help="silent samples after each cue")
    noise: float = setting(0.3, low=0.0, help="standard deviation of the cues' noise")
    n_train: int = setting(150, low=2, help="training trials per task")
    n_test: int = setting(100, low=2, help="held-out test trials per task (new noise)")
    # the reservoir
    n_neurons: int = setting(500, low=10, help="LIF neurons of the reservoir")
    spectral_radius: float = setting(0.3, low=0.0, help="of the recurrent weights")
    input_scaling: float = setting(1.0, low=0.0, help="encoder weights U(-s, s)")
    bias: float = setting(0.9, help="mean bias current (threshold 1)")
    bias_spread: float = setting(0.3, low=0.0, help="bias spread U(-s, s)")
    tau_syn_ms: float = setting(5.0, low=0.0, low_open=True, help="synaptic decay, ms")
    tau_trace_ms: float = setting(
        10.0, low=0.0, low_open=True, help="time constant of the traces the readout reads, ms"
    )
    sample_ms: float = setting(5.0, low=0.0, low_open=True, help="ms per input sample")
    dt_ms: float = setting(0.5, low=0.0, low_open=True, help="simulation step, ms")
    # learning
    learning_rate: float = setting(
        0.3,
        low=0.0,
        low_open=True,
        help="three-factor learning rate (traces scaled to unit mean squared norm: stable "
        "below about 2)",
    )
    epochs: int = setting(40, low=1, help="passes over each task's training trials")
    gate: float = setting(
        1.0, low=0.0, high=1.0, help="attention gate in the response window (0 outside), [0, 1]"
    )
    energy_threshold: float = setting(
        0.97,
        low=0.0,
        high=1.0,
        help="fraction of each task's trace energy protected (HLOP's neuron count, GPM's basis)",
    )
    hebbian_epochs: int = setting(100, low=1, help="passes of the lateral Hebbian circuit")
    hebbian_lr: float = setting(
        0.5, low=0.0, high=1.0, low_open=True, help="the lateral circuit's step, (0, 1]"
    )
    hebbian_momentum: float = setting(
        0.9, low=0.0, high=1.0, high_open=True, help="momentum of the lateral circuit's updates"
    )
    ridge: float = setting(1e-3, low=0.0, help="penalty of the per-task ridge reference")
    n_angles: int = setting(10, low=1, help="directions per task in the task-subspace angles")
    seeds: tuple[int, ...] = setting(
        (1, 2, 3, 4),
        low=0,
        help="seeds reported (reservoir, cues, trials); seed 0 chose the settings",
    )
    backend: str = setting(
        "numba", choices=("numba", "numpy", "auto"), help="backend of reservoir and readout"
    )

    @classmethod
    def quick(cls, **overrides: Any) -> ReservoirContinualConfig:
        """The run of a few seconds (:data:`QUICK`), with ``overrides`` on top."""
        return cls.from_dict({**QUICK, **overrides})

    def check(self) -> None:
        if len(set(self.seeds)) != len(self.seeds) or not self.seeds:
            raise ValueError(f"seeds must be distinct and at least one; got {list(self.seeds)}")
        if self.stimulus_samples % self.n_segments:
            raise ValueError(
                f"stimulus_samples ({self.stimulus_samples}) must be a multiple of n_segments "
                f"({self.n_segments})"
            )
