"""Running the FORCE sine job: build the network, run the closed loop, measure, write.

A network of ``N`` Izhikevich (2007) neurons with static random weights, double-exponential
synapses and a linear readout ``z = phi r`` whose output is fed back into every neuron
(``encoder z``) runs for ``duration_ms``. During the training window the decoder ``phi`` is
learned by recursive least squares every ``update_every`` steps (FORCE); after it, the network
runs on its own and the readout is compared with the target in the test window.

Defaults (Nicola & Clopath 2017; step order of their MATLAB code, see
:mod:`spikesub.kernels.force_loop`):

* neurons: ``C = 250`` pF, ``k = 2.5`` nS/mV, ``v_r = -60`` mV, ``v_t = -40`` mV, ``b = 0``,
  ``a = 0.01``/ms, ``d = 200`` pA, ``v_peak = 30`` mV, ``v_reset = -65`` mV, bias 1000 pA,
  forward Euler with ``dt = 0.04`` ms, initial ``v = v_r + (v_peak - v_r) U(0, 1)``, ``u = 0``;
* static weights ``G N(0, 1) [U < p] / (sqrt(N) p)`` with ``G = 5000`` pA, ``p = 0.1``, the
  mean of each neuron's nonzero input weights removed (``balance_rows``);
* feedback encoder ``Q (2 U(0, 1) - 1)``, ``Q = 5000`` pA; decoder starting at 0;
* synapses and readout rates filtered with ``tau_rise = 2`` ms, ``tau_decay = 20`` ms;
* RLS (:mod:`spikesub.kernels.plasticity`) with ``P(0) = I / alpha``, ``alpha = 0.5``, every
  20 steps in ``[5 s, 10 s)``; 15 s in all; target ``sin(2 pi 5 t)``.

The authors' MATLAB script for this figure (IZFORCESINE) differs in three places:
``b = -2`` nS, ``v_t = v_r + 40 - b / k = -19.2`` mV (which puts the 1000 pA bias at the
rheobase) and no row balancing; :data:`~spikesub.force_sine.config.MATLAB_NEURONS` holds those
settings. Its RLS step also moves the decoder along ``P_old r`` where the toolkit's RLS uses
``P_new r``.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from tqdm.auto import tqdm

from spikesub.force_sine.config import ForceSineConfig
from spikesub.force_sine.measures import measure, sine_target
from spikesub.force_sine.network import ForceNetwork, build_network, neuron_settings
from spikesub.kernels.force_loop import STATUS_OK, force_loop_numba, force_loop_numpy
from spikesub.kernels.force_loop_args import ForceLearning, ForceRecord, ForceSynapse
from spikesub.models.errors import NonFiniteStateError
from spikesub.models.memory import check_allocation
from spikesub.runs import prepare_run_dir, run_config_document, write_json, write_npz

__all__ = ["ARRAYS_NAME", "JOB", "LoopResult", "Steps", "run", "run_loop", "steps_of"]

JOB = ForceSineConfig.job
ARRAYS_NAME = "force_sine.npz"

N_RASTER = 20  # neurons whose spikes are recorded for the raster
N_VOLTAGE = 5  # neurons whose membrane potential is recorded
SAMPLE_MS = 1.0  # sampling interval of the recorded potentials and decoder norm, ms
CHUNK_MS = 100.0  # simulated time per call of the compiled loop, ms


def run(
    config: ForceSineConfig, out: str | Path | None = None, *, progress: bool | None = None
) -> Path:
    """Train the network of ``config`` on its sine with FORCE and write a run folder.

    The folder gets ``config.json`` (the settings, their fingerprint and the neuron
    parameters), ``metrics.json`` (see :func:`spikesub.force_sine.measures.measure`, plus the
    final decoder norm, the number of RLS updates and the timing) and ``force_sine.npz`` (see
    :func:`write_arrays`). Every file is written atomically. Figures are drawn from the folder
    by :func:`spikesub.force_sine.figures.plot`.

    Args:
        config: what to run.
        out: the run folder (default ``runs/force-sine-<time>``). A folder that holds another
            job's run, or a FORCE sine run with other settings, is refused.
        progress: show a progress bar over the simulated time (default: when stderr is a
            terminal).

    Returns:
        the run folder (:class:`pathlib.Path`).

    Raises:
        RunFolderError: ``out`` cannot take this run.
        MemoryBudgetError: the network or its recording would exceed the memory budget.
        NonFiniteStateError: the network's state became non-finite (names step and neuron).
    """
    steps = steps_of(config)
    check_run_size(config, steps)
    run_dir = prepare_run_dir(out, job=JOB, config=config.to_dict(), prefix="force-sine")
    network = build_network(config)
    write_config(run_dir, config, steps)
    result = run_loop(config, network, steps, progress=progress)
    write_metrics(run_dir, config, steps, result)
    write_arrays(run_dir, config, steps, network, result)
    return run_dir


class Steps(NamedTuple):
    """A run's schedule in steps of ``dt_ms``.

    Attributes:
        total: steps of the run.
        train_start, train_stop: the training window ``[train_start, train_stop)``.
        sample_every: steps between samples of the potentials and the decoder norm.
        chunk: steps per call of the compiled loop (a multiple of ``sample_every``).
    """

    total: int
    train_start: int
    train_stop: int
    sample_every: int
    chunk: int

    @property
    def n_samples(self) -> int:
        return self.total // self.sample_every


def steps_of(config: ForceSineConfig) -> Steps:
    """The schedule of ``config`` in steps."""
    dt = config.dt_ms
    sample_every = max(1, int(round(SAMPLE_MS / dt)))
    return Steps(
        total=int(round(config.duration_ms / dt)),
        train_start=int(round(config.train_start_ms / dt)),
        train_stop=int(round(config.train_stop_ms / dt)),
        sample_every=sample_every,
        chunk=sample_every * max(1, int(round(CHUNK_MS / (sample_every * dt)))),
    )


def check_run_size(config: ForceSineConfig, steps: Steps) -> None:
    """Refuse a run whose network or recording would exceed the memory budget.

    Drawing the static weights takes about 25 bytes per pair of neurons (normals, uniforms,
    their mask and its scaled copy), more than ``P`` (8) needs after them; the recording
    takes 8 bytes (readout), 8 (target), 4 (spike count) and one per raster neuron per step.

    Raises:
        MemoryBudgetError: with the sizes that would not fit.
    """
    n = config.n_neurons
    network = 25.0 * n * n
    recording = steps.total * (20.0 + min(N_RASTER, n))
    check_allocation(
        f"the FORCE network of {n:,} neurons (P and static weights, {network / 1e6:,.0f} MB) "
        f"and its recording of {steps.total:,} steps",
        network + recording,
    )


@dataclass
class Readout:
    """The decoder being trained and its target.

    Attributes:
        phi: decoder ``(1, N)`` float64, 0 at the start.
        P: inverse correlation matrix ``(N, N)`` float64, ``I / rls_alpha`` at the start.
        target: ``(steps, 1)`` float64, the target at the end of each step.
    """

    phi: np.ndarray
    P: np.ndarray
    target: np.ndarray

    @classmethod
    def start(cls, config: ForceSineConfig, steps: Steps) -> Readout:
        n = config.n_neurons
        return cls(
            phi=np.zeros((1, n)),
            P=np.eye(n) / config.rls_alpha,
            target=sine_target(steps.total, config.dt_ms, config.frequency_hz, config.amplitude),
        )

    def learning(self, lo: int, hi: int, steps: Steps, update_every: int) -> ForceLearning:
        """The loop's ``learning`` group for steps ``lo`` to ``hi``."""
        return ForceLearning(
            self.phi,
            self.P,
            self.target[lo:hi],
            lo,
            steps.train_start,
            steps.train_stop,
            update_every,
        )


