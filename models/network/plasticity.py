"""Plasticity inside the network: STDP and reward-modulated STDP on recurrent synapses.

:class:`STDP` and :class:`RewardSTDP` are the rules (validated parameters; the kernels and
the exact order of operations per step are in :mod:`spikesub.kernels.stdp`).
:class:`PlasticNetwork` is an Izhikevich (2003) network whose recurrent synapses learn by one
of them while it runs (:mod:`spikesub.kernels.plastic_network`). It keeps its state between
calls of :meth:`PlasticNetwork.run` (a run cut into several calls gives the same bits as one
call), so a closed loop (a reward that depends on what the network did) is a loop over short
calls.

Units: time in ms, rates in 1/ms where marked, weights in the 2003 model's current units (a
weight ``w`` raises the target's ``v`` by about ``w`` mV on the next step). Weights follow the
project's convention: CSR by presynaptic row, dense ``W[post, pre]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spikesub.kernels.backends import resolve_backend
from spikesub.kernels.plastic_network import (
    Dopamine,
    Neurons2003,
    NoiseDrive,
    plastic_run_cuda,
    plastic_run_numba,
    plastic_run_numpy,
)
from spikesub.kernels.stdp import (
    BOUND_ADDITIVE,
    BOUND_MULTIPLICATIVE,
    TRACE_ADDITIVE,
    TRACE_NEAREST,
    STDPRule,
    STDPState,
    plastic_synapses,
)
from spikesub.models.errors import NonFiniteStateError
from spikesub.models.network.connectivity import SparseWeights
from spikesub.models.network.monitors import SpikeTrains
from spikesub.models.network.neurons import IzhikevichPopulation
from spikesub.models.validation import check_choice, check_int, check_real

__all__ = ["STDP", "PlasticNetwork", "PlasticRun", "RewardSTDP"]

BOUNDS = ("additive", "multiplicative")
TRACES = ("additive", "nearest")
SAME_STEP = ("ltp", "ltd")
_RUNS = {"numpy": plastic_run_numpy, "numba": plastic_run_numba, "cuda": plastic_run_cuda}


@dataclass(frozen=True, kw_only=True)
class STDP:
    """Pair-based STDP with traces.

    One pre-before-post pair ``dt`` ms apart changes the weight by
    ``a_plus * exp(-dt / tau_plus_ms)``, one post-before-pre pair by
    ``-a_minus * exp(-dt / tau_minus_ms)`` (times ``(w_max - w)`` or ``(w - w_min)`` with
    ``bounds="multiplicative"``).

    Attributes:
        a_plus: LTP amplitude (weight units, >= 0).
        a_minus: LTD amplitude (weight units, >= 0; the change is negative).
        tau_plus_ms: presynaptic trace time constant (ms, > 0).
        tau_minus_ms: postsynaptic trace time constant (ms, > 0).
        w_min, w_max: weight bounds (``w_min < w_max``).
        bounds: ``"additive"`` (hard clip to the bounds) or ``"multiplicative"`` (soft bounds).
        trace: ``"additive"`` (a spike adds 1 to its trace: all pairs count) or ``"nearest"``
            (a spike sets its trace to 1: only the nearest earlier spike counts).
        same_step: what a presynaptic and a postsynaptic spike in the same step count as:
            ``"ltp"`` (pre-before-post, ``+a_plus``; Brian2's order) or ``"ltd"``
            (post-before-pre, ``-a_minus``: the order of Izhikevich's published code, where a
            spike reaches its target one step later, so a postsynaptic spike of the same step
            cannot have been caused by it). With ``"ltd"`` a pair ``k >= 1`` steps apart,
            pre first, gives ``a_plus * exp(-k dt / tau_plus_ms)``, and post first, ``k >= 0``
            steps apart, ``-a_minus * exp(-k dt / tau_minus_ms)``.
    """

    a_plus: float = 0.01
    a_minus: float = 0.0105
    tau_plus_ms: float = 20.0
    tau_minus_ms: float = 20.0
    w_min: float = 0.0
    w_max: float = 1.0
    bounds: str = "additive"
    trace: str = "additive"
    same_step: str = "ltp"

    def __post_init__(self) -> None:
        for name in ("a_plus", "a_minus"):
            object.__setattr__(self, name, check_real(name, getattr(self, name), low=0.0))
        for name in ("tau_plus_ms", "tau_minus_ms"):
            value = check_real(name, getattr(self, name), low=0.0, low_open=True)
            object.__setattr__(self, name, value)
        w_min = check_real("w_min", self.w_min)
        w_max = check_real("w_max", self.w_max)
        if not w_min < w_max:
            raise ValueError(f"w_max must be > w_min; got w_min={w_min}, w_max={w_max}")
        object.__setattr__(self, "w_min", w_min)
        object.__setattr__(self, "w_max", w_max)
        object.__setattr__(self, "bounds", check_choice("bounds", self.bounds, BOUNDS))
        object.__setattr__(self, "trace", check_choice("trace", self.trace, TRACES))
        same_step = check_choice("same_step", self.same_step, SAME_STEP)
        object.__setattr__(self, "same_step", same_step)

    def kernel_rule(self, dt_ms: float, *, to_eligibility: bool = False) -> STDPRule:
        """The kernels' :class:`~spikesub.kernels.stdp.STDPRule` for steps of ``dt_ms``."""
        dt_ms = check_real("dt_ms", dt_ms, low=0.0, low_open=True)
        return STDPRule(
            self.a_plus, self.a_minus, math.exp(-dt_ms / self.tau_plus_ms),
            math.exp(-dt_ms / self.tau_minus_ms),
            TRACE_NEAREST if self.trace == "nearest" else TRACE_ADDITIVE,
            BOUND_MULTIPLICATIVE if self.bounds == "multiplicative" else BOUND_ADDITIVE,
            self.w_min, self.w_max, bool(to_eligibility), self.same_step == "ltd",
        )  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class RewardSTDP:
    """Reward-modulated STDP (Izhikevich 2007): STDP fills an eligibility trace per synapse,
    and dopamine turns it into weight changes.

    ``dc/dt = -c / tau_e_ms + STDP(pairs)``, ``dw/dt = lr * (tonic_dopamine + d) * c``,
    ``dd/dt = -d / tau_dopamine_ms + reward(t)``; the weight step is taken every
    ``update_every_ms`` (the kernels' docstring gives the discrete form).

    Attributes:
        stdp: the pairing rule whose changes go into the eligibility (its bounds bound w).
        tau_e_ms: eligibility time constant (ms, > 0; Izhikevich: 1000, his code 995).
        tau_dopamine_ms: dopamine time constant (ms, > 0; Izhikevich: 200, his code 199.5).
        lr: learning rate in 1/ms per unit of dopamine (>= 0).
        tonic_dopamine: dopamine level always present (>= 0; Izhikevich's code: 0.002).
        update_every_ms: ms between weight updates (> 0, a multiple of the network's dt_ms).
    """

    stdp: STDP = field(default_factory=STDP)
    tau_e_ms: float = 1000.0
    tau_dopamine_ms: float = 200.0
    lr: float = 0.1
    tonic_dopamine: float = 0.002
    update_every_ms: float = 10.0

    def __post_init__(self) -> None:
        if not isinstance(self.stdp, STDP):
            raise TypeError(f"stdp must be an STDP rule; got {type(self.stdp).__name__}")
        for name in ("tau_e_ms", "tau_dopamine_ms", "update_every_ms"):
            value = check_real(name, getattr(self, name), low=0.0, low_open=True)
            object.__setattr__(self, name, value)
        for name in ("lr", "tonic_dopamine"):
            object.__setattr__(self, name, check_real(name, getattr(self, name), low=0.0))

    @classmethod
    def izhikevich_2007(cls) -> RewardSTDP:
        """The rule of Izhikevich (2007) as his published code (daspnet.m) steps it with 1 ms
        steps: a spike sets its trace to 0.1 (nearest-spike pairing) and the traces decay by
        0.95 per ms (``tau = -1 / ln 0.95 = 19.5`` ms; the paper's 20 ms); a postsynaptic
        spike adds the presynaptic trace to the eligibility ``sd`` (``A+ = 0.1``), a
        presynaptic spike subtracts 1.5 times the postsynaptic trace (``A- = 0.15``), a pair
        in the same step counting as post-before-pre (``same_step="ltd"``); every 10 ms the
        weights move by ``(0.002 + DA) * sd``, clipped to [0, 4], and ``sd`` decays by 0.99
        (``tau_c = -10 / ln 0.99 = 995`` ms; the paper's 1 s); the dopamine decays by 0.995
        per ms (``tau_DA = 199.5`` ms; the paper's 0.2 s). The code's LTP at a lag of ``k``
        ms is ``0.1 * 0.95**(k - 1)``: with this module's order (the traces decay before the
        events of a step) that is ``a_plus = 0.1 / 0.95``."""
        tau = -1.0 / math.log(0.95)
        stdp = STDP(
            a_plus=0.1 / 0.95, a_minus=0.15, tau_plus_ms=tau, tau_minus_ms=tau, w_min=0.0,
            w_max=4.0, bounds="additive", trace="nearest", same_step="ltd",
        )  # fmt: skip
        return cls(
            stdp=stdp, tau_e_ms=-10.0 / math.log(0.99), tau_dopamine_ms=-1.0 / math.log(0.995),
            lr=0.1, tonic_dopamine=0.002, update_every_ms=10.0,
        )  # fmt: skip

    def update_every_steps(self, dt_ms: float) -> int:
        """``update_every_ms`` in steps of ``dt_ms``; ValueError if it is not a multiple."""
        steps = self.update_every_ms / dt_ms
        if abs(steps - round(steps)) > 1e-9 * max(1.0, steps) or round(steps) < 1:
            raise ValueError(
                f"update_every_ms must be a whole number of steps of dt_ms={dt_ms}; "
                f"got {self.update_every_ms}"
            )
        return int(round(steps))

    def dopamine(self, dt_ms: float) -> Dopamine:
        """The kernels' :class:`~spikesub.kernels.plastic_network.Dopamine` for ``dt_ms``."""
        k = self.update_every_steps(dt_ms)
        return Dopamine(
            math.exp(-dt_ms / self.tau_dopamine_ms), self.tonic_dopamine,
            self.lr * k * dt_ms, k, math.exp(-k * dt_ms / self.tau_e_ms),
        )  # fmt: skip


@dataclass
class PlasticRun:
    """What one call of :meth:`PlasticNetwork.run` recorded.

    Attributes:
        spikes: spike trains of the call (times in ms from the network's first step).
        dopamine: ``(n_steps,)`` float64 phasic dopamine level after each step (zeros for STDP).
        snapshot_times_ms: ``(n_snapshots,)`` float64 times of the weight snapshots.
        weight_snapshots: ``(n_snapshots, nnz)`` (or ``(n_snapshots, len(watch))``) weights.
        weights: ``(nnz,)`` the weights at the end of the call (a copy).
    """

    spikes: SpikeTrains
    dopamine: np.ndarray
    snapshot_times_ms: np.ndarray
    weight_snapshots: np.ndarray
    weights: np.ndarray


def _per_neuron(name: str, value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},); got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _plastic_flags(plastic: Any, weights: SparseWeights, excitatory: np.ndarray) -> np.ndarray:
    if isinstance(plastic, str):
        choice = check_choice("plastic", plastic, ("excitatory", "all"))
        if choice == "all":
            return np.ones(weights.nnz, bool)
        pre, _ = weights.pre_post()
        return np.ascontiguousarray(excitatory[pre])
    flags = np.asarray(plastic)
    if flags.dtype != bool or flags.shape != (weights.nnz,):
        raise ValueError(
            f"plastic must be 'excitatory', 'all' or a (nnz,) = ({weights.nnz},) bool array; "
            f"got {flags.dtype} array of shape {flags.shape}"
        )
    return np.ascontiguousarray(flags)


