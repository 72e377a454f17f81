"""Running the simulation job: build the network, run it in checkpointed segments, write."""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np
from tqdm.auto import tqdm

from spikesub.analysis import spike_metrics
from spikesub.models.errors import RunFolderError
from spikesub.models.memory import check_allocation
from spikesub.models.network.monitors import SimulationResult, SpikeTrains
from spikesub.models.network.reservoir import MAX_STEPS, IzhikevichReservoir
from spikesub.runs import (
    RunInterrupted,
    config_fingerprint,
    load_run_checkpoint,
    prepare_run_dir,
    run_config_document,
    run_is_complete,
    save_spikes,
    write_json,
    write_npz,
)
from spikesub.simulate.config import SimulationConfig

JOB = SimulationConfig.job


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


CHECKPOINT = "checkpoint.npz"
SEGMENT_WALL_S = 1.0  # wall time aimed at per segment: how often progress and Ctrl-C are seen
CHECKPOINT_EVERY_S = 30.0  # wall time between checkpoints (and at every interruption)


def run(
    config: SimulationConfig,
    out: str | Path | None = None,
    *,
    progress: bool | None = None,
    resume: bool = False,
    checkpoint_every_s: float = CHECKPOINT_EVERY_S,
) -> Path:
    """Run the network of ``config`` and write a run folder; returns the folder.

    The folder gets ``config.json`` (the configuration, its fingerprint and the network it
    built), ``spikes.npz`` (spike times and indices), ``state.npz`` (membrane potential of a
    few neurons), ``metrics.json`` (rates, CV of inter-spike intervals, synchrony, timing),
    ``raster.png`` and ``membrane.png``. Every file is written atomically.

    The simulation runs in segments; every ``checkpoint_every_s`` seconds of wall time, and
    when it is interrupted (Ctrl-C), the state reached so far goes to ``checkpoint.npz``, so
    that ``resume=True`` continues from there. The network's noise comes from a counter-based
    generator, so a resumed run gives the same spikes, bit for bit, as an uninterrupted one.

    Args:
        config: what to simulate.
        out: the run folder (default ``runs/simulate-<time>``). A folder that holds another
            job's run, or a simulation with other settings, is refused.
        progress: show a progress bar (default: when stderr is a terminal).
        resume: continue the run in ``out`` (same settings) from its last checkpoint.
        checkpoint_every_s: seconds of wall time between checkpoints (> 0).

    Returns:
        the run folder; its ``metrics.json`` holds the measures.

    Raises:
        RunFolderError: ``out`` cannot take this run, or the checkpoint belongs to another.
        RunInterrupted: (a KeyboardInterrupt) after an interrupted run's checkpoint is written.
    """
    from spikesub.simulate.figures import plot  # matplotlib is only needed here

    if not (isinstance(checkpoint_every_s, (int, float)) and checkpoint_every_s > 0):
        raise ValueError(
            f"checkpoint_every_s must be a number of seconds > 0; got {checkpoint_every_s!r}"
        )
    settings = config.to_dict()
    n_steps = check_run_size(config)
    run_dir = prepare_run_dir(out, job=JOB, config=settings, resume=resume)
    if resume and run_is_complete(run_dir, CHECKPOINT):
        return run_dir
    started = time.perf_counter()
    reservoir = build_reservoir(config)
    build_s = time.perf_counter() - started
    fingerprint = config_fingerprint(JOB, settings)
    _write_config(run_dir, settings, reservoir)
    traces = _trace_neurons(reservoir, config.n_traces)
    recording = _Recording.start(run_dir, reservoir, traces, fingerprint, resume=resume)
    _run_segments(reservoir, recording, n_steps, progress, checkpoint_every_s)
    _write_results(run_dir, config, reservoir, recording, traces, n_steps, build_s)
    (run_dir / CHECKPOINT).unlink(missing_ok=True)
    plot(run_dir)
    return run_dir


def _write_config(run_dir: Path, settings: dict[str, Any], reservoir: IzhikevichReservoir) -> None:
    """``config.json``: the settings, the network as built, and the versions that ran it."""
    write_json(
        run_dir / "config.json",
        run_config_document(
            JOB,
            settings,
            network=reservoir.config(),
            versions={
                "python": platform.python_version(),
                "numpy": np.__version__,
                "numba": numba.__version__,
            },
        ),
    )