@dataclass
class Recording:
    """What the loop records.

    Attributes:
        z: readout of every step, ``(steps, 1)`` float64.
        counts: spikes of the whole network per step, ``(steps,)`` int32.
        raster_neurons: ``(R,)`` int64, the neurons of ``spikes``.
        spikes: ``(steps, R)`` bool, their spikes.
        v_neurons: ``(Rv,)`` int64, the neurons of ``v``.
        v: ``(samples, Rv)`` float64, their membrane potential (mV), sampled.
        phi_norm: ``(samples,)`` float64, the decoder's Frobenius norm, sampled.
        sample_every: steps per sample.
    """

    z: np.ndarray
    counts: np.ndarray
    raster_neurons: np.ndarray
    spikes: np.ndarray
    v_neurons: np.ndarray
    v: np.ndarray
    phi_norm: np.ndarray
    sample_every: int

    @classmethod
    def empty(cls, n_neurons: int, steps: Steps) -> Recording:
        raster = np.arange(min(N_RASTER, n_neurons), dtype=np.int64)
        voltage = np.arange(min(N_VOLTAGE, n_neurons), dtype=np.int64)
        return cls(
            z=np.zeros((steps.total, 1)),
            counts=np.zeros(steps.total, dtype=np.int32),
            raster_neurons=raster,
            spikes=np.zeros((steps.total, raster.size), dtype=bool),
            v_neurons=voltage,
            v=np.zeros((steps.n_samples, voltage.size)),
            phi_norm=np.zeros(steps.n_samples),
            sample_every=steps.sample_every,
        )

    def record(self, lo: int, hi: int) -> ForceRecord:
        """The loop's ``record`` group for steps ``lo`` to ``hi`` (views of the arrays)."""
        s_lo, s_hi = lo // self.sample_every, hi // self.sample_every
        return ForceRecord(
            self.z[lo:hi],
            self.counts[lo:hi],
            self.raster_neurons,
            self.spikes[lo:hi],
            self.v_neurons,
            self.v[s_lo:s_hi],
            self.phi_norm[s_lo:s_hi],
            self.sample_every,
        )


