"""External input to a reservoir: currents over time and Poisson spike trains."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikesub.models.network.connectivity import SparseWeights


def _finite(name: str, array: np.ndarray) -> None:
    if not np.all(np.isfinite(array)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{name} must be finite; found {array[bad]} at index {bad}")


@dataclass(frozen=True)
class CurrentInput:
    """A low-dimensional input signal projected onto the neurons.

    The current into neuron ``i`` at step ``n`` is ``sum_k encoder[i, k] * signal[n, k]``
    (summed over the channels in ascending order): ``encoder @ signal[n]``.

    Attributes:
        signal: ``(time, channels)`` input, one row per time step of the run.
        encoder: ``(neurons, channels)`` projection weights, ``W[post, pre]`` as every weight
            matrix in spikesub.
    """

    signal: np.ndarray
    encoder: np.ndarray

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
        object.__setattr__(self, "signal", signal)
        object.__setattr__(self, "encoder", encoder)


@dataclass(frozen=True)
class PoissonInput:
    """Independent Poisson spike trains delivered through their own synapses.

    Attributes:
        rate_hz: ``(channels,)`` constant rates, or ``(time, channels)`` one row per step.
        weights: synapses from the channels to the neurons, a :class:`SparseWeights`
            (``n_pre`` channels, ``n_post`` neurons) or a dense ``(neurons, channels)`` array
            ``W[post, pre]``.
    """

    rate_hz: np.ndarray
    weights: SparseWeights | np.ndarray

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
        object.__setattr__(self, "rate_hz", rate)
        object.__setattr__(self, "weights", weights)

    @property
    def n_channels(self) -> int:
        return int(self.rate_hz.shape[1])
