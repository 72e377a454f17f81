"""What a simulation records: spike trains, sampled state variables, population activity."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from spikesub.models.memory import check_allocation
from spikesub.models.validation import check_real, size_in_bytes


@dataclass
class SpikeTrains:
    """Spikes of a population as two aligned arrays.

    Attributes:
        times_ms: ``(n_spikes,)`` float64 spike times in ms, sorted by time, then by index.
        indices: ``(n_spikes,)`` int32 index of the neuron that fired each spike.
        n_neurons: size of the population.
        t_start_ms: start of the recorded window in ms.
        duration_ms: length of the recorded window in ms.
    """

    times_ms: np.ndarray
    indices: np.ndarray
    n_neurons: int
    t_start_ms: float = 0.0
    duration_ms: float = 0.0

    def __len__(self) -> int:
        return int(self.times_ms.shape[0])

    def counts(self) -> np.ndarray:
        """``(n_neurons,)`` int64 spike count of every neuron."""
        return np.bincount(self.indices, minlength=self.n_neurons).astype(np.int64)

    def rates_hz(self) -> np.ndarray:
        """``(n_neurons,)`` float64 mean firing rate of every neuron in Hz."""
        if self.duration_ms <= 0:
            return np.zeros(self.n_neurons)
        return self.counts() / (self.duration_ms / 1000.0)

    def trains(self) -> list[np.ndarray]:
        """Spike times (ms) of each neuron, as a list of ``n_neurons`` arrays."""
        order = np.argsort(self.indices, kind="stable")
        bounds = np.searchsorted(self.indices[order], np.arange(self.n_neurons + 1))
        times = self.times_ms[order]
        return [times[bounds[i] : bounds[i + 1]] for i in range(self.n_neurons)]


@dataclass
class SimulationResult:
    """Everything one call of ``run`` recorded.

    Attributes:
        spikes: spike trains of the whole population (``None`` if not recorded).
        population_counts: ``(steps,)`` int32 number of spikes in each time step.
        state: sampled state variables, name -> ``(samples, n_recorded)`` float array.
        state_times_ms: ``(samples,)`` times of the samples in ms.
        state_indices: ``(n_recorded,)`` neuron indices of the sampled columns.
        excitatory: ``(n_neurons,)`` bool, True for excitatory neurons.
        dt_ms: the time step in ms.
        backend: the backend that ran the simulation.
        wall_time_s: wall-clock time of the run in seconds (compilation included on first use).
        t_start_ms: biological time at the start of the run, in ms.
    """

    spikes: SpikeTrains | None
    population_counts: np.ndarray
    excitatory: np.ndarray
    dt_ms: float
    backend: str
    state: dict[str, np.ndarray] = field(default_factory=dict)
    state_times_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    state_indices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    wall_time_s: float = 0.0
    t_start_ms: float = 0.0

    @property
    def n_neurons(self) -> int:
        return int(self.excitatory.shape[0])

    @property
    def duration_ms(self) -> float:
        return float(self.population_counts.shape[0] * self.dt_ms)

    def population_rate_hz(self, bin_ms: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Population rate in Hz per neuron, in bins of ``bin_ms``.

        Returns:
            ``(bin_start_ms, rate_hz)``, both ``(n_bins,)``; a last partial bin is dropped.
        """
        if bin_ms <= 0:
            raise ValueError(f"bin_ms must be > 0; got {bin_ms}")
        per_bin = max(1, int(round(bin_ms / self.dt_ms)))
        n_bins = self.population_counts.shape[0] // per_bin
        counts = self.population_counts[: n_bins * per_bin].reshape(n_bins, per_bin).sum(axis=1)
        width_s = per_bin * self.dt_ms / 1000.0
        starts = self.t_start_ms + np.arange(n_bins) * per_bin * self.dt_ms
        return starts, counts / (self.n_neurons * width_s)

    def traces(
        self, tau_ms: float, sample_ms: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exponentially filtered spike trains, the reservoir's state as readouts read it.

        Each spike adds 1 to its neuron's trace, which decays with ``tau_ms``:
        ``trace_i(t) = sum over spikes s <= t of neuron i of exp(-(t - s) / tau_ms)``. The
        run is cut into windows of ``sample_ms`` (a whole number of steps; default one step)
        and the traces are sampled at the end of each window, so sample ``j`` holds the
        spikes of the first ``j + 1`` windows; a last partial window is dropped.

        Returns:
            ``(times_ms, traces)``: ``(samples,)`` the sample times (ms, absolute, the end of
            each window) and ``(samples, n_neurons)`` float64 traces.

        Raises:
            ValueError: spikes were not recorded, ``tau_ms`` or ``sample_ms`` not positive,
                ``sample_ms`` not a whole number of steps, or the traces over the memory
                budget.
        """
        tau_ms = check_real("tau_ms", tau_ms, low=0.0, low_open=True)
        sample_ms = self.dt_ms if sample_ms is None else sample_ms
        sample_ms = check_real("sample_ms", sample_ms, low=0.0, low_open=True)
        if self.spikes is None:
            raise ValueError("traces need the spikes: run with record_spikes=True")
        per = sample_ms / self.dt_ms
        if not math.isclose(per, round(per), rel_tol=1e-9) or round(per) < 1:
            raise ValueError(
                f"sample_ms must be a whole number of steps of dt_ms = {self.dt_ms}; "
                f"got {sample_ms}"
            )
        per = int(round(per))
        n_samples = self.population_counts.shape[0] // per
        check_allocation(
            f"traces of {self.n_neurons:,} neurons x {n_samples:,} samples",
            size_in_bytes(8, n_samples, self.n_neurons),
        )
        steps = np.rint((self.spikes.times_ms - self.t_start_ms) / self.dt_ms).astype(np.int64)
        window = steps // per
        keep = window < n_samples
        steps, window, neurons = steps[keep], window[keep], self.spikes.indices[keep]
        age_ms = ((window + 1) * per - steps) * self.dt_ms  # from the spike to its sample
        traces = np.zeros((n_samples, self.n_neurons))
        np.add.at(traces, (window, neurons), np.exp(-age_ms / tau_ms))
        decay = math.exp(-per * self.dt_ms / tau_ms)
        for j in range(1, n_samples):
            traces[j] += decay * traces[j - 1]
        times_ms = self.t_start_ms + (np.arange(n_samples) + 1) * per * self.dt_ms
        return times_ms, traces