@dataclass
class LoopResult:
    """What a run produced: the recording, the trained readout, and the time it took (s)."""

    recording: Recording
    readout: Readout
    wall_s: float
    compile_s: float


def run_loop(
    config: ForceSineConfig,
    network: ForceNetwork,
    steps: Steps,
    *,
    progress: bool | None = None,
) -> LoopResult:
    """Run ``network`` (its state advanced in place) through all steps, training the decoder
    in the training window; in chunks of ``steps.chunk`` steps, with a progress bar.

    Raises:
        NonFiniteStateError: the state became non-finite (names step and neuron).
    """
    loop = force_loop_numba if config.loop_backend == "numba" else force_loop_numpy
    readout = Readout.start(config, steps)
    recording = Recording.empty(config.n_neurons, steps)
    synapse = ForceSynapse(config.tau_rise_ms, config.tau_decay_ms)
    every = config.update_every

    def call(lo: int, hi: int) -> tuple[int, int, int]:
        learning = readout.learning(lo, hi, steps, every)
        record = recording.record(lo, hi)
        return loop(network.neuron, synapse, network.state, network.connections, learning, record)

    started = time.perf_counter()
    if config.loop_backend == "numba":
        call(0, 0)  # compiles the loop before the timing; a call of no steps changes nothing
    compile_s = time.perf_counter() - started
    show = progress if progress is not None else sys.stderr.isatty()
    started = time.perf_counter()
    dt = config.dt_ms
    with tqdm(
        total=round(config.duration_ms), disable=not show, unit="ms", desc="force sine",
        leave=False,
    ) as bar:  # fmt: skip
        for lo in range(0, steps.total, steps.chunk):
            hi = min(steps.total, lo + steps.chunk)
            status, err_step, err_neuron = call(lo, hi)
            if status != STATUS_OK:
                raise NonFiniteStateError(err_step, err_neuron, "v", dt_ms=dt)
            bar.update(round(hi * dt) - bar.n)
    return LoopResult(recording, readout, time.perf_counter() - started, compile_s)


