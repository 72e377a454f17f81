"""The "what and when" paradigm: cues, delays, outcome probabilities, switches, targets, gates.

Each trial starts at rest. At ``onset_ms`` one of ``K`` cues comes on and stays on for the rest
of the trial. ``delay_ms[cue]`` after onset an outcome happens: identity A with probability
``p[cue]``, else identity B. Trials are grouped in blocks; every block holds each cue equally
often, in a seeded random order. A :class:`Switch` changes one cue's delay or probability from a
given block on.

Three readout outputs, sampled every ``dt_ms`` (1 ms) from cue onset (step ``k`` covers
``[k dt, (k + 1) dt)`` ms of the trial):

* ``when`` (output 0): a Gaussian bump of height 1 and width ``bump_sigma_ms`` centred on the
  outcome time, in every trial (the event always happens); its gate (attention) is open from
  cue onset to the outcome time plus ``gate_tail_sigmas`` widths.
* ``what_A``, ``what_B`` (outputs 1, 2): ``1{outcome = A}`` and ``1{outcome = B}`` held over the
  expectation window, from ``what_start_ms`` after onset to the outcome time; their gate is
  open over that window only. The learner sees binary outcomes, so an output that learns the
  mean of its target learns the outcome probability.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

OUTPUT_NAMES: tuple[str, ...] = ("when", "what_A", "what_B")
"""Readout outputs in order: the timing output, then the two outcome identities."""
WHEN = 0
WHAT = (1, 2)
SWITCH_KINDS: tuple[str, ...] = ("delay", "probability")


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    return value


def _positive(name: str, value: Any) -> float:
    value = _real(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0; got {value}")
    return value


def _count(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def check_delays(delays_ms: Any, name: str = "delays_ms") -> np.ndarray:
    """``(K,)`` float64 delays, each finite and > 0 (ms)."""
    delays = np.asarray(delays_ms, dtype=np.float64)
    if delays.ndim != 1 or delays.size < 1:
        raise ValueError(f"{name} must be a non-empty 1-D sequence; got shape {delays.shape}")
    if not np.all(np.isfinite(delays)) or np.any(delays <= 0):
        raise ValueError(f"{name} must be finite and > 0 ms; got {delays.tolist()}")
    return delays


def check_probabilities(probabilities: Any, name: str = "probabilities") -> np.ndarray:
    """``(K,)`` float64 outcome probabilities, each in [0, 1]."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 1 or p.size < 1:
        raise ValueError(f"{name} must be a non-empty 1-D sequence; got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise ValueError(f"{name} must lie in [0, 1]; got {p.tolist()}")
    return p


@dataclass(frozen=True)
class Switch:
    """From block ``block`` on, cue ``cue``'s ``kind`` ("delay" in ms or "probability")
    becomes ``value``."""

    block: int
    cue: int
    kind: str
    value: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "block", _count("switch block", self.block, minimum=1))
        object.__setattr__(self, "cue", _count("switch cue", self.cue, minimum=0))
        if self.kind not in SWITCH_KINDS:
            raise ValueError(f"switch kind must be one of {SWITCH_KINDS}; got {self.kind!r}")
        if self.kind == "delay":
            object.__setattr__(self, "value", _positive("switch delay value (ms)", self.value))
        else:
            value = _real("switch probability value", self.value)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"switch probability value must lie in [0, 1]; got {value}")
            object.__setattr__(self, "value", value)

    def to_dict(self) -> dict[str, Any]:
        return {"block": self.block, "cue": self.cue, "kind": self.kind, "value": self.value}


