"""Recurrent networks of spiking neurons with sparse synapses, on any backend.

:class:`SpikingReservoir` simulates Izhikevich (2003 or 2007 form) or leaky integrate-and-fire
populations with the same synapses, drive, monitors and seeds; :class:`IzhikevichReservoir` and
:class:`LIFReservoir` are the same class restricted to one kind of neuron.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from spikesub.kernels import network as net
from spikesub.kernels.backends import resolve_backend
from spikesub.kernels.network_args import (
    CudaRecord,
    Drive,
    NetworkState,
    NeuronParams,
    PoissonDrive,
    Record,
    Recurrent,
    Synapse,
)
from spikesub.kernels.propagation import csr_partition
from spikesub.kernels.threads import (
    automatic_threads,
    default_threads,
    numba_threads,
    resolve_threads,
)
from spikesub.models.errors import NonFiniteStateError
from spikesub.models.interrupts import deferred_interrupt
from spikesub.models.memory import check_allocation
from spikesub.models.network.connectivity import SparseWeights, izhikevich_2003_weights
from spikesub.models.network.homeostasis import InhibitoryHomeostasis, homeostasis_off
from spikesub.models.network.inputs import CurrentInput, PoissonInput
from spikesub.models.network.loop_choice import SERIAL, THREADED, LoopChooser
from spikesub.models.network.monitors import SimulationResult, SpikeTrains
from spikesub.models.network.neurons import IzhikevichPopulation, LIFPopulation
from spikesub.models.validation import as_dtype, as_real_array, check_index_array, check_int

SYNAPSES: dict[str, int] = {
    "delta": net.SYNAPSE_DELTA,
    "exponential": net.SYNAPSE_EXPONENTIAL,
    "double_exponential": net.SYNAPSE_DOUBLE_EXPONENTIAL,
}
STATE_VARIABLES: tuple[str, ...] = ("v", "u")
PRECISIONS: tuple[str, ...] = ("float64", "float32")
# Below this size one thread is faster than splitting every step across threads.
PARALLEL_MIN_NEURONS = 2048


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number; got {type(value).__name__}")
    try:
        value = float(value)
    except OverflowError:  # an int beyond the float range
        value = math.inf
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value}")
    return value


MAX_STEPS = 2.0**62
"""More steps than one run can count (step counters are 64-bit integers)."""


@dataclass
class _RunPlan:
    """One call of :meth:`SpikingReservoir.run`: its steps, the kernels' argument groups
    that stay the same for the whole call, and the recording buffers the loops fill."""

    n_steps: int
    chunk: int  # steps per call of the loop (at most 100 ms), unless the chooser decides
    run_step0: int  # global step of the call's start
    params: NeuronParams
    synapse: Synapse
    bias: np.ndarray  # (N,) float64
    ext_mode: int
    ext: np.ndarray  # the whole call's external input (rows are sliced per chunk)
    encoder: np.ndarray
    poisson_by_mode: dict[str, PoissonDrive]  # rates for the whole call
    record_spikes: bool
    rec_idx: np.ndarray  # (R,) int64
    rec_names: tuple[str, ...]  # recorded state variables
    record_every: int
    rec_v: np.ndarray  # (samples, R)
    rec_u: np.ndarray  # (samples, R)
    pop_counts: np.ndarray  # (n_steps,) int32


SEED_MAX = 2**64 - 1
"""Largest seed: the counter-based generator keys its streams with a 64-bit seed."""


def _check_seed(seed: Any) -> int:
    return check_int("seed", seed, minimum=0, maximum=SEED_MAX)


POPULATION_BYTES_PER_NEURON = 160
"""Parameters, initial state and the reservoir's per-neuron arrays (about 20 float64 each)."""


def _check_population_memory(n_exc: Any, n_inh: Any) -> None:
    """Refuse a population too large for the memory budget before any array is made."""
    sizes = [v for v in (n_exc, n_inh) if isinstance(v, (int, np.integer))]
    if len(sizes) == 2 and min(sizes) >= 0:
        n = int(sizes[0]) + int(sizes[1])
        check_allocation(
            f"a population of n_exc + n_inh = {n:,} neurons", n * POPULATION_BYTES_PER_NEURON
        )


def _per_neuron(name: str, value: Any, n: int) -> np.ndarray:
    array = as_real_array(name, value)
    with np.errstate(over="ignore"):
        array = np.array(array, dtype=np.float64)
    if array.ndim == 0:
        array = np.full(n, float(array))
    if array.shape != (n,):
        raise ValueError(f"{name} must be a number or an array of shape ({n},); got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite; found {array[~np.isfinite(array)][0]}")
    return array


def _readonly(array: np.ndarray) -> np.ndarray:
    """A read-only view. Numba compiles one version per (dtype, writable) combination of its
    arguments, so arrays that can come from frozen models are always passed read-only."""
    view = array.view()
    view.flags.writeable = False
    return view


def _scratch(array: Any) -> np.ndarray:
    """A writable, C-contiguous float64 array (a copy when needed)."""
    return np.require(array, dtype=np.float64, requirements=["C", "W"])


def _empty_csr(n_pre: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        _readonly(np.zeros(n_pre + 1, np.int64)),
        _readonly(np.zeros(0, np.int32)),
        _readonly(np.zeros(0, dtype)),
    )


def _run_buffer_bytes(
    n_steps: int, n_samples: int, n_recorded: int, dtype: np.dtype, current: Any, n: int
) -> float:
    """Bytes :meth:`SpikingReservoir.run` allocates before its first step.

    ``(n_steps,)`` int32 population counts, the ``(n_samples, n_recorded)`` buffers of ``v``
    and ``u`` (both made, in the state dtype), and the float64 copy the run makes of a
    ``(steps, n)`` current array that is not a writable, C-ordered float64 array already, or
    a :class:`CurrentInput` signal resampled onto the run's steps.
    """
    n_bytes = 4.0 * n_steps + 2.0 * n_samples * n_recorded * np.dtype(dtype).itemsize
    if isinstance(current, np.ndarray) and current.ndim == 2:
        flags = current.flags
        if current.dtype != np.float64 or not (flags.c_contiguous and flags.writeable):
            n_bytes += 8.0 * n_steps * n
    if isinstance(current, CurrentInput) and current.sample_ms is not None:
        n_bytes += 8.0 * n_steps * current.signal.shape[1]  # the signal on the run's steps
    return n_bytes