def write_config(run_dir: Path, config: ForceSineConfig, steps: Steps) -> Path:
    """``config.json``: the settings and their fingerprint, the neuron parameters, the
    readout's size and the sampling interval of the recorded arrays (ms)."""
    document = run_config_document(
        JOB,
        config.to_dict(),
        neuron=neuron_settings(config),
        n_out=1,
        sample_ms=steps.sample_every * config.dt_ms,
    )
    return write_json(run_dir / "config.json", {**document, "experiment": JOB})


def run_metrics(config: ForceSineConfig, steps: Steps, result: LoopResult) -> dict[str, Any]:
    """The measures of a finished run (see :func:`spikesub.force_sine.measures.measure`),
    with the final decoder norm, the count of RLS updates, the backend and the timing."""
    wall = result.wall_s
    start, stop, every = steps.train_start, steps.train_stop, config.update_every
    return {
        "experiment": JOB,
        **measure(
            result.recording.z,
            result.readout.target,
            result.recording.counts,
            train_start=start,
            train_stop=stop,
            n_neurons=config.n_neurons,
            dt_ms=config.dt_ms,
            duration_ms=config.duration_ms,
        ),
        "final_phi_norm": float(np.linalg.norm(result.readout.phi)),
        "rls_updates": len(range(start + (-start) % every, stop, every)),
        "backend": config.loop_backend,
        "wall_s": wall,
        "compile_s": result.compile_s,
        "steps_per_s": steps.total / wall if wall > 0 else math.inf,
    }


def write_metrics(run_dir: Path, config: ForceSineConfig, steps: Steps, result: LoopResult) -> Path:
    """``metrics.json``: :func:`run_metrics`."""
    return write_json(run_dir / "metrics.json", run_metrics(config, steps, result))


def write_arrays(
    run_dir: Path, config: ForceSineConfig, steps: Steps, network: ForceNetwork, result: LoopResult
) -> Path:
    """``force_sine.npz``, sampled every ``sample_ms``:

    ``t_ms`` ``(samples,)`` the end of each sampled step; ``z``, ``target`` ``(samples, 1)``;
    ``phi_norm`` ``(samples,)``; ``v`` ``(samples, Rv)`` mV of the neurons ``v_neurons``
    ``(Rv,)``; ``rate_hz`` ``(samples,)`` the population rate over each sample; the spikes of
    the neurons ``raster_neurons`` ``(R,)`` as ``spike_times_ms`` and ``spike_neurons``; the
    final decoder ``phi`` ``(1, N)`` and the ``encoder`` ``(N, 1)`` (both ``W[post, pre]``).
    """
    rec, dt, every = result.recording, config.dt_ms, steps.sample_every
    n_samples = steps.n_samples
    sample_steps = (np.arange(n_samples) + 1) * every - 1
    spike_step, spike_col = np.nonzero(rec.spikes)
    rate_counts = rec.counts[: n_samples * every].reshape(n_samples, every).sum(axis=1)
    return write_npz(
        run_dir / ARRAYS_NAME,
        t_ms=(sample_steps + 1) * dt,
        z=rec.z[sample_steps],
        target=result.readout.target[sample_steps],
        phi_norm=rec.phi_norm,
        v=rec.v,
        v_neurons=rec.v_neurons,
        rate_hz=rate_counts / (config.n_neurons * every * dt / 1000.0),
        spike_times_ms=(spike_step + 1) * dt,
        spike_neurons=rec.raster_neurons[spike_col],
        raster_neurons=rec.raster_neurons,
        phi=result.readout.phi,
        encoder=network.encoder,
    )