@dataclass(frozen=True)
class TrialTiming:
    """Where things happen in a trial (all in ms; steps of the readout are ``dt_ms``)."""

    onset_ms: float = 100.0
    tail_ms: float = 200.0
    trial_ms: float | None = None
    bump_sigma_ms: float = 25.0
    what_start_ms: float = 50.0
    gate_tail_sigmas: float = 3.0
    dt_ms: float = 1.0

    def __post_init__(self) -> None:
        onset = _real("onset_ms", self.onset_ms)
        if onset < 0:
            raise ValueError(f"onset_ms must be >= 0; got {onset}")
        tail = _real("tail_ms", self.tail_ms)
        if tail < 0:
            raise ValueError(f"tail_ms must be >= 0; got {tail}")
        if self.trial_ms is not None:
            _positive("trial_ms", self.trial_ms)
        _positive("bump_sigma_ms", self.bump_sigma_ms)
        start = _real("what_start_ms", self.what_start_ms)
        if start < 0:
            raise ValueError(f"what_start_ms must be >= 0; got {start}")
        sig = _real("gate_tail_sigmas", self.gate_tail_sigmas)
        if sig < 0:
            raise ValueError(f"gate_tail_sigmas must be >= 0; got {sig}")
        _positive("dt_ms", self.dt_ms)

    def duration_ms(self, delay_ms: float) -> float:
        """Length of a trial whose outcome comes ``delay_ms`` after onset."""
        if self.trial_ms is not None:
            return float(self.trial_ms)
        return self.onset_ms + delay_ms + self.tail_ms

    def n_steps(self, delay_ms: float) -> int:
        """Readout steps of such a trial."""
        return int(round(self.duration_ms(delay_ms) / self.dt_ms))

    def check_delay(self, delay_ms: float, name: str = "delays_ms") -> None:
        """ValueError naming ``name`` if ``delay_ms`` does not fit: the expectation window must
        be non-empty and, with a fixed ``trial_ms``, the gated window must end in the trial."""
        if delay_ms <= self.what_start_ms:
            raise ValueError(
                f"{name} must be longer than what_start_ms = {self.what_start_ms} ms "
                f"(the expectation window would be empty); got {delay_ms}"
            )
        if self.trial_ms is not None:
            end = self.onset_ms + delay_ms + self.gate_tail_sigmas * self.bump_sigma_ms
            if end > self.trial_ms:
                raise ValueError(
                    f"{name} must fit in the trial: onset_ms + delay + gate_tail_sigmas * "
                    f"bump_sigma_ms = {end} ms exceeds trial_ms = {self.trial_ms}; got {delay_ms}"
                )

    def to_dict(self) -> dict[str, Any]:
        return {
            "onset_ms": self.onset_ms,
            "tail_ms": self.tail_ms,
            "trial_ms": self.trial_ms,
            "bump_sigma_ms": self.bump_sigma_ms,
            "what_start_ms": self.what_start_ms,
            "gate_tail_sigmas": self.gate_tail_sigmas,
            "dt_ms": self.dt_ms,
        }


@dataclass(frozen=True)
class Trial:
    """One trial of the schedule."""

    index: int
    block: int
    cue: int
    delay_ms: float
    probability: float
    outcome: int  # 0 = identity A, 1 = identity B
    noise_seed: int


@dataclass(frozen=True)
class Schedule:
    """A seeded sequence of trials.

    Attributes:
        trials: the trials in order.
        delays_ms: ``(n_blocks, K)`` delay of every cue in every block.
        probabilities: ``(n_blocks, K)`` probability of outcome A of every cue in every block.
        switches: the switches applied, in block order.
        trials_per_block: trials in each block.
    """

    trials: tuple[Trial, ...]
    delays_ms: np.ndarray
    probabilities: np.ndarray
    switches: tuple[Switch, ...]
    trials_per_block: int

    @property
    def n_blocks(self) -> int:
        return int(self.delays_ms.shape[0])

    @property
    def n_cues(self) -> int:
        return int(self.delays_ms.shape[1])

    def __len__(self) -> int:
        return len(self.trials)

    def arrays(self) -> dict[str, np.ndarray]:
        """Per-trial columns as arrays (for a run folder): ``cue``, ``block``, ``delay_ms``,
        ``probability``, ``outcome``, ``noise_seed``."""
        t = self.trials
        return {
            "cue": np.array([x.cue for x in t], np.int64),
            "block": np.array([x.block for x in t], np.int64),
            "delay_ms": np.array([x.delay_ms for x in t], np.float64),
            "probability": np.array([x.probability for x in t], np.float64),
            "outcome": np.array([x.outcome for x in t], np.int64),
            "noise_seed": np.array([x.noise_seed for x in t], np.int64),
        }


