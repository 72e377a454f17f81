"""The cue-driven Izhikevich reservoir of the "what and when" paradigm, and its readout traces.

The reservoir is a heterogeneous population of 2007-form Izhikevich neurons (Nicola & Clopath
2017's parameters: ``C = 250`` pF, ``k = 2.5`` nS/mV, ``v_r = -60``, ``v_t = -40``,
``v_peak = 30``, reset ``-65`` mV) with spike-triggered adaptation whose time constant
``1 / a`` is log-uniform over ``tau_adapt_ms`` (10 to 500 ms by default) and whose jump ``d`` is
uniform over ``adapt_jump_pa``: after a cue comes on, each driven neuron's rate relaxes on its
own time scale, and the neurons they excite and inhibit follow, so the population state keeps
changing, reproducibly, for hundreds of milliseconds. Inhibitory neurons adapt fast
(``1 / a = 20`` ms, ``d = 20`` pA). Synapses are sparse, obey Dale's law and deliver
exponentially decaying currents; every neuron gets a constant bias current (uniform over
``bias_pa``, around rheobase) and a Gaussian noise current redrawn every millisecond.

Each cue drives its own random subset of neurons (``cue_fraction`` of them, subsets drawn
independently) with a sustained current uniform over ``cue_drive_pa``, from cue onset to the
end of the trial.

Every trial starts from the same rest state with its own noise seed, so trials of one cue
repeat up to noise. The readout sees spikes filtered by an exponential of ``trace_tau_ms``,
sampled every ``dt_ms``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from spikesub.models.network.connectivity import dale_weights, random_connectivity
from spikesub.models.network.inputs import CurrentInput
from spikesub.models.network.monitors import SpikeTrains
from spikesub.models.network.neurons import IzhikevichPopulation
from spikesub.models.network.reservoir import IzhikevichReservoir

INHIBITORY_TAU_ADAPT_MS = 20.0
INHIBITORY_ADAPT_JUMP_PA = 20.0


def _pair(name: str, value: Any, *, minimum: float = 0.0, strict: bool = False) -> tuple:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a (low, high) pair of numbers; got {value!r}") from None
    ok = math.isfinite(low) and math.isfinite(high) and low <= high
    ok = ok and (low > minimum if strict else low >= minimum)
    if not ok:
        op = ">" if strict else ">="
        raise ValueError(
            f"{name} must be a finite (low, high) pair with {op} {minimum} and low <= high; "
            f"got {value!r}"
        )
    return (low, high)


@dataclass(frozen=True)
class ReservoirParams:
    """Parameters of the cue-driven reservoir (currents in pA, times in ms)."""

    n_neurons: int = 1000
    excitatory_fraction: float = 0.8
    connection_p: float = 0.1
    w_exc_pa: float = 30.0
    w_inh_pa: float = 120.0
    tau_syn_ms: float = 10.0
    tau_adapt_ms: tuple[float, float] = (10.0, 500.0)
    adapt_jump_pa: tuple[float, float] = (50.0, 300.0)
    bias_pa: tuple[float, float] = (150.0, 250.0)
    noise_std_pa: float = 20.0
    n_cues: int = 4
    cue_fraction: float = 0.12
    cue_drive_pa: tuple[float, float] = (100.0, 500.0)
    dt_ms: float = 0.25
    trace_tau_ms: float = 30.0

    def __post_init__(self) -> None:
        if isinstance(self.n_neurons, bool) or not isinstance(self.n_neurons, (int, np.integer)):
            raise TypeError(f"n_neurons must be an integer >= 10; got {self.n_neurons!r}")
        if self.n_neurons < 10:
            raise ValueError(f"n_neurons must be an integer >= 10; got {self.n_neurons}")
        for name in ("excitatory_fraction", "connection_p", "cue_fraction"):
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1]; got {value}")
        if self.cue_fraction * self.n_neurons < 1:
            raise ValueError(
                f"cue_fraction must give each cue at least one neuron; got {self.cue_fraction} "
                f"of {self.n_neurons}"
            )
        for name in ("w_exc_pa", "w_inh_pa", "noise_std_pa"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be finite and >= 0; got {value}")
        for name in ("tau_syn_ms", "dt_ms", "trace_tau_ms"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be finite and > 0; got {value}")
        if isinstance(self.n_cues, bool) or not isinstance(self.n_cues, (int, np.integer)):
            raise TypeError(f"n_cues must be an integer >= 1; got {self.n_cues!r}")
        if self.n_cues < 1:
            raise ValueError(f"n_cues must be an integer >= 1; got {self.n_cues}")
        object.__setattr__(
            self, "tau_adapt_ms", _pair("tau_adapt_ms", self.tau_adapt_ms, strict=True)
        )
        object.__setattr__(self, "adapt_jump_pa", _pair("adapt_jump_pa", self.adapt_jump_pa))
        object.__setattr__(self, "bias_pa", _pair("bias_pa", self.bias_pa, minimum=-math.inf))
        object.__setattr__(self, "cue_drive_pa", _pair("cue_drive_pa", self.cue_drive_pa))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class TrialActivity:
    """What one trial of the reservoir produced.

    Attributes:
        traces: ``(n_steps, n_neurons)`` float32 filtered spikes, one row per readout step.
        spikes: the trial's spike trains (times in ms from trial start).
        mean_rate_hz: population mean firing rate over the trial.
    """

    traces: np.ndarray
    spikes: SpikeTrains
    mean_rate_hz: float


def filter_spikes(
    times_ms: np.ndarray,
    indices: np.ndarray,
    n_neurons: int,
    n_steps: int,
    *,
    tau_ms: float,
    dt_ms: float = 1.0,
) -> np.ndarray:
    """Exponentially filtered spike trains sampled every ``dt_ms``.

    Step ``k`` counts the spikes in ``[k dt, (k + 1) dt)`` ms and
    ``x[k] = x[k - 1] exp(-dt / tau) + count[k]``, from ``x[-1] = 0``: each spike adds 1,
    which then decays with ``tau_ms``.

    Args:
        times_ms: ``(n_spikes,)`` spike times in ms from the start of the recording.
        indices: ``(n_spikes,)`` neuron of each spike.
        n_neurons: population size.
        n_steps: rows of the result; spikes at or after ``n_steps * dt_ms`` are ignored.
        tau_ms: filter time constant (> 0).
        dt_ms: sampling step (> 0).

    Returns:
        ``(n_steps, n_neurons)`` float32.
    """
    if not (math.isfinite(tau_ms) and tau_ms > 0):
        raise ValueError(f"tau_ms must be finite and > 0; got {tau_ms}")
    if not (math.isfinite(dt_ms) and dt_ms > 0):
        raise ValueError(f"dt_ms must be finite and > 0; got {dt_ms}")
    times_ms = np.asarray(times_ms, dtype=np.float64)
    indices = np.asarray(indices, dtype=np.int64)
    if times_ms.shape != indices.shape:
        raise ValueError(
            f"times_ms and indices must have the same shape; got {times_ms.shape} and "
            f"{indices.shape}"
        )
    steps = np.floor(times_ms / dt_ms).astype(np.int64)
    keep = (steps >= 0) & (steps < n_steps)
    flat = steps[keep] * n_neurons + indices[keep]
    counts = np.bincount(flat, minlength=n_steps * n_neurons).astype(np.float32)
    counts = counts.reshape(n_steps, n_neurons)
    decay = np.float32(math.exp(-dt_ms / tau_ms))
    out = counts  # filtered in place, row by row
    for k in range(1, n_steps):
        out[k] += decay * out[k - 1]
    return out


class CueReservoir:
    """An :class:`IzhikevichReservoir` with one input current per cue.

    Build with :meth:`build`. :meth:`run_trial` simulates one trial from the rest state and
    returns the readout traces.

    Args:
        reservoir: the network.
        encoders: ``(n_neurons, n_cues)`` current (pA) each cue injects into each neuron
            (``W[post, pre]``, as every weight matrix in spikesub).
        trace_tau_ms: time constant of the readout traces.
        readout_dt_ms: sampling step of the readout traces.
    """

    def __init__(
        self,
        reservoir: IzhikevichReservoir,
        encoders: np.ndarray,
        *,
        trace_tau_ms: float = 30.0,
        readout_dt_ms: float = 1.0,
    ) -> None:
        encoders = np.asarray(encoders, dtype=np.float64)
        if encoders.ndim != 2 or encoders.shape[0] != reservoir.n_neurons:
            raise ValueError(
                f"encoders must be ({reservoir.n_neurons}, n_cues); got {encoders.shape}"
            )
        ratio = readout_dt_ms / reservoir.dt_ms
        if not math.isclose(ratio, round(ratio), rel_tol=1e-9) or round(ratio) < 1:
            raise ValueError(
                f"readout_dt_ms must be a whole multiple of the simulation dt_ms = "
                f"{reservoir.dt_ms}; got {readout_dt_ms}"
            )
        self.reservoir = reservoir
        self.encoders = encoders
        self.trace_tau_ms = float(trace_tau_ms)
        self.readout_dt_ms = float(readout_dt_ms)
        self.base_seed = reservoir.seed

    @classmethod
    def build(
        cls, params: ReservoirParams, *, seed: int = 0, backend: str = "auto"
    ) -> CueReservoir:
        """The network described in this module's docstring, drawn from ``seed``."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
        ss = np.random.SeedSequence(int(seed))
        s_pop, s_conn, s_w, s_cue = (int(s.generate_state(1)[0]) for s in ss.spawn(4))
        n = int(params.n_neurons)
        rng = np.random.default_rng(s_pop)
        n_exc = int(round(params.excitatory_fraction * n))
        excitatory = np.arange(n) < n_exc
        lo, hi = params.tau_adapt_ms
        tau_adapt = np.exp(rng.uniform(math.log(lo), math.log(hi), n))
        jump = rng.uniform(*params.adapt_jump_pa, n)
        tau_adapt[~excitatory] = INHIBITORY_TAU_ADAPT_MS
        jump[~excitatory] = INHIBITORY_ADAPT_JUMP_PA
        bias = rng.uniform(*params.bias_pa, n)
        population = IzhikevichPopulation.izhikevich_2007(
            n, a=1.0 / tau_adapt, d=jump, excitatory=excitatory, v_init=-60.0, u_init=0.0
        )
        conn = random_connectivity(n, n, p=params.connection_p, allow_autapses=False, seed=s_conn)
        weights = dale_weights(
            conn, excitatory, w_exc=(0.0, params.w_exc_pa), w_inh=(0.0, params.w_inh_pa), seed=s_w
        )
        reservoir = IzhikevichReservoir(
            population,
            weights,
            synapse="exponential",
            tau_syn_ms=params.tau_syn_ms,
            bias_current=bias,
            noise_std=params.noise_std_pa,
            noise_interval_ms=1.0,
            dt_ms=params.dt_ms,
            backend=backend,
            seed=int(seed),
        )
        cue_rng = np.random.default_rng(s_cue)
        n_driven = max(1, int(round(params.cue_fraction * n)))
        encoders = np.zeros((n, params.n_cues))
        for cue in range(params.n_cues):
            driven = cue_rng.choice(n, n_driven, replace=False)
            encoders[driven, cue] = cue_rng.uniform(*params.cue_drive_pa, n_driven)
        return cls(reservoir, encoders, trace_tau_ms=params.trace_tau_ms)

    @property
    def n_neurons(self) -> int:
        return self.reservoir.n_neurons

    @property
    def n_cues(self) -> int:
        return int(self.encoders.shape[1])

    @property
    def excitatory(self) -> np.ndarray:
        return np.asarray(self.reservoir.population.excitatory, dtype=bool)

    def run_trial(
        self, cue: int, duration_ms: float, onset_ms: float, noise_seed: int
    ) -> TrialActivity:
        """Simulate one trial from the rest state.

        Args:
            cue: which cue comes on at ``onset_ms`` (and stays on).
            duration_ms: trial length (ms).
            onset_ms: cue onset (ms from trial start).
            noise_seed: seed of this trial's noise (int >= 0).

        Returns:
            the trial's traces ``(round(duration_ms / readout_dt_ms), n_neurons)`` and spikes.
        """
        if not 0 <= cue < self.n_cues:
            raise ValueError(f"cue must be in [0, {self.n_cues - 1}]; got {cue}")
        if isinstance(noise_seed, bool) or not isinstance(noise_seed, (int, np.integer)):
            raise TypeError(f"noise_seed must be an integer >= 0; got {noise_seed!r}")
        if noise_seed < 0:
            raise ValueError(f"noise_seed must be an integer >= 0; got {noise_seed}")
        res = self.reservoir
        res.reset_state()
        res.seed = int(noise_seed)
        n_sim = int(round(duration_ms / res.dt_ms))
        signal = np.zeros((n_sim, 1))
        signal[int(round(onset_ms / res.dt_ms)) :, 0] = 1.0
        result = res.run(
            n_sim * res.dt_ms,
            current=CurrentInput(signal, self.encoders[:, cue : cue + 1]),
            progress=False,
        )
        spikes = result.spikes
        n_steps = int(round(duration_ms / self.readout_dt_ms))
        traces = filter_spikes(
            spikes.times_ms,
            spikes.indices,
            self.n_neurons,
            n_steps,
            tau_ms=self.trace_tau_ms,
            dt_ms=self.readout_dt_ms,
        )
        rate = len(spikes) / self.n_neurons / (duration_ms / 1000.0)
        return TrialActivity(traces=traces, spikes=spikes, mean_rate_hz=float(rate))
