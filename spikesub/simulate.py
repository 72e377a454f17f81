"""The reservoir simulation job: build a network, run it, write a run folder."""

from __future__ import annotations

import math
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np

from spikesub.analysis import spike_metrics
from spikesub.kernels.backends import BACKEND_CHOICES
from spikesub.models.monitors import SimulationResult
from spikesub.models.reservoir import IzhikevichReservoir
from spikesub.runs import make_run_dir, save_spikes, write_json, write_npz


@dataclass(frozen=True)
class SimulationConfig:
    """What ``spikesub simulate`` runs: the Izhikevich (2003) network at any size.

    Attributes:
        n_exc: excitatory neurons (regular spiking to chattering, heterogeneous).
        n_inh: inhibitory neurons (fast spiking to low-threshold spiking).
        p: connection probability; ``None`` means all-to-all for N <= 1000, else 0.1.
        in_degree: fixed number of presynaptic partners per neuron (overrides ``p``).
        duration_ms: biological time to simulate, in ms.
        dt_ms: time step in ms.
        noise_std_exc, noise_std_inh: thalamic noise (std, held for 1 ms).
        backend: ``"auto"``, ``"numpy"``, ``"numba"`` or ``"cuda"``.
        dtype: ``"float32"`` or ``"float64"`` state.
        seed: seed of the network, its parameters and its noise.
        n_traces: how many neurons' membrane potentials to record for the trace plot.
    """

    n_exc: int = 800
    n_inh: int = 200
    p: float | None = None
    in_degree: int | None = None
    duration_ms: float = 1000.0
    dt_ms: float = 0.1
    noise_std_exc: float = 5.0
    noise_std_inh: float = 2.0
    backend: str = "auto"
    dtype: str = "float32"
    seed: int = 0
    n_traces: int = 4

    def __post_init__(self) -> None:
        for name in ("n_exc", "n_inh", "n_traces"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0; got {value!r}")
        if self.n_exc + self.n_inh < 1:
            raise ValueError("n_exc + n_inh must be at least 1")
        if self.p is not None and not (0.0 <= self.p <= 1.0):
            raise ValueError(f"p must be in [0, 1]; got {self.p}")
        if self.in_degree is not None and not (0 <= self.in_degree <= self.n_exc + self.n_inh):
            raise ValueError(
                f"in_degree must be in [0, {self.n_exc + self.n_inh}]; got {self.in_degree}"
            )
        for name in ("duration_ms", "dt_ms"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
        for name in ("noise_std_exc", "noise_std_inh"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0; got {self.seed!r}")
        if self.backend not in BACKEND_CHOICES:
            raise ValueError(f"backend must be one of {BACKEND_CHOICES}; got {self.backend!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64'; got {self.dtype!r}")

    @property
    def n_neurons(self) -> int:
        return self.n_exc + self.n_inh

    @property
    def connection_probability(self) -> float | None:
        if self.in_degree is not None:
            return None
        if self.p is not None:
            return self.p
        return 1.0 if self.n_neurons <= 1000 else 0.1


def build_reservoir(config: SimulationConfig) -> IzhikevichReservoir:
    """The network that ``config`` describes."""
    return IzhikevichReservoir.izhikevich_2003(
        config.n_exc,
        config.n_inh,
        p=config.connection_probability,
        in_degree=config.in_degree,
        dt_ms=config.dt_ms,
        noise_std_exc=config.noise_std_exc,
        noise_std_inh=config.noise_std_inh,
        backend=config.backend,
        dtype=np.dtype(config.dtype),
        seed=config.seed,
    )


def simulate(
    config: SimulationConfig, out: str | Path | None = None, *, progress: bool | None = None
) -> tuple[Path, dict[str, Any]]:
    """Run the network of ``config`` and write a run folder.

    The folder gets ``config.json`` (the configuration and the network it built),
    ``spikes.npz`` (spike times and indices), ``state.npz`` (membrane potential of a few
    neurons), ``metrics.json`` (rates, CV of inter-spike intervals, synchrony, timing),
    ``raster.png`` and ``membrane.png``. Every file is written atomically.

    Returns:
        ``(run_dir, metrics)``.
    """
    from spikesub.plot import plot_run  # matplotlib is only needed here

    run_dir = make_run_dir(out, prefix="simulate")
    started = time.perf_counter()
    reservoir = build_reservoir(config)
    build_s = time.perf_counter() - started
    write_json(
        run_dir / "config.json",
        {
            "job": "simulate",
            "config": asdict(config),
            "network": reservoir.config(),
            "versions": {
                "python": platform.python_version(),
                "numpy": np.__version__,
                "numba": numba.__version__,
            },
        },
    )
    n = reservoir.n_neurons
    traces = _trace_neurons(reservoir, config.n_traces)
    result = reservoir.run(
        config.duration_ms,
        record_state=("v",) if traces.size else (),
        record_indices=traces if traces.size else None,
        progress=progress,
    )
    save_spikes(run_dir / "spikes.npz", result.spikes, excitatory=result.excitatory)
    if traces.size:
        write_npz(
            run_dir / "state.npz",
            times_ms=result.state_times_ms,
            indices=result.state_indices,
            v=result.state["v"],
            v_peak=np.float64(reservoir.population.v_peak),
        )
    metrics = _metrics(result, n)
    metrics.update(
        {
            "build_s": build_s,
            "wall_time_s": result.wall_time_s,
            "real_time_factor": result.wall_time_s / (result.duration_ms / 1000.0),
            "backend": result.backend,
            "n_neurons": n,
            "n_synapses": int(reservoir.weights.nnz),
            "duration_ms": result.duration_ms,
        }
    )
    write_json(run_dir / "metrics.json", metrics)
    plot_run(run_dir)
    return run_dir, metrics


def _trace_neurons(reservoir: IzhikevichReservoir, n_traces: int) -> np.ndarray:
    """A few neurons to record, half excitatory and half inhibitory where both exist."""
    if n_traces == 0:
        return np.zeros(0, np.int64)
    exc = np.flatnonzero(reservoir.population.excitatory)
    inh = np.flatnonzero(~reservoir.population.excitatory)
    n_inh = min(len(inh), n_traces // 2)
    n_exc = min(len(exc), n_traces - n_inh)
    return np.concatenate([exc[:n_exc], inh[:n_inh]]).astype(np.int64)


def _metrics(result: SimulationResult, n: int) -> dict[str, Any]:
    spikes = result.spikes
    return spike_metrics(
        spikes.times_ms,
        spikes.indices,
        n,
        spikes.duration_ms,
        excitatory=result.excitatory,
        t_start_ms=spikes.t_start_ms,
    )