class PlasticNetwork:
    """An Izhikevich (2003) network whose recurrent synapses learn while it runs.

    Each step: uniform noise plus a bias drive every neuron, spikes reach their targets on the
    next step through the CSR weights (delta synapses), and the rule changes the plastic
    synapses (:mod:`spikesub.kernels.plastic_network` gives the exact order). With
    :class:`RewardSTDP`, ``run(..., reward=...)`` adds dopamine per step.

    Args:
        population: 2003-form :class:`~spikesub.models.network.neurons.IzhikevichPopulation`.
        weights: ``(N, N)`` :class:`~spikesub.models.network.connectivity.SparseWeights`; kept
            as a float64 copy that the rule changes.
        rule: :class:`STDP` or :class:`RewardSTDP`.
        plastic: ``"excitatory"`` (synapses from excitatory neurons only; default), ``"all"``
            or a ``(nnz,)`` bool array by CSR slot.
        dt_ms: time step (ms, > 0; Izhikevich 2007 uses 1 ms with two 0.5 ms sub-steps of v,
            set by the population's ``n_substeps``).
        bias: constant input current, scalar or ``(N,)``.
        noise_amp: noise half-width, scalar or ``(N,)``: each neuron gets ``U(-amp, amp)``
            every step (Izhikevich 2007: 6.5).
        seed: of the noise (int in [0, 2**63)): the same seed gives the same bits on "numpy"
            and "numba" (and on the CUDA simulator).
        backend: ``"numpy"``, ``"numba"``, ``"cuda"`` or ``"auto"``.
    """

    def __init__(
        self,
        population: IzhikevichPopulation,
        weights: SparseWeights,
        rule: STDP | RewardSTDP,
        *,
        plastic: Any = "excitatory",
        dt_ms: float = 1.0,
        bias: Any = 0.0,
        noise_amp: Any = 6.5,
        seed: int = 0,
        backend: str = "numba",
    ) -> None:
        if not isinstance(population, IzhikevichPopulation) or population.form != "2003":
            raise TypeError("population must be a 2003-form IzhikevichPopulation")
        if not isinstance(weights, SparseWeights):
            raise TypeError(f"weights must be SparseWeights; got {type(weights).__name__}")
        n = population.n
        if weights.shape != (n, n):
            raise ValueError(f"weights must be ({n}, {n}) like the population; got {weights.shape}")
        if not isinstance(rule, (STDP, RewardSTDP)):
            raise TypeError(f"rule must be STDP or RewardSTDP; got {type(rule).__name__}")
        self.population = population
        self.rule = rule
        self.dt_ms = check_real("dt_ms", dt_ms, low=0.0, low_open=True)
        self.seed = check_int("seed", seed, minimum=0, maximum=2**63 - 1)
        self.backend = resolve_backend(backend)
        stdp = rule.stdp if isinstance(rule, RewardSTDP) else rule
        reward_mod = isinstance(rule, RewardSTDP)
        self._rule = stdp.kernel_rule(self.dt_ms, to_eligibility=reward_mod)
        self._dopa = rule.dopamine(self.dt_ms) if reward_mod else Dopamine(1.0, 0.0, 0.0, 1, 1.0)
        flags = _plastic_flags(plastic, weights, population.excitatory)
        self._syn = plastic_synapses(weights.indptr, weights.indices, n, flags)
        self._neurons = Neurons2003(
            population.a, population.b, population.c, population.d, population.v_peak,
            population.n_substeps, self.dt_ms,
        )  # fmt: skip
        self._drive = NoiseDrive(
            _per_neuron("bias", bias, n), _per_neuron("noise_amp", noise_amp, n), self.seed
        )
        self._n = n
        self.reset(weights)

    # -- state --------------------------------------------------------------------------------

    def reset(self, weights: SparseWeights | None = None) -> None:
        """Back to the initial state (``v_init``, ``u_init``, empty traces, no dopamine, step 0),
        with ``weights`` (same structure) or the current weights."""
        n, nnz = self._n, self._syn.indices.shape[0]
        w = self.weights_array() if weights is None else np.array(weights.weights, np.float64)
        elig = np.zeros(nnz if self._rule.to_eligibility else 0)
        self._stdp = STDPState(np.zeros(n), np.zeros(n), w, elig)
        self._v = np.array(self.population.v_init, dtype=np.float64)
        self._u = np.array(self.population.u_init, dtype=np.float64)
        self._syn_in = np.zeros(n)
        self._level = np.zeros(1)
        self.step = 0

    @property
    def n(self) -> int:
        """Number of neurons."""
        return self._n

    @property
    def plastic(self) -> np.ndarray:
        """``(nnz,)`` bool, which synapses learn (by CSR slot); read-only view."""
        flags = self._syn.plastic.view()
        flags.flags.writeable = False
        return flags

    @property
    def eligibility(self) -> np.ndarray:
        """``(nnz,)`` float64 eligibility traces (a copy; zeros for plain STDP)."""
        if self._stdp.eligibility.shape[0] == 0:
            return np.zeros(self._syn.indices.shape[0])
        return self._stdp.eligibility.copy()

    @property
    def dopamine_level(self) -> float:
        """The phasic dopamine level now."""
        return float(self._level[0])

    def weights_array(self) -> np.ndarray:
        """``(nnz,)`` float64 current weights by CSR slot (a copy)."""
        return self._stdp.weights.copy()

    def sparse_weights(self) -> SparseWeights:
        """The current weights as :class:`SparseWeights` (float64)."""
        return SparseWeights(
            indptr=self._syn.indptr, indices=self._syn.indices, weights=self.weights_array(),
            n_pre=self._n, n_post=self._n,
        )  # fmt: skip

    def synapse_index(self, pre: int, post: int) -> int:
        """CSR slot of the synapse ``pre -> post``; ValueError if there is none."""
        pre = check_int("pre", pre, minimum=0, maximum=self._n - 1)
        post = check_int("post", post, minimum=0, maximum=self._n - 1)
        lo, hi = int(self._syn.indptr[pre]), int(self._syn.indptr[pre + 1])
        k = lo + int(np.searchsorted(self._syn.indices[lo:hi], post))
        if k >= hi or self._syn.indices[k] != post:
            raise ValueError(f"there is no synapse from neuron {pre} to neuron {post}")
        return k

    # -- running ------------------------------------------------------------------------------

    def _reward_steps(self, reward: Any, n_steps: int) -> np.ndarray:
        if reward is None:
            return np.zeros(n_steps)
        if not isinstance(self.rule, RewardSTDP):
            raise ValueError("reward needs a RewardSTDP rule; this network learns by STDP")
        arr = np.asarray(reward, dtype=np.float64)
        if arr.shape != (n_steps,):
            raise ValueError(f"reward must have shape (n_steps,) = ({n_steps},); got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("reward must be finite")
        return np.ascontiguousarray(arr)

    def run(
        self,
        duration_ms: float,
        *,
        reward: Any = None,
        snapshot_every_ms: float | None = None,
        watch: Any = None,
    ) -> PlasticRun:
        """Run ``duration_ms`` from the current state, learning as it goes.

        Args:
            duration_ms: length of the call (ms, > 0; a whole number of steps).
            reward: ``(n_steps,)`` dopamine added in each step (RewardSTDP only); None: none.
            snapshot_every_ms: copy the weights every so many ms (a whole number of steps;
                None: no snapshots). Snapshots are taken after the steps ending at multiples
                of it, counted from this call's start.
            watch: ``(k,)`` CSR slots whose weights the snapshots keep (None: all ``nnz``).

        Returns:
            :class:`PlasticRun`.

        Raises:
            NonFiniteStateError: a neuron's state became NaN or infinite (step and neuron
                named).
        """
        n_steps = self._steps("duration_ms", duration_ms)
        every = n_steps if snapshot_every_ms is None else self._steps(
            "snapshot_every_ms", snapshot_every_ms
        )  # fmt: skip
        reward_steps = self._reward_steps(reward, n_steps)
        slots = None if watch is None else np.asarray(watch, dtype=np.int64)
        if slots is not None and (
            slots.ndim != 1 or np.any(slots < 0) or np.any(slots >= len(self._stdp.weights))
        ):
            raise ValueError(
                f"watch must be a 1-D array of CSR slots in [0, {len(self._stdp.weights)})"
            )
        raster = np.zeros((n_steps, self._n), dtype=bool)
        level_out = np.zeros(n_steps)
        times, snaps = [], []
        for lo in range(0, n_steps, every):
            hi = min(n_steps, lo + every)
            self._run_steps(reward_steps[lo:hi], raster[lo:hi], level_out[lo:hi])
            if snapshot_every_ms is not None and hi - lo == every:
                times.append(self.step * self.dt_ms)
                w = self._stdp.weights
                snaps.append(w.copy() if slots is None else w[slots])
        steps, neurons = np.nonzero(raster)
        t0 = (self.step - n_steps) * self.dt_ms
        spikes = SpikeTrains(
            times_ms=t0 + steps * self.dt_ms, indices=neurons.astype(np.int32), n_neurons=self._n,
            t_start_ms=t0, duration_ms=n_steps * self.dt_ms,
        )  # fmt: skip
        width = len(self._stdp.weights) if slots is None else slots.shape[0]
        return PlasticRun(
            spikes=spikes,
            dopamine=level_out,
            snapshot_times_ms=np.asarray(times, dtype=np.float64),
            weight_snapshots=np.asarray(snaps).reshape(len(snaps), width),
            weights=self.weights_array(),
        )

    def _steps(self, name: str, value_ms: Any) -> int:
        value = check_real(name, value_ms, low=0.0, low_open=True)
        steps = value / self.dt_ms
        if abs(steps - round(steps)) > 1e-9 * max(1.0, steps) or round(steps) < 1:
            raise ValueError(f"{name} must be a whole number of steps of dt_ms={self.dt_ms}")
        return int(round(steps))

    def _run_steps(self, reward: np.ndarray, raster: np.ndarray, level_out: np.ndarray) -> None:
        step, neuron = _RUNS[self.backend](
            self._neurons, self._drive, self._syn, self._rule, self._dopa, self._v, self._u,
            self._syn_in, self._stdp, self._level, reward, self.step, raster, level_out,
        )  # fmt: skip
        if step >= 0:
            raise NonFiniteStateError(step, neuron, "v", self.dt_ms)
        self.step += reward.shape[0]

    # -- the network of Izhikevich (2007) -----------------------------------------------------

    @classmethod
    def izhikevich_2007(
        cls,
        n_exc: int = 800,
        n_inh: int = 200,
        *,
        synapses_per_neuron: int = 100,
        rule: STDP | RewardSTDP | None = None,
        seed: int = 0,
        backend: str = "numba",
    ) -> PlasticNetwork:
        """The network of Izhikevich (2007), *Solving the distal reward problem*.

        Excitatory regular-spiking neurons (``a = 0.02, b = 0.2, c = -65, d = 8``) and
        inhibitory fast-spiking ones (``a = 0.1, b = 0.2, c = -65, d = 2``), ``v`` integrated
        in two 0.5 ms sub-steps of a 1 ms step; each neuron sends ``synapses_per_neuron``
        synapses to distinct random targets (excitatory: any neuron; inhibitory: excitatory
        neurons only), weights 1 and -1, all with a delay of one step (1 ms); thalamic noise
        ``U(-6.5, 6.5)`` per neuron and ms; only the excitatory synapses learn, by ``rule``
        (default :meth:`RewardSTDP.izhikevich_2007`), as in the published code (daspnet.m),
        whose weight step touches only the excitatory rows. One difference: the code draws
        each neuron's targets with replacement (a pair may be connected twice), this one
        without; in both a neuron may target itself. Connectivity comes from
        ``numpy.random.default_rng(seed)``; the noise from ``seed``.
        """
        n_exc = check_int("n_exc", n_exc, minimum=1)
        n_inh = check_int("n_inh", n_inh, minimum=0)
        n = n_exc + n_inh
        k = check_int("synapses_per_neuron", synapses_per_neuron, minimum=1, maximum=n_exc)
        exc = np.arange(n) < n_exc
        population = IzhikevichPopulation(
            form="2003", a=np.where(exc, 0.02, 0.1), b=np.full(n, 0.2), c=np.full(n, -65.0),
            d=np.where(exc, 8.0, 2.0), excitatory=exc, v_init=np.full(n, -65.0),
            u_init=np.full(n, -13.0), n_substeps=2,
        )  # fmt: skip
        rng = np.random.default_rng(check_int("seed", seed, minimum=0))
        post = [
            np.sort(rng.choice(n if exc[i] else n_exc, size=k, replace=False)) for i in range(n)
        ]
        pre = np.repeat(np.arange(n), k)
        values = np.where(exc[pre], 1.0, -1.0)
        weights = SparseWeights.from_pre_post(
            pre, np.concatenate(post), values, n, n, dtype=np.float64
        )
        rule = RewardSTDP.izhikevich_2007() if rule is None else rule
        return cls(population, weights, rule, dt_ms=1.0, noise_amp=6.5, seed=seed, backend=backend)
