"""A spiking reservoir read by a linear readout: the echo-state recipe on spikes.

A signal (``(samples, channels)``, one sample per ``sample_ms``) drives the reservoir through
an input encoder (``W[post, pre]``, ``(neurons, channels)``), held for each sample. The
reservoir's spikes, filtered with ``tau_ms``, are read at the end of each sample window: row
``j`` of the traces is the state after input sample ``j``. With several time constants the
state is the traces of each, side by side (``(samples, n_neurons * len(tau_ms))``, the
neurons' traces of the first time constant first): fast traces say what the reservoir did
last, slow ones what it did over the last samples, and a readout weighs both. A readout
trained on the state
predicts what follows sample ``j`` (for NARMA, ``y[j + 1]``; give targets aligned that way).
``fit`` drops the first ``washout`` samples (the reservoir's transient from its state) and
fits the readout offline; ``predict`` runs on and reads. Every call continues the reservoir
and its traces where the last one ended, so one long signal cut into calls gives the traces
of one call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from spikesub.models.network.inputs import CurrentInput
from spikesub.models.network.reservoir import SpikingReservoir
from spikesub.models.validation import check_int, check_real
from spikesub.readouts import Readout, RidgeReadout

__all__ = ["SpikingReservoirModel", "random_encoder"]


def random_encoder(
    n_neurons: int,
    n_channels: int,
    *,
    scaling: float = 1.0,
    connectivity: float = 1.0,
    seed: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """``(n_neurons, n_channels)`` input weights ``W[post, pre]``: each entry uniform on
    ``[-scaling, scaling]`` and kept with probability ``connectivity`` (ReservoirPy's
    ``input_scaling`` and ``input_connectivity``)."""
    n_neurons = check_int("n_neurons", n_neurons, minimum=1)
    n_channels = check_int("n_channels", n_channels, minimum=1)
    scaling = check_real("scaling", scaling, low=0.0)
    connectivity = check_real("connectivity", connectivity, low=0.0, high=1.0)
    rng = np.random.default_rng(seed)
    weights = rng.uniform(-scaling, scaling, (n_neurons, n_channels))
    return weights * (rng.random((n_neurons, n_channels)) < connectivity)


class SpikingReservoirModel:
    """A reservoir, its input encoder and a readout (see the module docstring).

    Args:
        reservoir: the spiking network (it keeps running from call to call).
        encoder: ``(n_neurons, channels)`` input weights (current per unit of signal).
        sample_ms: the signal's sample period in ms (a whole number of the reservoir's steps).
        tau_ms: time constant of the spike traces the readout reads (> 0), or several, whose
            traces are read side by side.
        readout: a readout over the :attr:`n_features` traces; by default a ridge regression
            (``ridge`` penalty, with intercept) sized at the first :meth:`fit`.
        ridge: the default readout's penalty.
    """

    def __init__(
        self,
        reservoir: SpikingReservoir,
        encoder: Any,
        *,
        sample_ms: float = 1.0,
        tau_ms: float | Sequence[float] = 20.0,
        readout: Readout | None = None,
        ridge: float = 1e-6,
    ) -> None:
        if not isinstance(reservoir, SpikingReservoir):
            raise TypeError(f"reservoir must be a SpikingReservoir; got {type(reservoir).__name__}")
        self.reservoir = reservoir
        encoder = np.asarray(encoder, dtype=np.float64)
        if encoder.ndim != 2 or encoder.shape[0] != reservoir.n_neurons:
            raise ValueError(
                f"encoder must be (n_neurons, channels) = ({reservoir.n_neurons}, K); "
                f"got shape {encoder.shape}"
            )
        self.encoder = encoder
        self.sample_ms = check_real("sample_ms", sample_ms, low=0.0, low_open=True)
        per = self.sample_ms / reservoir.dt_ms
        if not math.isclose(per, round(per), rel_tol=1e-9) or round(per) < 1:
            raise ValueError(
                f"sample_ms must be a whole number of the reservoir's steps of dt_ms = "
                f"{reservoir.dt_ms}; got {sample_ms}"
            )
        self.tau_ms = _time_constants(tau_ms)
        if readout is not None and not isinstance(readout, Readout):
            raise TypeError(f"readout must be a Readout; got {type(readout).__name__}")
        if readout is not None and readout.n_inputs != self.n_features:
            raise ValueError(
                f"readout must read the {reservoir.n_neurons} neurons x {len(self.tau_ms)} time "
                f"constants = {self.n_features} traces; it takes {readout.n_inputs} inputs"
            )
        self.readout = readout
        self.ridge = check_real("ridge", ridge, low=0.0)
        self._trace = np.zeros(self.n_features)

    @property
    def n_channels(self) -> int:
        return int(self.encoder.shape[1])

    @property
    def n_features(self) -> int:
        """Columns of the state: ``n_neurons`` per time constant."""
        return int(self.reservoir.n_neurons * len(self.tau_ms))

    def run(self, signal: Any) -> np.ndarray:
        """Drive the reservoir with ``signal`` ``(samples, channels)`` (or ``(samples,)`` for
        one channel); the traces ``(samples, n_features)``, row ``j`` after sample ``j``."""
        return self._run(self._signal(signal))

    def _run(self, signal: np.ndarray) -> np.ndarray:
        """:meth:`run` on a checked ``(samples, channels)`` signal."""
        samples = signal.shape[0]
        result = self.reservoir.run(
            samples * self.sample_ms,
            current=CurrentInput(signal, self.encoder, sample_ms=self.sample_ms),
            record_state=(),
            progress=False,
        )
        n = self.reservoir.n_neurons
        traces = np.empty((samples, self.n_features))
        steps = np.arange(1, samples + 1)
        for k, tau in enumerate(self.tau_ms):
            block = traces[:, k * n : (k + 1) * n]
            block[:] = result.traces(tau_ms=tau, sample_ms=self.sample_ms)[1]
            # the traces left by the previous call decay on into this one
            decay = math.exp(-self.sample_ms / tau)
            block += np.outer(decay**steps, self._trace[k * n : (k + 1) * n])
        self._trace = traces[-1].copy()
        return traces

    def fit(
        self, signal: Any, targets: Any, *, washout: int = 0, online: bool = False, **options: Any
    ) -> SpikingReservoirModel:
        """Run on ``signal`` and train the readout on the traces and ``targets`` ``(samples,
        outputs)`` (or ``(samples,)``), leaving out the first ``washout`` samples.

        ``online=False`` (default): the readout's ``fit_offline`` (ridge: the least-squares
        solution; FORCE: recursive least squares in one pass; the three-factor rule: its
        passes and consolidation). ``online=True``: its ``fit_online``, learning sample by
        sample as the signal arrives (FORCE's and the three-factor rule's own mode).
        ``options`` go to that method (e.g. the three-factor rule's ``gate`` or ``epochs``).
        Returns ``self``."""
        targets = np.asarray(targets, dtype=np.float64)
        targets = targets[:, None] if targets.ndim == 1 else targets
        signal = self._signal(signal)
        if targets.ndim != 2 or targets.shape[0] != signal.shape[0]:
            raise ValueError(
                f"targets must have one row per signal sample ({signal.shape[0]}); got shape "
                f"{targets.shape}"
            )
        washout = check_int("washout", washout, minimum=0, maximum=signal.shape[0] - 1)
        traces = self._run(signal)
        if self.readout is None:
            self.readout = RidgeReadout(
                self.n_features, targets.shape[1], ridge=self.ridge, fit_intercept=True
            )
        fit = self.readout.fit_online if online else self.readout.fit_offline
        fit(traces[washout:], targets[washout:], **options)
        return self

    def predict(self, signal: Any) -> np.ndarray:
        """Run on ``signal`` and read: ``(samples, outputs)``."""
        if self.readout is None:
            raise ValueError("the readout is not trained: call fit first")
        return self.readout.predict(self.run(signal))

    def _signal(self, signal: Any) -> np.ndarray:
        signal = np.asarray(signal, dtype=np.float64)
        signal = signal[:, None] if signal.ndim == 1 else signal
        if signal.ndim != 2 or signal.shape[1] != self.n_channels or signal.shape[0] < 1:
            raise ValueError(
                f"signal must be (samples >= 1, {self.n_channels}); got shape {signal.shape}"
            )
        if not np.all(np.isfinite(signal)):
            raise ValueError("signal must be finite (no NaN or inf)")
        return signal


def _time_constants(tau_ms: Any) -> tuple[float, ...]:
    """One time constant or several, each checked (> 0), as a tuple."""
    if isinstance(tau_ms, (str, bytes)) or not isinstance(tau_ms, (Sequence, np.ndarray)):
        return (check_real("tau_ms", tau_ms, low=0.0, low_open=True),)
    values = tuple(check_real("tau_ms", tau, low=0.0, low_open=True) for tau in tau_ms)
    if not values:
        raise ValueError("tau_ms must hold at least one time constant")
    return values