def make_schedule(
    delays_ms: Sequence[float],
    probabilities: Sequence[float],
    *,
    n_blocks: int,
    trials_per_block: int,
    switches: Sequence[Switch] = (),
    timing: TrialTiming | None = None,
    seed: int | np.random.Generator = 0,
) -> Schedule:
    """Draw the trial sequence.

    Args:
        delays_ms: ``(K,)`` delay of the outcome after cue onset, per cue (ms, > 0).
        probabilities: ``(K,)`` probability of outcome A per cue, in [0, 1].
        n_blocks: number of blocks (>= 1).
        trials_per_block: trials per block, a multiple of ``K`` (each cue equally often).
        switches: changes of one cue's delay or probability from a block on.
        timing: trial layout, used to check that every delay fits (default :class:`TrialTiming`).
        seed: int or Generator; the same seed gives the same schedule (order, outcomes and
            per-trial noise seeds).

    Raises:
        ValueError: a parameter out of range; the message names it.
    """
    delays = check_delays(delays_ms)
    p = check_probabilities(probabilities)
    if delays.shape != p.shape:
        raise ValueError(
            f"delays_ms and probabilities must have one entry per cue; got {delays.size} and "
            f"{p.size}"
        )
    k = delays.size
    n_blocks = _count("n_blocks", n_blocks)
    trials_per_block = _count("trials_per_block", trials_per_block)
    if trials_per_block % k:
        raise ValueError(
            f"trials_per_block must be a multiple of the number of cues ({k}); "
            f"got {trials_per_block}"
        )
    timing = TrialTiming() if timing is None else timing
    for delay in delays:
        timing.check_delay(float(delay))
    block_delays = np.tile(delays, (n_blocks, 1))
    block_p = np.tile(p, (n_blocks, 1))
    ordered = sorted(switches, key=lambda s: s.block)
    for sw in ordered:
        if not isinstance(sw, Switch):
            raise TypeError(f"switches must hold Switch objects; got {type(sw).__name__}")
        if sw.block >= n_blocks:
            raise ValueError(f"switch block must be in [1, {n_blocks - 1}]; got {sw.block}")
        if sw.cue >= k:
            raise ValueError(f"switch cue must be in [0, {k - 1}]; got {sw.cue}")
        if sw.kind == "delay":
            timing.check_delay(sw.value, name="switch delay value")
            block_delays[sw.block :, sw.cue] = sw.value
        else:
            block_p[sw.block :, sw.cue] = sw.value
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    trials = []
    per_cue = trials_per_block // k
    noise_seeds = rng.integers(0, 2**31 - 1, size=n_blocks * trials_per_block)
    for block in range(n_blocks):
        cues = rng.permutation(np.repeat(np.arange(k), per_cue))
        draws = rng.random(trials_per_block)
        for j, cue in enumerate(cues):
            index = block * trials_per_block + j
            prob = float(block_p[block, cue])
            trials.append(
                Trial(
                    index=index,
                    block=block,
                    cue=int(cue),
                    delay_ms=float(block_delays[block, cue]),
                    probability=prob,
                    outcome=0 if draws[j] < prob else 1,
                    noise_seed=int(noise_seeds[index]),
                )
            )
    return Schedule(
        trials=tuple(trials),
        delays_ms=block_delays,
        probabilities=block_p,
        switches=tuple(ordered),
        trials_per_block=trials_per_block,
    )


def trial_targets(trial: Trial, timing: TrialTiming) -> tuple[np.ndarray, np.ndarray]:
    """Targets and gates of one trial.

    Returns:
        ``(targets, gates)``, both ``(n_steps, 3)`` float32 in the order of
        :data:`OUTPUT_NAMES`; ``gates`` are 0 or 1 (plasticity allowed where 1).
    """
    n = timing.n_steps(trial.delay_ms)
    t_ms = np.arange(n) * timing.dt_ms
    outcome_ms = timing.onset_ms + trial.delay_ms
    targets = np.zeros((n, 3), np.float32)
    gates = np.zeros((n, 3), np.float32)
    targets[:, WHEN] = np.exp(-0.5 * ((t_ms - outcome_ms) / timing.bump_sigma_ms) ** 2)
    gate_end = outcome_ms + timing.gate_tail_sigmas * timing.bump_sigma_ms
    gates[(t_ms >= timing.onset_ms) & (t_ms <= gate_end), WHEN] = 1.0
    window = expectation_window(trial.delay_ms, timing, n)
    targets[window, WHAT[trial.outcome]] = 1.0
    gates[window, WHAT[0]] = 1.0
    gates[window, WHAT[1]] = 1.0
    return targets, gates


def expectation_window(delay_ms: float, timing: TrialTiming, n_steps: int) -> np.ndarray:
    """``(n_steps,)`` bool: the steps from ``what_start_ms`` after onset up to the outcome."""
    t_ms = np.arange(n_steps) * timing.dt_ms
    start = timing.onset_ms + timing.what_start_ms
    return (t_ms >= start) & (t_ms < timing.onset_ms + delay_ms)