def _write_results(
    run_dir: Path, config: SimulationConfig, reservoir: IzhikevichReservoir, recording,
    traces: np.ndarray, n_steps: int, build_s: float,
) -> None:  # fmt: skip
    """``spikes.npz``, ``state.npz`` (when neurons are traced) and ``metrics.json`` (the
    spike statistics and what the run cost)."""
    spikes = recording.spike_trains(reservoir.n_neurons, config.dt_ms, n_steps)
    save_spikes(run_dir / "spikes.npz", spikes, excitatory=reservoir.population.excitatory)
    if traces.size:
        write_npz(
            run_dir / "state.npz",
            times_ms=recording.state_times_ms(config.dt_ms),
            indices=traces,
            v=recording.v(),
            v_peak=np.float64(reservoir.population.v_peak),
        )
    metrics = spike_metrics(
        spikes.times_ms,
        spikes.indices,
        reservoir.n_neurons,
        spikes.duration_ms,
        excitatory=np.asarray(reservoir.population.excitatory, dtype=bool),
        t_start_ms=spikes.t_start_ms,
    )
    metrics.update(
        {
            "build_s": build_s,
            "wall_time_s": recording.wall_s,
            "real_time_factor": recording.wall_s / (spikes.duration_ms / 1000.0),
            "backend": reservoir.backend,
            "n_threads": reservoir.n_threads,
            "n_neurons": reservoir.n_neurons,
            "n_synapses": int(reservoir.weights.nnz),
            "duration_ms": spikes.duration_ms,
            "resumed": recording.resumed,
            "status": "complete",
        }
    )
    write_json(run_dir / "metrics.json", metrics)


ASSUMED_RATE_HZ = 20.0
"""Mean rate assumed when the memory of the recorded spikes is estimated (the Izhikevich
2003 network fires at about 8-10 Hz; a spike costs 12 bytes: its step and its neuron)."""


def check_run_size(config: SimulationConfig) -> int:
    """The run's step count, once its recording is known to fit the memory budget.

    Raises:
        ValueError: more steps than a run can count.
        MemoryBudgetError: the recorded membrane potentials (``steps x traces``, float32) and
            spikes (at :data:`ASSUMED_RATE_HZ`) would exceed the budget.
    """
    steps = config.duration_ms / config.dt_ms
    if not steps < MAX_STEPS:
        raise ValueError(
            f"duration_ms / dt_ms = {steps:.3g} steps is more than a run can count "
            f"({MAX_STEPS:.0e}); got duration_ms = {config.duration_ms}, dt_ms = {config.dt_ms}"
        )
    n_steps = max(1, int(round(steps)))
    traces = min(config.n_traces, config.n_neurons)
    spikes = config.n_neurons * ASSUMED_RATE_HZ * config.duration_ms / 1000.0
    check_allocation(
        f"the recording of {n_steps:,} steps (duration_ms = {config.duration_ms:g}, dt_ms = "
        f"{config.dt_ms:g}): membrane traces of {traces} neurons and spikes at about "
        f"{ASSUMED_RATE_HZ:g} Hz",
        4.0 * n_steps * traces + 12.0 * spikes,
    )
    return n_steps


def _run_segments(
    reservoir: IzhikevichReservoir,
    recording: _Recording,
    n_steps: int,
    progress: bool | None,
    checkpoint_every_s: float,
) -> None:
    """Advance ``reservoir`` to ``n_steps`` in segments of about :data:`SEGMENT_WALL_S`,
    recording each and checkpointing every ``checkpoint_every_s`` and on Ctrl-C."""
    show = progress if progress is not None else sys.stderr.isatty()
    segment = max(1, min(n_steps, int(round(100.0 / reservoir.dt_ms))))
    last_checkpoint = time.perf_counter()
    with tqdm(
        total=n_steps, initial=recording.step, disable=not show, unit="step",
        desc=f"simulate ({reservoir.backend})",
    ) as bar:  # fmt: skip
        while recording.step < n_steps:
            count = min(segment, n_steps - recording.step)
            try:
                result = reservoir.run(
                    count * reservoir.dt_ms,
                    record_state=("v",) if recording.traces.size else (),
                    record_indices=recording.traces if recording.traces.size else None,
                    progress=False,
                )
            except KeyboardInterrupt:
                recording.write_checkpoint()
                raise RunInterrupted(recording.path.parent) from None
            recording.add(result, reservoir)
            bar.update(count)
            segment = _next_segment(segment, result.wall_time_s)
            due = time.perf_counter() - last_checkpoint >= checkpoint_every_s
            if due and recording.step < n_steps:
                recording.write_checkpoint()
                last_checkpoint = time.perf_counter()