class SpikingReservoir:
    """A population of spiking neurons with recurrent synapses and external drive.

    Args:
        population: the neurons: an :class:`IzhikevichPopulation` (2003 or 2007 form) or an
            :class:`LIFPopulation` (heterogeneous parameters allowed in both). For LIF neurons
            the state ``u`` is the number of refractory steps left, and ``synapse="delta"``
            adds ``w`` to ``v`` directly (in the units of ``v``), while a current ``I`` moves
            ``v`` towards ``v_rest + resistance * I``.
        weights: recurrent synapses: a :class:`SparseWeights` (CSR by presynaptic row), a
            dense ``(N, N)`` array ``W[post, pre]`` (row ``i`` holds the weights onto neuron
            ``i``, as in ``torch.nn.Linear``), or ``None`` for no recurrence.
        synapse: ``"delta"`` (a presynaptic spike adds ``w`` to the postsynaptic ``v``
            at once, in mV), ``"exponential"`` (adds ``w`` to a current that decays with
            ``tau_syn_ms``) or ``"double_exponential"`` (rise ``tau_rise_ms``, decay
            ``tau_decay_ms``, unit area: a spike of weight ``w`` delivers a total charge of
            ``w`` current-units x ms).
        bias_current: constant current per neuron (scalar or ``(N,)``); pA for the 2007
            form, Izhikevich's dimensionless units for the 2003 form.
        noise_std: standard deviation of a Gaussian noise current per neuron (scalar or
            ``(N,)``), redrawn every ``noise_interval_ms`` and held in between (Izhikevich
            2003 draws thalamic input once per 1 ms step).
        dt_ms: time step in ms.
        backend: ``"auto"``, ``"numpy"``, ``"numba"`` or ``"cuda"``.
        dtype: storage dtype of the state and the weights (float32 or float64).
        precision: arithmetic of the neuron update on the CPU backends. ``"float64"`` (default):
            every backend computes in float64 and the ``"numpy"`` and ``"numba"`` backends
            agree bit for bit. ``"float32"`` (needs ``dtype=float32``): the one-sub-step update
            runs in float32 with float32 parameters, faster and statistically the same (spike
            counts and rates; the NumPy and Numba backends still agree bit for bit, both in
            float32); the CUDA backend ignores it and computes in float64.
        seed: seed of the noise and Poisson draws (counter-based: identical on all backends).
        homeostasis: an :class:`InhibitoryHomeostasis`: each neuron scales its inhibitory
            synaptic input by a gain that tracks its target firing rate (the gains and rate
            estimates are state: :attr:`inhibitory_gain`, :attr:`rate_estimate_hz`). ``None``
            (default): no scaling.
        n_threads: threads of the Numba backend. ``None`` (default): automatic, the cores this
            process may use (:func:`spikesub.kernels.threads.automatic_threads`) from
            N >= 2048 on (else 1), and each chunk of a run goes to the threaded or the serial
            loop, whichever measured faster lately (see :mod:`spikesub.models.network.loop_choice`;
            :attr:`thread_stats` tells what happened). A count given is used as given, with a
            warning when it is above the available cores.

    A run is deterministic: the same seed gives the same spikes bit for bit on the
    ``"numpy"`` and ``"numba"`` backends (and between them).
    """

    _POPULATIONS: tuple[type, ...] = (IzhikevichPopulation, LIFPopulation)

    def __init__(
        self,
        population: IzhikevichPopulation | LIFPopulation,
        weights: SparseWeights | np.ndarray | None = None,
        *,
        synapse: str = "delta",
        tau_syn_ms: float = 5.0,
        tau_rise_ms: float = 2.0,
        tau_decay_ms: float = 20.0,
        bias_current: float | np.ndarray = 0.0,
        noise_std: float | np.ndarray = 0.0,
        noise_interval_ms: float = 1.0,
        dt_ms: float = 0.1,
        backend: str = "auto",
        dtype: Any = np.float32,
        precision: str = "float64",
        seed: int = 0,
        n_threads: int | None = None,
        homeostasis: InhibitoryHomeostasis | None = None,
    ) -> None:
        if not isinstance(population, self._POPULATIONS):
            names = " or ".join(t.__name__ for t in self._POPULATIONS)
            raise TypeError(
                f"{type(self).__name__}: population must be an {names}; "
                f"got {type(population).__name__}"
            )
        self.population = population
        n = population.n
        self.dt_ms = _positive("dt_ms", dt_ms)
        if synapse not in SYNAPSES:
            raise ValueError(f"synapse must be one of {tuple(SYNAPSES)}; got {synapse!r}")
        self.synapse = synapse
        self.tau_syn_ms = _positive("tau_syn_ms", tau_syn_ms)
        self.tau_rise_ms = _positive("tau_rise_ms", tau_rise_ms)
        self.tau_decay_ms = _positive("tau_decay_ms", tau_decay_ms)
        self.bias_current = _per_neuron("bias_current", bias_current, n)
        self.noise_std = _per_neuron("noise_std", noise_std, n)
        if np.any(self.noise_std < 0):
            raise ValueError("noise_std must be >= 0")
        self.noise_interval_ms = _positive("noise_interval_ms", noise_interval_ms)
        ratio = self.noise_interval_ms / self.dt_ms
        self._noise_every = int(round(ratio)) if math.isfinite(ratio) else 0
        if self._noise_every < 1 or not math.isclose(
            self._noise_every * self.dt_ms, self.noise_interval_ms, rel_tol=1e-9
        ):
            raise ValueError(
                f"noise_interval_ms must be a whole multiple of dt_ms = {self.dt_ms}; "
                f"got {self.noise_interval_ms}"
            )
        self.dtype = as_dtype("dtype", dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64; got {self.dtype}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
        if precision == "float32" and self.dtype != np.float32:
            raise ValueError(
                f"precision='float32' needs dtype=float32 (the state); got dtype={self.dtype}"
            )
        self.precision = precision
        self.seed = _check_seed(seed)
        self.backend = resolve_backend(backend)
        self.weights = self._check_weights(weights, n)
        self._set_homeostasis(homeostasis)
        self._set_threads(n_threads)
        self._csr = (
            _readonly(self.weights.indptr),
            _readonly(self.weights.indices),
            _readonly(self.weights.weights.astype(self.dtype, copy=False)),
        )
        # The serial loop walks one part: stepping the threaded loop's parts one after the
        # other costs it about 15 % (measured at 10k neurons). Both give the same floats.
        self._splits = self._split_by_mode(*self._csr[:2], n)
        self.reset_state()

    def set_homeostasis(self, homeostasis: InhibitoryHomeostasis | None) -> None:
        """Change the homeostasis from the next run on, keeping the state (the gains and rate
        estimates reached so far). ``replace(h, learning_rate=0.0)`` freezes the gains, as a
        reservoir whose readout is trained should be; ``None`` stops scaling (gains ignored)."""
        self._set_homeostasis(homeostasis)

    def _set_homeostasis(self, homeostasis: InhibitoryHomeostasis | None) -> None:
        """Check ``homeostasis`` against the network; set it and the loops' group."""
        n = self.n_neurons
        if homeostasis is None:
            self.homeostasis = None
            self._homeostasis_args = homeostasis_off(n)
            return
        if not isinstance(homeostasis, InhibitoryHomeostasis):
            raise TypeError(
                f"homeostasis must be an InhibitoryHomeostasis or None; got "
                f"{type(homeostasis).__name__}"
            )
        if not np.any(self.weights.weights < 0):
            raise ValueError(
                "homeostasis scales inhibitory (negative) recurrent weights; these weights have "
                "none"
            )
        self.homeostasis = homeostasis
        self._homeostasis_args = homeostasis.kernel_args(n, self.dt_ms, self.population.excitatory)

    @staticmethod
    def for_population(population: Any, *args: Any, **kwargs: Any) -> SpikingReservoir:
        """The reservoir class of ``population``'s kind (:class:`IzhikevichReservoir` or
        :class:`LIFReservoir`), built with the given arguments."""
        cls = LIFReservoir if isinstance(population, LIFPopulation) else IzhikevichReservoir
        return cls(population, *args, **kwargs)

    def _set_threads(self, n_threads: int | None) -> None:
        """Set ``n_threads``, ``threads_automatic`` and, in the automatic mode, the chooser.

        ``None`` takes a job's ``--threads`` (:func:`spikesub.kernels.threads.default_threads`)
        for networks of at least ``PARALLEL_MIN_NEURONS``, else the automatic mode; a count
        given here is used as given, whatever the size.
        """
        if n_threads is not None:
            if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)):
                raise TypeError(f"n_threads must be an integer >= 1 or None; got {n_threads!r}")
            if n_threads < 1:
                raise ValueError(f"n_threads must be an integer >= 1 or None; got {n_threads}")
        large = self.n_neurons >= PARALLEL_MIN_NEURONS
        job_threads = default_threads()
        self.threads_automatic = n_threads is None and job_threads is None
        if self.backend != "numba":
            self.n_threads = 1
        elif n_threads is not None:
            self.n_threads = resolve_threads(int(n_threads), name="n_threads", stacklevel=4)
        elif job_threads is not None:
            self.n_threads = job_threads if large else 1
        else:
            self.n_threads = automatic_threads() if large else 1
        self._loop_chooser = None
        if self.threads_automatic and self.n_threads > 1:
            # chunks of at most run()'s 100 ms of biological time
            self._loop_chooser = LoopChooser(
                max(1, int(round(100.0 / self.dt_ms))), n_threads=self.n_threads
            )
        self.thread_stats: dict[str, Any] = {}

    # ------------------------------------------------------------------------------------------
    # ------------------------------------------------------------------------------------------
    @property
    def n_neurons(self) -> int:
        return self.population.n

    @property
    def t_ms(self) -> float:
        """Biological time simulated since the last :meth:`reset_state`, in ms."""
        return self.step * self.dt_ms

    @property
    def v(self) -> np.ndarray:
        """Membrane potentials ``(N,)`` (a copy)."""
        return np.array(self._state[0], copy=True)

    @property
    def u(self) -> np.ndarray:
        """Recovery variables ``(N,)`` (a copy); for LIF neurons the refractory steps left."""
        return np.array(self._state[1], copy=True)

    def reset_state(self) -> None:
        """Back to the population's initial state at t = 0 (synaptic currents cleared)."""
        n = self.n_neurons
        v_init, u_init = self._initial_state()
        self._state = NetworkState(
            v=v_init.astype(self.dtype),
            u=u_init.astype(self.dtype),
            syn_a=np.zeros(n, self.dtype),
            syn_b=np.zeros(n, self.dtype),
            syn_in=np.zeros(n, self.dtype),
            noise=np.zeros(n, np.float64),
            inh_gain=np.full(n, self._initial_gain()),
            rate_hz=np.zeros(n),
        )
        self.step = 0

    def _initial_gain(self) -> float:
        return 1.0 if self.homeostasis is None else float(self.homeostasis.initial_gain)

    @property
    def inhibitory_gain(self) -> np.ndarray:
        """``(N,)`` gains of each neuron's inhibitory input (all 1 without homeostasis)."""
        return np.array(self._state.inh_gain, copy=True)

    @property
    def rate_estimate_hz(self) -> np.ndarray:
        """``(N,)`` the homeostasis' firing-rate estimates, Hz (zeros without homeostasis)."""
        return np.array(self._state.rate_hz, copy=True)

    def _initial_state(self) -> tuple[np.ndarray, np.ndarray]:
        """The population's initial ``v`` and ``u`` (LIF: ``v_init``, no refractory steps)."""
        p = self.population
        if isinstance(p, LIFPopulation):
            return p.parameters()["v_init"], np.zeros(self.n_neurons)
        return p.v_init, p.u_init

    _STATE_NAMES = NetworkState._fields

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the dynamic state: ``v``, ``u``, the synaptic filter variables
        ``syn_a``/``syn_b``/``syn_in``, the held ``noise`` (each ``(N,)``) and ``step`` (0-d
        int64). A reservoir built the same way that loads it continues bit for bit."""
        names = self._STATE_NAMES
        state = {name: np.array(x, copy=True) for name, x in zip(names, self._state, strict=True)}
        state["step"] = np.asarray(self.step, np.int64)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state saved by :meth:`state_dict` (shapes and dtypes must match)."""
        state = dict(state)
        # states saved before the homeostasis existed lack its two arrays: its initial values
        state.setdefault("inh_gain", np.full(self.n_neurons, self._initial_gain()))
        state.setdefault("rate_hz", np.zeros(self.n_neurons))
        missing = [k for k in (*self._STATE_NAMES, "step") if k not in state]
        if missing:
            raise ValueError(f"state is missing {missing}")
        arrays = []
        for name, current in zip(self._STATE_NAMES, self._state, strict=True):
            value = np.asarray(state[name])
            if value.shape != current.shape or value.dtype != current.dtype:
                raise ValueError(
                    f"state[{name!r}] is {value.dtype}{list(value.shape)}; this reservoir needs "
                    f"{current.dtype}{list(current.shape)}"
                )
            arrays.append(np.array(value, copy=True))
        step = np.asarray(state["step"])
        if step.shape != () or not np.issubdtype(step.dtype, np.integer) or int(step) < 0:
            raise ValueError(f"state['step'] must be an integer >= 0; got {state['step']!r}")
        self._state = NetworkState(*arrays)
        self.step = int(step)

    def save(self, path: str | Path) -> Path:
        """Write the reservoir (parameters, weights, state and step) to one ``.npz`` file that
        ``numpy.load(allow_pickle=False)`` reads; :meth:`load` continues it bit for bit. See
        :mod:`spikesub.models.network.saving`. Returns the path written."""
        from spikesub.models.network.saving import save_reservoir

        return save_reservoir(self, path)

    @classmethod
    def load(
        cls, path: str | Path, *, backend: str | None = None, n_threads: int | None = None
    ) -> SpikingReservoir:
        """The reservoir :meth:`save` wrote to ``path``, at the step it was saved (on the
        saved backend unless ``backend`` is given).

        Raises:
            SavedModelError: no such file, a damaged one, another format version, or
                contents that do not fit together.
        """
        from spikesub.models.network.saving import load_reservoir

        return load_reservoir(path, backend=backend, n_threads=n_threads)

    def config(self) -> dict[str, Any]:
        """JSON-able description of the network (for a run folder's config.json)."""
        return {
            "population": self.population.to_dict(),
            "weights": self.weights.to_dict(),
            "synapse": self.synapse,
            "tau_syn_ms": self.tau_syn_ms,
            "tau_rise_ms": self.tau_rise_ms,
            "tau_decay_ms": self.tau_decay_ms,
            "bias_current_mean": float(self.bias_current.mean()),
            "noise_std_mean": float(self.noise_std.mean()),
            "noise_interval_ms": self.noise_interval_ms,
            "dt_ms": self.dt_ms,
            "backend": self.backend,
            "dtype": self.dtype.name,
            "precision": self.precision,
            "seed": self.seed,
            "n_threads": self.n_threads,
            "threads_automatic": self.threads_automatic,
            "homeostasis": None if self.homeostasis is None else self.homeostasis.to_dict(),
        }

    # ------------------------------------------------------------------------------------------
    def run(
        self,
        duration_ms: float,
        *,
        current: np.ndarray | CurrentInput | None = None,
        poisson: PoissonInput | None = None,
        record_spikes: bool = True,
        record_state: Sequence[str] = (),
        record_indices: Sequence[int] | np.ndarray | None = None,
        record_every: int = 1,
        progress: bool | None = None,
    ) -> SimulationResult:
        """Advance the network by ``duration_ms`` and return what was recorded.

        Args:
            duration_ms: biological time to simulate, in ms (rounded to whole steps).
            current: external current: ``(N,)`` constant, ``(steps, N)`` one row per step,
                or a :class:`CurrentInput` (signal ``(steps, K)`` and encoder ``(N, K)``).
            poisson: Poisson input channels and their synapses onto the neurons.
            record_spikes: keep the spike times and indices.
            record_state: state variables to sample, from ``("v", "u")``.
            record_indices: neurons to sample (default: up to 20 evenly spaced neurons).
            record_every: sample every this many steps.
            progress: show a progress bar (default: when stderr is a terminal).

        Raises:
            NonFiniteStateError: the state became NaN or infinite (names step and neuron).
        """
        n_steps = self._n_steps(duration_ms)
        plan = self._plan(n_steps, current, poisson, record_spikes, record_state,
                          record_indices, record_every)  # fmt: skip
        show = progress if progress is not None else sys.stderr.isatty()
        started = time.perf_counter()
        with tqdm(
            total=n_steps, disable=not show, unit="step", desc=f"simulate ({self.backend})",
            leave=False,
        ) as bar:  # fmt: skip
            loop = self._run_cuda if self.backend == "cuda" else self._run_cpu
            spike_steps, spike_idx, n_recorded = loop(plan, bar)
        wall = time.perf_counter() - started
        return self._result(plan, spike_steps[:n_recorded], spike_idx[:n_recorded], wall)

    def _n_steps(self, duration_ms: Any) -> int:
        """``duration_ms`` in whole steps, checked (at least one, at most ``MAX_STEPS``)."""
        duration_ms = _positive("duration_ms", duration_ms)
        steps = duration_ms / self.dt_ms
        if not steps < MAX_STEPS:
            raise ValueError(
                f"duration_ms / dt_ms = {steps:.3g} steps is more than the {MAX_STEPS:.0e} one run "
                f"can count; got duration_ms = {duration_ms}, dt_ms = {self.dt_ms}"
            )
        n_steps = int(round(steps))
        if n_steps < 1:
            raise ValueError(
                f"duration_ms must be at least dt_ms = {self.dt_ms}; got {duration_ms}"
            )
        return n_steps

    def _plan(
        self, n_steps, current, poisson, record_spikes, record_state, record_indices, record_every
    ) -> _RunPlan:  # fmt: skip
        """The kernels' argument groups and the recording buffers of one call of :meth:`run`,
        checked against the memory budget before anything is allocated."""
        n = self.n_neurons
        rec_idx, rec_names = self._recording(record_state, record_indices, record_every)
        n_samples = (n_steps + record_every - 1) // record_every if rec_idx.size else 0
        # The spike buffer is not in the estimate: it starts small and grows with the spikes.
        check_allocation(
            f"recording buffers of run(duration_ms={n_steps * self.dt_ms:g}) at "
            f"dt_ms={self.dt_ms:g} ({n_steps:,} steps, {rec_idx.size} recorded neurons every "
            f"{record_every} steps)",
            _run_buffer_bytes(n_steps, n_samples, rec_idx.size, self.dtype, current, n),
        )
        bias, ext_mode, ext, encoder = self._external(current, n_steps)
        return _RunPlan(
            n_steps=n_steps,
            chunk=max(1, min(n_steps, int(round(100.0 / self.dt_ms)))),
            run_step0=self.step,
            params=self._neuron_params(),
            synapse=self._synapse(),
            bias=bias,
            ext_mode=ext_mode,
            ext=ext,
            encoder=encoder,
            poisson_by_mode=self._poisson(poisson, n_steps),
            record_spikes=record_spikes,
            rec_idx=rec_idx,
            rec_names=tuple(rec_names),
            record_every=record_every,
            rec_v=np.zeros((n_samples, rec_idx.size), self.dtype),
            rec_u=np.zeros((n_samples, rec_idx.size), self.dtype),
            pop_counts=np.zeros(n_steps, np.int32),
        )

    def _synapse(self) -> Synapse:
        """The kernels' ``synapse``: the filter's mode and its per-step decays."""
        tau_a = self.tau_syn_ms if self.synapse == "exponential" else self.tau_decay_ms
        return Synapse(
            mode=SYNAPSES[self.synapse],
            decay_a=math.exp(-self.dt_ms / tau_a),
            decay_b=math.exp(-self.dt_ms / self.tau_rise_ms),
            dt_ms=self.dt_ms,
            tau_rise_ms=self.tau_rise_ms,
            tau_decay_ms=self.tau_decay_ms,
        )

    def _result(
        self, plan: _RunPlan, steps: np.ndarray, idx: np.ndarray, wall: float
    ) -> SimulationResult:
        """What :meth:`run` returns, from the plan's buffers and the recorded spikes."""
        step0 = plan.run_step0
        spikes = None
        if plan.record_spikes:
            if self.backend == "cuda":  # the CPU loops record in (step, index) order already
                order = np.lexsort((idx, steps))
                steps, idx = steps[order], idx[order]
            spikes = SpikeTrains(
                times_ms=steps * self.dt_ms,
                indices=idx.astype(np.int32),
                n_neurons=self.n_neurons,
                t_start_ms=step0 * self.dt_ms,
                duration_ms=plan.n_steps * self.dt_ms,
            )
        state = {name: buf for name, buf in (("v", plan.rec_v), ("u", plan.rec_u))
                 if name in plan.rec_names}  # fmt: skip
        n_samples = plan.rec_v.shape[0]
        return SimulationResult(
            spikes=spikes,
            population_counts=plan.pop_counts,
            excitatory=np.asarray(self.population.excitatory, dtype=bool),
            dt_ms=self.dt_ms,
            backend=self.backend,
            state=state,
            state_times_ms=(step0 + np.arange(n_samples) * plan.record_every) * self.dt_ms,
            state_indices=plan.rec_idx,
            wall_time_s=wall,
            t_start_ms=step0 * self.dt_ms,
        )

    # ------------------------------------------------------------------------------------------
    def _neuron_params(self) -> NeuronParams:
        """The kernels' ``params``. Its per-neuron arrays set the arithmetic's dtype: float32
        for ``precision="float32"`` on the CPU backends, else float64."""
        p = self.population
        n = self.n_neurons
        work = np.float32 if self.precision == "float32" and self.backend != "cuda" else np.float64

        def per_neuron(x: np.ndarray | None) -> np.ndarray:
            x = np.zeros(n) if x is None else x
            return x if x.dtype == work and not x.flags.writeable else _readonly(x.astype(work))

        if isinstance(p, LIFPopulation):
            return self._lif_params(per_neuron)
        return NeuronParams(
            form=net.FORM_2003 if p.form == "2003" else net.FORM_2007,
            a=per_neuron(p.a),
            b=per_neuron(p.b),
            c=per_neuron(p.c),
            d=per_neuron(p.d),
            C=per_neuron(p.C),
            k=per_neuron(p.k),
            v_r=per_neuron(p.v_r),
            v_t=per_neuron(p.v_t),
            v_peak=float(p.v_peak),
            n_substeps=int(p.n_substeps),
            dt_ms=self.dt_ms,
        )

    def _lif_params(self, per_neuron) -> NeuronParams:
        """:meth:`_neuron_params` of an LIF population, in the fields :class:`NeuronParams`
        documents for the LIF forms."""
        p = self.population
        params = p.parameters()
        refractory_steps = float(round(float(p.refractory_ms) / self.dt_ms))
        return NeuronParams(
            form=net.FORM_LIF_SUBTRACT if p.reset == "subtract" else net.FORM_LIF_ZERO,
            a=per_neuron(np.exp(-self.dt_ms / params["tau_ms"])),
            b=per_neuron(params["resistance"]),
            c=per_neuron(params["v_reset"]),
            d=per_neuron(np.full(self.n_neurons, refractory_steps)),
            C=per_neuron(params["v_rest"]),
            k=per_neuron(None),
            v_r=per_neuron(None),
            v_t=per_neuron(params["v_th"]),
            v_peak=float(params["v_th"].max()),
            n_substeps=1,
            dt_ms=self.dt_ms,
        )

    def _run_cpu(self, plan: _RunPlan, bar):
        """Runs the NumPy or Numba loop chunk by chunk; in the automatic thread mode each chunk
        goes to the threaded or the serial loop as :class:`LoopChooser` decides (same result).
        Returns the recorded spikes ``(steps, neurons, count)``."""
        loops = self._cpu_loops()
        chooser = self._loop_chooser if self.backend == "numba" else None
        if chooser is not None:
            chooser.begin_run()
        recurrent = {mode: Recurrent(*self._csr, splits) for mode, splits in self._splits.items()}
        capacity = 1024 if plan.record_spikes else 0
        spike_steps = np.zeros(capacity, np.int64)
        spike_idx = np.zeros(capacity, np.int32)
        n_recorded = 0
        rates = plan.poisson_by_mode[SERIAL].rates
        steps_by_mode = {THREADED: 0, SERIAL: 0}
        start = 0
        while start < plan.n_steps:
            if chooser is not None:
                mode, count = chooser.next_chunk(plan.n_steps - start)
            else:
                mode, count = next(iter(loops)), min(plan.chunk, plan.n_steps - start)
            g0 = plan.run_step0 + start
            ext_chunk = plan.ext[start : start + count] if plan.ext_mode else plan.ext
            rate_chunk = rates[start : start + count] if rates.shape[0] > 1 else rates
            drive = Drive(
                plan.bias, self.noise_std, self._noise_every, np.uint64(self.seed), plan.ext_mode,
                ext_chunk, plan.encoder,
            )  # fmt: skip
            record = Record(
                plan.record_spikes, spike_steps, spike_idx, n_recorded, plan.pop_counts[start:],
                plan.rec_idx, plan.record_every, plan.run_step0, plan.rec_v, plan.rec_u,
            )  # fmt: skip
            args = (
                plan.params, self._state, drive, recurrent[mode], plan.synapse,
                self._homeostasis_args, plan.poisson_by_mode[mode]._replace(rates=rate_chunk), g0,
                count, record,
            )  # fmt: skip
            with deferred_interrupt():  # Ctrl-C is raised once this chunk is accounted for
                status, err_step, err_neuron, n_recorded, spike_steps, spike_idx = self._run_chunk(
                    loops[mode], mode, count, args, chooser, plan.pop_counts[start : start + count]
                )
                steps_by_mode[mode] += count
                if status == net.STATUS_NONFINITE:
                    self.step = err_step + 1
                    raise NonFiniteStateError(
                        err_step - plan.run_step0, err_neuron, "v/u", self.dt_ms
                    )
                self.step = g0 + count
                start += count
                bar.update(count)
        self._note_thread_use(steps_by_mode, chooser)
        return spike_steps, spike_idx, n_recorded

    def _cpu_loops(self) -> dict[str, Any]:
        """The loops a CPU run may use, by mode; the first is the one used without a chooser."""
        if self.backend == "numpy":
            return {SERIAL: net.run_network_numpy}
        serial = {SERIAL: net.run_network_numba_serial}
        if self.n_threads == 1:
            return serial
        return {THREADED: net.run_network_numba_parallel, **serial}

    def _run_chunk(self, loop, mode, count, args, chooser, counts):
        """``loop(*args)``, on ``n_threads`` threads when threaded, timed for ``chooser``. A chunk
        during which Numba compiled the loop is no measure of its speed: it is not timed.
        ``counts`` (the chunk's spikes per step, filled by the loop) give its work: a step
        plus, per spike, its synaptic events at half a neuron update each (measured on the 10k
        network: 0.39 ns per event, 0.76 ns per neuron and step with the noise)."""
        threads = numba_threads(self.n_threads) if mode == THREADED else contextlib.nullcontext()
        with threads:
            if chooser is None:
                return loop(*args)
            compiled = len(loop.overloads)
            began, cpu_began = chooser.clock(), time.process_time()
            out = loop(*args)
            seconds, cpu_seconds = chooser.clock() - began, time.process_time() - cpu_began
        fair = len(loop.overloads) == compiled
        events_per_spike = self._csr[1].shape[0] / max(self.n_neurons, 1)
        work = count + 0.5 * events_per_spike * float(counts.sum()) / max(self.n_neurons, 1)
        chooser.record(mode, count, seconds if fair else None, cpu_seconds, work)
        return out

    def _note_thread_use(self, steps_by_mode: dict[str, int], chooser) -> None:
        """Set :attr:`thread_stats` for the run just finished: ``threads``, ``automatic``,
        ``steps_threaded``, ``steps_serial``, ``threaded_fraction``, ``switches`` and
        ``probes`` of the fallback, ``contended_chunks`` (threaded chunks whose threads lacked
        their cores) and (automatic mode) each loop's last ``seconds_per_step`` (seconds per
        step of average work)."""
        total = steps_by_mode[THREADED] + steps_by_mode[SERIAL]
        stats: dict[str, Any] = {
            "threads": self.n_threads,
            "automatic": self.threads_automatic,
            "steps_threaded": steps_by_mode[THREADED],
            "steps_serial": steps_by_mode[SERIAL],
            "threaded_fraction": steps_by_mode[THREADED] / total if total else math.nan,
            "switches": 0,
            "probes": 0,
            "contended_chunks": 0,
        }
        if chooser is not None:
            summary = chooser.summary()
            stats.update(
                switches=summary["switches"],
                probes=summary["probes"],
                contended_chunks=summary["contended_chunks"],
                seconds_per_step=summary["seconds_per_step"],
            )
        self.thread_stats = stats

    def _run_cuda(self, plan: _RunPlan, bar):
        """Runs the CUDA loop chunk by chunk (a chunk whose spikes overflow the device buffer
        runs again with room for all). Returns the recorded spikes ``(steps, neurons, count)``."""
        from numba import cuda

        to_dev = cuda.to_device
        n = self.n_neurons
        d_params = NeuronParams(
            *(to_dev(x) if isinstance(x, np.ndarray) else x for x in plan.params)
        )
        d_state = NetworkState(*(to_dev(x) for x in self._state))
        d_bias, d_std = to_dev(plan.bias), to_dev(self.noise_std)
        d_encoder = to_dev(plan.encoder)
        d_recurrent = Recurrent(*(to_dev(x) for x in self._csr), None)
        d_homeostasis = self._homeostasis_args._replace(
            target_hz=to_dev(self._homeostasis_args.target_hz),
            gain_step=to_dev(self._homeostasis_args.gain_step),
        )
        poisson = plan.poisson_by_mode[SERIAL]
        rates = poisson.rates
        d_poisson_csr = (to_dev(poisson.indptr), to_dev(poisson.indices), to_dev(poisson.weights))
        d_rec_idx = to_dev(plan.rec_idx)
        d_rec_v, d_rec_u = to_dev(plan.rec_v), to_dev(plan.rec_u)
        capacity = max(65536, n * plan.chunk // 20) if plan.record_spikes else 0
        steps_out, idx_out = [], []
        try:
            for start in range(0, plan.n_steps, plan.chunk):
                with deferred_interrupt():  # raised once this chunk is accounted for
                    count = min(plan.chunk, plan.n_steps - start)
                    g0 = plan.run_step0 + start
                    d_ext = to_dev(
                        np.ascontiguousarray(
                            plan.ext[start : start + count] if plan.ext_mode else plan.ext
                        )
                    )
                    d_rates = to_dev(
                        np.ascontiguousarray(
                            rates[start : start + count] if rates.shape[0] > 1 else rates
                        )
                    )
                    drive = Drive(d_bias, d_std, self._noise_every, np.uint64(self.seed),
                                  plan.ext_mode, d_ext, d_encoder)  # fmt: skip
                    d_counts = cuda.device_array(count, np.int32)
                    snapshot = (
                        [to_dev(x.copy_to_host()) for x in d_state] if plan.record_spikes else None
                    )
                    while True:
                        d_buf = cuda.device_array((capacity, 2), np.int64)
                        d_base = to_dev(np.zeros(1, np.int64))
                        record = CudaRecord(d_buf, d_base, d_counts, d_rec_idx, plan.record_every,
                                            plan.run_step0, d_rec_v, d_rec_u)  # fmt: skip
                        status, err_step, err_neuron = net.run_network_cuda(
                            d_params, d_state, drive, d_recurrent, plan.synapse, d_homeostasis,
                            PoissonDrive(d_rates, *d_poisson_csr, None), g0, count, record,
                        )  # fmt: skip
                        fired = int(d_base.copy_to_host()[0])
                        if status != net.STATUS_OK or fired <= capacity:
                            break
                        # more spikes than the buffer holds: replay the chunk with room for all
                        capacity = int(fired * 1.25) + 1
                        for dst, src in zip(d_state, snapshot, strict=True):
                            dst.copy_to_device(src)
                    if status == net.STATUS_NONFINITE:
                        self._state = NetworkState(*(x.copy_to_host() for x in d_state))
                        self.step = err_step + 1
                        raise NonFiniteStateError(
                            err_step - plan.run_step0, err_neuron, "v/u", self.dt_ms
                        )
                    plan.pop_counts[start : start + count] = d_counts.copy_to_host()
                    if plan.record_spikes and fired:
                        pairs = d_buf.copy_to_host()[:fired]
                        steps_out.append(pairs[:, 0] + g0)
                        idx_out.append(pairs[:, 1].astype(np.int32))
                    self.step = g0 + count
                    bar.update(count)
        except KeyboardInterrupt:
            self._state = NetworkState(*(x.copy_to_host() for x in d_state))
            raise
        self._state = NetworkState(*(x.copy_to_host() for x in d_state))
        plan.rec_v[...] = d_rec_v.copy_to_host()
        plan.rec_u[...] = d_rec_u.copy_to_host()
        if steps_out:
            steps = np.concatenate(steps_out)
            return steps, np.concatenate(idx_out), steps.size
        return np.zeros(0, np.int64), np.zeros(0, np.int32), 0

    # ------------------------------------------------------------------------------------------
    def _check_weights(self, weights: Any, n: int) -> SparseWeights:
        if weights is None:
            indptr, indices, values = _empty_csr(n, self.dtype)
            return SparseWeights(indptr, indices, values, n, n)
        if isinstance(weights, SparseWeights):
            if weights.n_pre != n or weights.n_post != n:
                raise ValueError(
                    f"weights must connect the {n} neurons to themselves; "
                    f"got {weights.n_pre} x {weights.n_post}"
                )
            return weights
        dense = np.asarray(weights)
        if dense.shape != (n, n):
            raise ValueError(
                f"weights must be SparseWeights or a ({n}, {n}) array W[post, pre]; "
                f"got {dense.shape}"
            )
        if not np.all(np.isfinite(dense)):
            raise ValueError("weights must be finite")
        return SparseWeights.from_dense(dense, dtype=self.dtype)

    def _external(self, current: Any, n_steps: int):
        n = self.n_neurons
        no_ext = _scratch(np.zeros((1, 1))), _scratch(np.zeros((1, 1)))
        if current is None:
            return self.bias_current, 0, *no_ext
        if isinstance(current, CurrentInput):
            if current.encoder.shape[0] != n:
                raise ValueError(
                    f"current.encoder must have {n} rows (neurons, channels); "
                    f"got {current.encoder.shape}"
                )
            try:
                signal = current.per_step(n_steps, self.dt_ms)
            except ValueError as exc:
                raise ValueError(f"current.{exc}") from None
            # the kernels read the encoder by channel: (K, N)
            return self.bias_current, 2, _scratch(signal), _scratch(current.encoder.T)
        array = np.asarray(current, dtype=np.float64)
        if not np.all(np.isfinite(array)):
            raise ValueError("current must be finite (found NaN or inf)")
        if array.shape == (n,):
            return self.bias_current + array, 0, *no_ext
        if array.shape == (n_steps, n):
            return self.bias_current, 1, _scratch(array), no_ext[1]
        raise ValueError(
            f"current must have shape ({n},) or (steps, neurons) = ({n_steps}, {n}); "
            f"got {array.shape}"
        )

    def _poisson(self, poisson: PoissonInput | None, n_steps: int) -> dict[str, PoissonDrive]:
        """The kernels' ``poisson`` for each loop (its synapses split like the recurrent ones:
        whole rows for the serial loop, one part per thread for the threaded one)."""
        n = self.n_neurons
        if poisson is None:
            indptr, indices, values = _empty_csr(0, self.dtype)
            rates = _scratch(np.zeros((1, 0)))
            return {
                mode: PoissonDrive(rates, indptr, indices, values, splits)
                for mode, splits in self._split_by_mode(indptr, indices, n).items()
            }
        if not isinstance(poisson, PoissonInput):
            raise TypeError(f"poisson must be a PoissonInput; got {type(poisson).__name__}")
        if poisson.weights.n_post != n:
            raise ValueError(
                f"poisson.weights must target the {n} neurons; got {poisson.weights.n_post}"
            )
        try:
            rates = poisson.per_step(n_steps, self.dt_ms)
        except ValueError as exc:
            raise ValueError(f"poisson.{exc}") from None
        if np.any(rates * self.dt_ms * 1e-3 > 1.0):
            raise ValueError(f"poisson.rate_hz must be <= 1 / dt = {1000.0 / self.dt_ms} Hz")
        w = poisson.weights
        weights = _readonly(w.weights.astype(self.dtype, copy=False))
        rates, indptr, indices = _scratch(rates), _readonly(w.indptr), _readonly(w.indices)
        return {
            mode: PoissonDrive(rates, indptr, indices, weights, splits)
            for mode, splits in self._split_by_mode(w.indptr, w.indices, n).items()
        }

    def _split_by_mode(self, indptr, indices, n_post: int) -> dict[str, np.ndarray]:
        """The CSR rows split for each CPU loop: whole rows for the serial loop, one part per
        thread for the threaded one (computed once when the two are the same)."""
        serial = csr_partition(indptr, indices, n_post, 1)
        threaded = (
            serial
            if self.n_threads == 1
            else csr_partition(indptr, indices, n_post, self.n_threads)
        )
        return {SERIAL: serial, THREADED: threaded}

    def _recording(self, record_state, record_indices, record_every):
        """``(indices, names)`` of the state to sample, from :meth:`run`'s arguments, checked:
        ``record_state`` names from :data:`STATE_VARIABLES`, ``record_indices`` integer neuron
        indices in ``[0, N - 1]`` (``1.5`` is refused, naming it), ``record_every`` an integer
        >= 1 (a step count, so below ``2**62``)."""
        if isinstance(record_state, str):
            names = (record_state,)
        elif isinstance(record_state, Iterable):
            names = tuple(record_state)
        else:
            raise TypeError(
                f"record_state must be a name or a sequence of names from {STATE_VARIABLES}; "
                f"got {record_state!r}"
            )
        for i, name in enumerate(names):
            if not isinstance(name, str):
                raise TypeError(
                    f"record_state must hold names from {STATE_VARIABLES}; record_state[{i}] "
                    f"is {name!r} ({type(name).__name__})"
                )
            if name not in STATE_VARIABLES:
                raise ValueError(
                    f"record_state must name variables from {STATE_VARIABLES}; "
                    f"record_state[{i}] is {name!r}"
                )
        record_every = check_int("record_every", record_every, minimum=1, maximum=2**62)
        n = self.n_neurons
        if record_indices is not None:
            idx = check_index_array("record_indices", record_indices, n)
        else:
            idx = np.unique(np.linspace(0, n - 1, min(n, 20)).round().astype(np.int64))
        if not names:
            return np.zeros(0, np.int64), names
        return idx, names


class IzhikevichReservoir(SpikingReservoir):
    """A :class:`SpikingReservoir` of Izhikevich neurons (an :class:`IzhikevichPopulation`)."""

    _POPULATIONS = (IzhikevichPopulation,)

    @classmethod
    def izhikevich_2003(
        cls,
        n_exc: int = 800,
        n_inh: int = 200,
        *,
        p: float | None = 1.0,
        in_degree: int | None = None,
        dt_ms: float = 0.1,
        noise_std_exc: float = 5.0,
        noise_std_inh: float = 2.0,
        backend: str = "auto",
        dtype: Any = np.float32,
        precision: str = "float64",
        seed: int = 0,
        n_threads: int | None = None,
    ) -> IzhikevichReservoir:
        """The network of Izhikevich (2003), "Simple model of spiking neurons", scaled to any size.

        ``n_exc`` excitatory and ``n_inh`` inhibitory heterogeneous neurons; weights
        ``0.5 U(0,1)`` (excitatory) and ``-U(0,1)`` (inhibitory), connected with probability
        ``p`` or a fixed ``in_degree``, scaled by ``1000 / K`` so that every size receives the
        mean input of the original all-to-all 1000-neuron network; thalamic noise of standard
        deviation 5 (excitatory) and 2 (inhibitory) held for 1 ms; delta synapses.
        """
        _check_seed(seed)
        if in_degree is not None:
            p = None
        _check_population_memory(n_exc, n_inh)
        population = IzhikevichPopulation.izhikevich_2003(n_exc, n_inh, seed=seed)
        weights = izhikevich_2003_weights(population, p=p, in_degree=in_degree, seed=seed)
        noise = np.where(population.excitatory, noise_std_exc, noise_std_inh)
        return cls(
            population,
            weights,
            synapse="delta",
            noise_std=noise,
            noise_interval_ms=1.0,
            dt_ms=dt_ms,
            backend=backend,
            dtype=dtype,
            precision=precision,
            seed=seed,
            n_threads=n_threads,
        )


class LIFReservoir(SpikingReservoir):
    """A :class:`SpikingReservoir` of leaky integrate-and-fire neurons (an
    :class:`LIFPopulation`)."""

    _POPULATIONS = (LIFPopulation,)
