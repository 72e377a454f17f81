"""The configuration of ``spikesub force-sine``: FORCE training of a spiking network on a sine.

The defaults are the full run of Nicola & Clopath (2017, Fig. 2): 2000 neurons, 15 s, the
decoder trained from 5 s to 10 s. Two presets change some of them:

* :data:`QUICK` (:meth:`ForceSineConfig.quick`): 500 neurons, 1 s settling, 2 s training,
  2 s test (a few seconds of CPU time);
* :data:`MATLAB_NEURONS` (:meth:`ForceSineConfig.matlab`): the neuron and weight settings of
  the authors' MATLAB script IZFORCESINE.

Presets combine, and settings given with them override them::

    ForceSineConfig.quick(**MATLAB_NEURONS, seed=2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from spikesub.config import JobConfig, setting

__all__ = ["MATLAB_NEURONS", "QUICK", "ForceSineConfig"]

QUICK: dict[str, Any] = {
    "n_neurons": 500,
    "duration_ms": 5000.0,
    "train_start_ms": 1000.0,
    "train_stop_ms": 3000.0,
}
"""Small and short run: 500 neurons, 1 s settling, 2 s training, 2 s test."""

MATLAB_NEURONS: dict[str, Any] = {"b_nS": -2.0, "v_t_mV": -19.2, "balance_rows": False}
"""Neuron and weight settings of the authors' MATLAB script IZFORCESINE: ``b = -2`` nS,
``v_t = v_r + 40 - b / k = -19.2`` mV (the 1000 pA bias at the rheobase), no row balancing."""

_POSITIVE = {"low": 0.0, "low_open": True}


@dataclass(frozen=True)
class ForceSineConfig(JobConfig):
    """What ``spikesub force-sine`` runs; each setting is also its command-line option."""

    job: ClassVar[str] = "force_sine"

    seed: int = setting(
        0,
        low=0,
        help="seed of the initial potentials, the static weights and the feedback encoder "
        "(drawn in that order from one generator)",
    )
    n_neurons: int = setting(2000, low=1, help="Izhikevich (2007) neurons in the network")
    duration_ms: float = setting(15000.0, **_POSITIVE, help="simulated time, ms")
    train_start_ms: float = setting(5000.0, low=0.0, help="start of the RLS training, ms")
    train_stop_ms: float = setting(
        10000.0, low=0.0, help="end of the RLS training, ms; the test runs from here to the end"
    )
    dt_ms: float = setting(0.04, **_POSITIVE, help="forward Euler step, ms")
    frequency_hz: float = setting(5.0, **_POSITIVE, help="frequency of the target sine, Hz")
    amplitude: float = setting(1.0, **_POSITIVE, help="amplitude of the target sine")
    gain_static_pA: float = setting(5e3, low=0.0, help="G: scale of the static random weights, pA")
    gain_feedback_pA: float = setting(
        5e3, low=0.0, help="Q: scale of the feedback encoder, pA per unit of readout"
    )
    p_connect: float = setting(
        0.1, low=0.0, low_open=True, high=1.0, help="connection probability of the static weights"
    )
    balance_rows: bool = setting(
        True, help="remove the mean of each neuron's nonzero input weights"
    )
    bias_pA: float = setting(1000.0, help="constant input current of every neuron, pA")
    b_nS: float = setting(0.0, help="recovery coupling b of the neurons, nS")
    v_t_mV: float = setting(-40.0, help="threshold potential v_t of the neurons, mV")
    tau_rise_ms: float = setting(
        2.0, **_POSITIVE, help="rise time of the synaptic and readout filters, ms"
    )
    tau_decay_ms: float = setting(
        20.0, **_POSITIVE, help="decay time of the synaptic and readout filters, ms"
    )
    rls_alpha: float = setting(0.5, **_POSITIVE, help="RLS regulariser: P(0) = I / alpha")
    update_every: int = setting(20, low=1, help="steps between RLS updates during training")
    backend: str = setting(
        "numba",
        choices=("numba", "numpy", "auto"),
        help="numba, numpy (the reference, slow) or auto (numba: the loop has no CUDA version)",
    )

    @classmethod
    def quick(cls, **overrides: Any) -> ForceSineConfig:
        """The small and short run (:data:`QUICK`), with ``overrides`` on top."""
        return cls.from_dict({**QUICK, **overrides})

    @classmethod
    def matlab(cls, **overrides: Any) -> ForceSineConfig:
        """The full run with the neurons of the authors' script (:data:`MATLAB_NEURONS`), with
        ``overrides`` on top."""
        return cls.from_dict({**MATLAB_NEURONS, **overrides})

    def check(self) -> None:
        if not self.train_start_ms < self.train_stop_ms < self.duration_ms:
            raise ValueError(
                "need train_start_ms < train_stop_ms < duration_ms (a training and a test "
                f"window); got {self.train_start_ms}, {self.train_stop_ms}, {self.duration_ms}"
            )

    @property
    def loop_backend(self) -> str:
        """The backend the loop runs on: ``"numpy"`` or ``"numba"`` (``"auto"``); the FORCE
        loop has no CUDA version."""
        from spikesub.kernels.backends import resolve_backend

        return resolve_backend(self.backend, supported=("numpy", "numba"))