def _next_segment(segment: int, wall_s: float) -> int:
    """Steps for the next segment, so that it takes about :data:`SEGMENT_WALL_S`."""
    if wall_s <= 0:
        return segment * 2
    scaled = int(segment * SEGMENT_WALL_S / wall_s)
    return max(1, min(segment * 4, max(segment // 4, scaled)))


class _Recording:
    """What a simulation has recorded so far, with the reservoir state at its last segment's
    end, and the checkpoint that holds both."""

    def __init__(self, run_dir: Path, traces: np.ndarray, fingerprint: str) -> None:
        self.path = run_dir / CHECKPOINT
        self.traces = traces
        self.fingerprint = fingerprint
        self.step = 0
        self.wall_s = 0.0
        self.resumed = False
        self._spike_steps: list[np.ndarray] = []
        self._spike_idx: list[np.ndarray] = []
        self._v: list[np.ndarray] = []
        self._state: dict[str, np.ndarray] | None = None

    @classmethod
    def start(
        cls,
        run_dir: Path,
        reservoir: IzhikevichReservoir,
        traces: np.ndarray,
        fingerprint: str,
        *,
        resume: bool,
    ) -> _Recording:
        """A new recording, or the one in the folder's checkpoint when resuming."""
        recording = cls(run_dir, traces, fingerprint)
        if resume and recording.path.exists():
            recording._load(reservoir)
        else:
            recording._state = reservoir.state_dict()
        return recording

    def _load(self, reservoir: IzhikevichReservoir) -> None:
        data = load_run_checkpoint(self.path, self.fingerprint)
        state = {k[len("state__") :]: v for k, v in data.items() if k.startswith("state__")}
        try:
            reservoir.load_state_dict(state)
        except ValueError as error:
            raise RunFolderError(f"{self.path} does not fit this network: {error}") from error
        self._state = reservoir.state_dict()
        self.step = int(data["step"])
        self.wall_s = float(data["wall_s"])
        self._spike_steps = [data["spike_steps"].astype(np.int64)]
        self._spike_idx = [data["spike_indices"].astype(np.int32)]
        self._v = [data["v"]] if self.traces.size else []
        self.resumed = True

    def add(self, result: SimulationResult, reservoir: IzhikevichReservoir) -> None:
        """Append a segment's result; the reservoir's state is kept for the checkpoint."""
        spikes = result.spikes
        steps = np.rint(spikes.times_ms / result.dt_ms).astype(np.int64)
        self._spike_steps.append(steps)
        self._spike_idx.append(spikes.indices.astype(np.int32))
        if self.traces.size:
            self._v.append(result.state["v"])
        self.step += result.population_counts.size
        self.wall_s += result.wall_time_s
        self._state = reservoir.state_dict()

    def write_checkpoint(self) -> None:
        """Save the recording and the state at the end of the last finished segment."""
        assert self._state is not None
        arrays = {f"state__{k}": v for k, v in self._state.items()}
        write_npz(
            self.path,
            fingerprint=np.asarray(self.fingerprint),
            step=np.asarray(self.step, np.int64),
            wall_s=np.asarray(self.wall_s),
            spike_steps=self._steps(),
            spike_indices=self._indices(),
            v=self.v(),
            **arrays,
        )

    def _steps(self) -> np.ndarray:
        return np.concatenate(self._spike_steps) if self._spike_steps else np.zeros(0, np.int64)

    def _indices(self) -> np.ndarray:
        return np.concatenate(self._spike_idx) if self._spike_idx else np.zeros(0, np.int32)

    def v(self) -> np.ndarray:
        """Recorded membrane potentials ``(steps, traces)``."""
        if not self._v:
            return np.zeros((0, self.traces.size), np.float32)
        return np.concatenate(self._v)

    def state_times_ms(self, dt_ms: float) -> np.ndarray:
        return np.arange(self.v().shape[0]) * dt_ms

    def spike_trains(self, n_neurons: int, dt_ms: float, n_steps: int) -> SpikeTrains:
        return SpikeTrains(
            times_ms=self._steps() * dt_ms,
            indices=self._indices(),
            n_neurons=n_neurons,
            t_start_ms=0.0,
            duration_ms=n_steps * dt_ms,
        )


def _trace_neurons(reservoir: IzhikevichReservoir, n_traces: int) -> np.ndarray:
    """A few neurons to record, half excitatory and half inhibitory where both exist."""
    if n_traces == 0:
        return np.zeros(0, np.int64)
    exc = np.flatnonzero(reservoir.population.excitatory)
    inh = np.flatnonzero(~reservoir.population.excitatory)
    n_inh = min(len(inh), n_traces // 2)
    n_exc = min(len(exc), n_traces - n_inh)
    return np.concatenate([exc[:n_exc], inh[:n_inh]]).astype(np.int64)
