"""External input to a reservoir: currents over time and Poisson spike trains."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikesub.models.network.connectivity import SparseWeights
from spikesub.models.validation import check_choice, check_real


def _finite(name: str, array: np.ndarray) -> None:
    if not np.all(np.isfinite(array)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{name} must be finite; found {array[bad]} at index {bad}")


@dataclass(frozen=True)
class CurrentInput:
    """A low-dimensional input signal projected onto the neurons.

    The current into neuron ``i`` at step ``n`` is ``sum_k encoder[i, k] * s[n, k]``
    (summed over the channels in ascending order): ``encoder @ s[n]``, where ``s[n]`` is the
    signal at step ``n`` of the run.

    Without ``sample_ms`` the signal has one row per step. With it, row ``k`` is the
    signal's value at ``k * sample_ms`` from the run's start, and the run reads it on its own
    step ``dt_ms``: ``interpolation="hold"`` keeps each value for its ``sample_ms`` (which must
    be a whole number of steps), ``"linear"`` interpolates between neighbouring samples. The
    signal must cover the run (``hold``: ``rows * sample_ms >= duration``; ``linear``: its
    last sample at or after the run's last step).

    Attributes:
        signal: ``(rows, channels)`` input.
        encoder: ``(neurons, channels)`` projection weights, ``W[post, pre]`` as every weight
            matrix in spikesub.
        sample_ms: the signal's sample period in ms (None: one row per step).
        interpolation: ``"hold"`` or ``"linear"`` (with ``sample_ms``).
    """

    signal: np.ndarray
    encoder: np.ndarray
    sample_ms: float | None = None
    interpolation: str = "hold"

    def __post_init__(self) -> None:
        signal = np.asarray(self.signal, dtype=np.float64)
        encoder = np.asarray(self.encoder, dtype=np.float64)
        if signal.ndim != 2:
            raise ValueError(f"signal must be 2-D (time, channels); got shape {signal.shape}")
        if encoder.ndim != 2 or encoder.shape[1] != signal.shape[1]:
            hint = (
                " (the (channels, neurons) layout of earlier versions: pass encoder.T)"
                if encoder.ndim == 2 and encoder.shape[0] == signal.shape[1]
                else ""
            )
            raise ValueError(
                f"encoder must be (neurons, channels) with channels = {signal.shape[1]}; "
                f"got shape {encoder.shape}{hint}"
            )
        _finite("signal", signal)
        _finite("encoder", encoder)
        check_choice("interpolation", self.interpolation, ("hold", "linear"))
        if self.sample_ms is not None:
            object.__setattr__(
                self, "sample_ms", check_real("sample_ms", self.sample_ms, low=0.0, low_open=True)
            )
        object.__setattr__(self, "signal", signal)
        object.__setattr__(self, "encoder", encoder)

    def per_step(self, n_steps: int, dt_ms: float) -> np.ndarray:
        """``(n_steps, channels)`` float64: the signal at each step of a run of ``n_steps``
        steps of ``dt_ms``, resampled as the class docstring says.

        Raises:
            ValueError: the signal does not cover the run, or ``hold`` with a ``sample_ms``
                that is not a whole number of steps.
        """
        rows = self.signal.shape[0]
        if self.sample_ms is None:
            if rows != n_steps:
                raise ValueError(
                    f"signal must have one row per step ({n_steps}) when sample_ms is not "
                    f"given; got {rows}"
                )
            return self.signal
        if self.interpolation == "hold":
            return _held("signal", self.signal, self.sample_ms, n_steps, dt_ms)
        times = np.arange(n_steps) * dt_ms
        last = (rows - 1) * self.sample_ms
        if rows < 2 or last < times[-1] - 1e-9 * max(1.0, last):
            raise ValueError(
                f"signal's last sample is at {last:g} ms; linear interpolation needs one at or "
                f"after the run's last step, {times[-1]:g} ms"
            )
        position = np.minimum(times / self.sample_ms, rows - 1)
        left = np.minimum(np.floor(position).astype(np.int64), rows - 2)
        frac = (position - left)[:, None]
        return (1.0 - frac) * self.signal[left] + frac * self.signal[left + 1]


@dataclass(frozen=True)
class PoissonInput:
    """Independent Poisson spike trains delivered through their own synapses.

    Attributes:
        rate_hz: ``(channels,)`` constant rates, or ``(time, channels)``: one row per step, or,
            with ``sample_ms``, one row per sample of that period, each held for its samples
            (a whole number of steps; :func:`rate_code` turns a signal into such rates).
        weights: synapses from the channels to the neurons, a :class:`SparseWeights`
            (``n_pre`` channels, ``n_post`` neurons) or a dense ``(neurons, channels)`` array
            ``W[post, pre]``.
    """

    rate_hz: np.ndarray
    weights: SparseWeights | np.ndarray
    sample_ms: float | None = None

    def __post_init__(self) -> None:
        rate = np.asarray(self.rate_hz, dtype=np.float64)
        if rate.ndim == 1:
            rate = rate[None, :]
        if rate.ndim != 2:
            raise ValueError(f"rate_hz must be (channels,) or (time, channels); got {rate.shape}")
        _finite("rate_hz", rate)
        if np.any(rate < 0):
            raise ValueError(f"rate_hz must be >= 0; got minimum {rate.min()}")
        weights = self.weights
        if not isinstance(weights, SparseWeights):
            dense = np.asarray(weights)
            if dense.ndim != 2:
                raise ValueError(f"weights must be (neurons, channels); got shape {dense.shape}")
            if dense.shape[1] != rate.shape[1]:
                hint = (
                    " (the (channels, neurons) layout of earlier versions: pass weights.T)"
                    if dense.shape[0] == rate.shape[1]
                    else ""
                )
                raise ValueError(
                    f"weights must be (neurons, channels) with one column per channel "
                    f"({rate.shape[1]}); got shape {dense.shape}{hint}"
                )
            weights = SparseWeights.from_dense(dense)
        if weights.n_pre != rate.shape[1]:
            raise ValueError(
                f"weights must come from the {rate.shape[1]} channels; got n_pre = {weights.n_pre}"
            )
        if self.sample_ms is not None:
            object.__setattr__(
                self, "sample_ms", check_real("sample_ms", self.sample_ms, low=0.0, low_open=True)
            )
        object.__setattr__(self, "rate_hz", rate)
        object.__setattr__(self, "weights", weights)

    def per_step(self, n_steps: int, dt_ms: float) -> np.ndarray:
        """The rates on a run's steps: ``(1, channels)`` when constant, else
        ``(n_steps, channels)`` (rows held for ``sample_ms`` when it is given).

        Raises:
            ValueError: rows that do not cover the run, or a ``sample_ms`` that is not a
                whole number of steps.
        """
        rows = self.rate_hz.shape[0]
        if self.sample_ms is None:
            if rows not in (1, n_steps):
                raise ValueError(
                    f"rate_hz must be (channels,) or ({n_steps}, channels); got "
                    f"{self.rate_hz.shape}"
                )
            return self.rate_hz
        return _held("rate_hz", self.rate_hz, self.sample_ms, n_steps, dt_ms)

    @property
    def n_channels(self) -> int:
        return int(self.rate_hz.shape[1])


def _held(name: str, rows: np.ndarray, sample_ms: float, n_steps: int, dt_ms: float):
    """``rows`` (one per ``sample_ms``) held on the ``n_steps`` steps of ``dt_ms``: each row
    repeated for its steps; ``sample_ms`` must be a whole number of steps and the rows must
    cover the run."""
    per = sample_ms / dt_ms
    if not math.isclose(per, round(per), rel_tol=1e-9) or round(per) < 1:
        raise ValueError(
            f"sample_ms must be a whole number of steps of dt_ms = {dt_ms} to hold {name}; "
            f"got {sample_ms}"
        )
    per = int(round(per))
    if rows.shape[0] * per < n_steps:
        raise ValueError(
            f"{name} covers {rows.shape[0] * sample_ms:g} ms; the run needs {n_steps * dt_ms:g} ms"
        )
    return np.repeat(rows, per, axis=0)[:n_steps]


def rate_code(signal: Any, *, low_hz: float = 0.0, high_hz: float = 100.0, span: Any = None):
    """A signal ``(samples, channels)`` (or ``(samples,)``) as Poisson rates: each channel
    mapped linearly from ``span`` = ``(lo, hi)`` (default: the signal's own minimum and
    maximum over all channels) onto ``[low_hz, high_hz]``, values outside the span clipped.
    Returns ``(samples, channels)`` rates in Hz for :class:`PoissonInput`."""
    signal = np.asarray(signal, dtype=np.float64)
    signal = signal[:, None] if signal.ndim == 1 else signal
    if signal.ndim != 2 or signal.size == 0:
        raise ValueError(f"signal must be (samples, channels); got shape {signal.shape}")
    _finite("signal", signal)
    low_hz = check_real("low_hz", low_hz, low=0.0)
    high_hz = check_real("high_hz", high_hz, low=low_hz)
    lo, hi = (signal.min(), signal.max()) if span is None else span
    lo, hi = check_real("span[0]", lo), check_real("span[1]", hi)
    if not hi > lo:
        raise ValueError(f"span must rise: (lo, hi) with hi > lo; got ({lo}, {hi})")
    unit = np.clip((signal - lo) / (hi - lo), 0.0, 1.0)
    return low_hz + unit * (high_hz - low_hz)
