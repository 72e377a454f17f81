"""Inhibitory homeostasis: each neuron tunes its own E/I balance towards a target firing rate.

After Srinivasan, Plenz & Girvan (2025), "Boosting reservoir computing with brain-inspired
adaptive dynamics": every neuron ``i`` scales the inhibitory synaptic input it receives by a
gain ``g_i`` (a presynaptic spike of weight ``w < 0`` delivers ``g_i * w``), and the gain
follows the neuron's firing rate: up when it fires above its target ``r_i*``, down when below,

    tau_ms d(rate_i)/dt = -rate_i + 1000 * sum of delta(t - spike times)   (Hz; unit area)
    dg_i/dt = learning_rate * (rate_i - r_i*) / 1000                      (t in ms)

with ``g_i`` kept in ``[0, gain_max]``. It is local (a neuron needs only its own spikes) and
runs inside the network loops on every backend
(:class:`spikesub.kernels.network_args.Homeostasis`). Targets may differ between neurons
(:func:`lognormal_targets`: the heterogeneous rates the paper finds best).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikesub.kernels.network_args import Homeostasis
from spikesub.models.validation import check_int, check_real

__all__ = ["InhibitoryHomeostasis", "lognormal_targets"]


def lognormal_targets(
    n: int, mean_hz: float, cv: float = 1.0, *, seed: int | np.random.Generator | None = 0
) -> np.ndarray:
    """``(n,)`` heterogeneous target rates in Hz, log-normal with mean ``mean_hz`` and
    coefficient of variation ``cv`` (cortical rates are about log-normal)."""
    n = check_int("n", n, minimum=1)
    mean_hz = check_real("mean_hz", mean_hz, low=0.0, low_open=True)
    cv = check_real("cv", cv, low=0.0)
    sigma2 = math.log1p(cv * cv)
    mu = math.log(mean_hz) - sigma2 / 2
    return np.random.default_rng(seed).lognormal(mu, math.sqrt(sigma2), n)


@dataclass(frozen=True)
class InhibitoryHomeostasis:
    """Settings of the inhibitory homeostasis (see the module docstring).

    Attributes:
        target_rate_hz: target firing rate in Hz, > 0: one for all neurons or ``(N,)``.
        tau_ms: time constant of each neuron's rate estimate, ms (> 0).
        learning_rate: gain change per second and Hz of rate error (>= 0; 0 freezes the gains
            while still scaling by them).
        gain_max: upper bound of the gains (> 0).
        initial_gain: every gain at the start (and after ``reset_state``), in [0, gain_max].
        neurons: which neurons adapt their gain: ``"all"`` (default) or ``"excitatory"``
            (the inhibitory neurons keep ``initial_gain``; their own adaptation can silence
            them and so disinhibit the excitatory ones, the opposite of the intent).
    """

    target_rate_hz: Any = 5.0
    tau_ms: float = 1000.0
    learning_rate: float = 0.01
    gain_max: float = 10.0
    initial_gain: float = 1.0
    neurons: str = "all"

    def __post_init__(self) -> None:
        if self.neurons not in ("all", "excitatory"):
            raise ValueError(f"neurons must be 'all' or 'excitatory'; got {self.neurons!r}")
        target = np.asarray(self.target_rate_hz, dtype=np.float64)
        if target.ndim > 1 or target.size == 0:
            raise ValueError(
                f"target_rate_hz must be a number or a 1-d array; got shape {target.shape}"
            )
        if not np.all(np.isfinite(target) & (target > 0)):
            raise ValueError("target_rate_hz must be finite and > 0")
        check_real("tau_ms", self.tau_ms, low=0.0, low_open=True)
        check_real("learning_rate", self.learning_rate, low=0.0)
        check_real("gain_max", self.gain_max, low=0.0, low_open=True)
        check_real("initial_gain", self.initial_gain, low=0.0, high=self.gain_max)

    def targets(self, n: int) -> np.ndarray:
        """The ``(n,)`` float64 target rates (checked against the network's size)."""
        target = np.asarray(self.target_rate_hz, dtype=np.float64)
        if target.ndim == 1 and target.shape != (n,):
            raise ValueError(
                f"target_rate_hz must be a number or have shape ({n},); got {target.shape}"
            )
        return np.array(np.broadcast_to(target, (n,)), dtype=np.float64)

    def kernel_args(self, n: int, dt_ms: float, excitatory: Any = None) -> Homeostasis:
        """The loops' :class:`Homeostasis` group for ``n`` neurons stepped by ``dt_ms``
        (``excitatory``: the ``(n,)`` mask, needed when only excitatory neurons adapt)."""
        gain_step = np.full(n, self.learning_rate * dt_ms / 1000.0)
        if self.neurons == "excitatory":
            if excitatory is None:
                raise ValueError("neurons='excitatory' needs the network's excitatory mask")
            gain_step[~np.asarray(excitatory, dtype=bool)] = 0.0
        return Homeostasis(
            on=1,
            target_hz=self.targets(n),
            rate_decay=math.exp(-dt_ms / self.tau_ms),
            rate_jump_hz=1000.0 / self.tau_ms,
            gain_step=gain_step,
            gain_max=float(self.gain_max),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able settings (the targets as mean / min / max when they differ)."""
        target = np.asarray(self.target_rate_hz, dtype=np.float64)
        out: dict[str, Any] = {
            "tau_ms": float(self.tau_ms),
            "learning_rate": float(self.learning_rate),
            "gain_max": float(self.gain_max),
            "initial_gain": float(self.initial_gain),
            "neurons": self.neurons,
        }
        if target.ndim == 0:
            out["target_rate_hz"] = float(target)
        else:
            out["target_rate_hz"] = {
                "mean": float(target.mean()),
                "min": float(target.min()),
                "max": float(target.max()),
            }
        return out


def homeostasis_off(n: int) -> Homeostasis:
    """The loops' :class:`Homeostasis` group that does nothing."""
    target = np.zeros(n)
    target.flags.writeable = False
    return Homeostasis(on=0, target_hz=target, rate_decay=1.0, rate_jump_hz=0.0, gain_step=target,
                       gain_max=0.0)  # fmt: skip
