"""The target sine and the measures of a FORCE run's readout against it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["measure", "oscillation_frequency_hz", "relative_rmse", "sine_target"]


def sine_target(
    n_steps: int, dt_ms: float, frequency_hz: float, amplitude: float = 1.0
) -> np.ndarray:
    """``amplitude * sin(2 pi f t)`` at the end of each step ``g``, ``t = (g + 1) dt``.

    Returns:
        ``(n_steps, 1)`` float64.
    """
    t_ms = (np.arange(n_steps, dtype=np.float64) + 1.0) * dt_ms
    return (amplitude * np.sin(2.0 * np.pi * frequency_hz * t_ms / 1000.0))[:, None]


def relative_rmse(z: np.ndarray, target: np.ndarray) -> float:
    """``||z - target|| / ||target||`` over all entries (``inf`` when the target is 0)."""
    norm = float(np.linalg.norm(target))
    return float(np.linalg.norm(z - target)) / norm if norm > 0.0 else math.inf


def oscillation_frequency_hz(x: np.ndarray, dt_ms: float) -> float:
    """Mean frequency of a signal from its upward crossings of its own mean (``nan`` if < 2).

    Args:
        x: ``(n_steps,)`` samples, ``dt_ms`` apart.
    """
    x = np.asarray(x, dtype=np.float64) - float(np.mean(x))
    up = np.flatnonzero((x[:-1] < 0.0) & (x[1:] >= 0.0))
    if up.size < 2:
        return math.nan
    # linear interpolation of the crossing inside its step
    t = (up + x[up] / (x[up] - x[up + 1])) * dt_ms
    return 1000.0 * (up.size - 1) / (t[-1] - t[0])


def measure(
    z: np.ndarray,
    target: np.ndarray,
    counts: np.ndarray,
    *,
    train_start: int,
    train_stop: int,
    n_neurons: int,
    dt_ms: float,
    duration_ms: float,
) -> dict[str, Any]:
    """How well the readout follows the target, and how much the network fires.

    Args:
        z: the readout of every step, ``(n_steps, 1)``.
        target: the target of every step, ``(n_steps, 1)``.
        counts: spikes of the whole network per step, ``(n_steps,)``.
        train_start, train_stop: the training window ``[train_start, train_stop)``, in steps;
            the test runs from ``train_stop`` to the end.
        n_neurons: size of the network.
        dt_ms: the step, ms.
        duration_ms: the simulated time, ms.

    Returns:
        ``test_rel_rmse`` (``||z - target|| / ||target||`` over the test window),
        ``test_rel_rmse_first_s`` (over its first second), ``test_rmse``, ``train_rmse`` and
        ``train_rel_rmse`` (over the last second of training), ``test_frequency_hz`` and
        ``test_amplitude`` (of the free-running output), ``pre_train_rel_rmse`` (before
        training), ``mean_rate_hz`` and ``test_rate_hz`` (spikes per neuron and second).
    """
    n_steps = z.shape[0]
    one_second = int(round(1000.0 / dt_ms))
    test = slice(train_stop, n_steps)
    first_test = slice(train_stop, min(n_steps, train_stop + one_second))
    last_train = slice(max(train_start, train_stop - one_second), train_stop)
    before = slice(0, train_start)
    err_train = z[last_train] - target[last_train]
    neuron_s_test = n_neurons * (n_steps - train_stop) * dt_ms / 1000.0
    return {
        "test_rel_rmse": relative_rmse(z[test], target[test]),
        "test_rmse": float(np.sqrt(np.mean((z[test] - target[test]) ** 2))),
        "train_rmse": float(np.sqrt(np.mean(err_train**2))),
        "train_rel_rmse": relative_rmse(z[last_train], target[last_train]),
        "test_rel_rmse_first_s": relative_rmse(z[first_test], target[first_test]),
        "test_frequency_hz": oscillation_frequency_hz(z[test, 0], dt_ms),
        "test_amplitude": float(np.sqrt(2.0) * np.std(z[test, 0])),
        "pre_train_rel_rmse": relative_rmse(z[before], target[before]),
        "mean_rate_hz": float(counts.sum()) / (n_neurons * duration_ms / 1000.0),
        "test_rate_hz": float(counts[test].sum()) / neuron_s_test,
    }
