"""The configuration of ``spikesub whatwhen``: the reservoir, the paradigm, the readouts and
the measures of one "what and when" run (times in ms, currents in pA).

Every setting is declared once here, with its default, its range and its help text; the
command line, ``config.json`` and :func:`spikesub.jobs.run_job` all read it. The rules that
tie settings together (one delay per probability, switches inside the schedule, delays that
fit the trial) are in :meth:`WhatWhenConfig.check`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from spikesub.config import JobConfig, setting
from spikesub.kernels.backends import BACKEND_CHOICES
from spikesub.whatwhen.paradigm import Switch, TrialTiming, make_schedule

__all__ = ["METHODS", "METHOD_LABELS", "QUICK_SETTINGS", "WhatWhenConfig"]

METHODS: tuple[str, ...] = ("three_factor", "force", "force_reset", "ridge")
"""Readouts compared, in the order of figures and tables."""
METHOD_LABELS: dict[str, str] = {
    "three_factor": "three-factor",
    "force": "FORCE, no reset",
    "force_reset": "FORCE with reset",
    "ridge": "ridge (per block)",
}

QUICK_SETTINGS: dict[str, Any] = {
    "n_blocks": 11,
    "delay_switch_block": 3,
    "probability_switch_block": 6,
    "random_angle_draws": 50,
    "quick_run": True,
}
"""The shorter run of :meth:`WhatWhenConfig.quick` and ``--quick``: the default network and
paradigm with 11 blocks instead of 14, the switches at blocks 3 and 6. It tells the full
run's story: 3 blocks to learn, 3 blocks (15 trials of cue 1) after the delay switch, enough
for FORCE without a reset to take several trials where the three-factor rule takes one, and
5 blocks (25 trials of cue 0) after the probability switch, where the three-factor "what"
outputs need 12-21 trials on the full run's seeds (with 4 blocks they did not recover within
the run) and FORCE without a reset never recovers. A smaller network or shorter blocks could
not show it.
What it sets; everything else keeps its default."""

_POSITIVE = {"low": 0.0, "low_open": True}
_UNIT = {"low": 0.0, "high": 1.0}


@dataclass(frozen=True)
class WhatWhenConfig(JobConfig):
    """Everything that defines a "what and when" run; each setting is also its option.

    Reservoir: see :class:`~spikesub.whatwhen.reservoir_traces.ReservoirParams` for the
    settings it shares; the ``(low, high)`` pairs are ranges the neurons' values are drawn
    from. Paradigm: ``delays_ms`` and ``probabilities`` per cue, ``n_blocks`` blocks of
    ``trials_per_block`` trials; a delay switch (from block ``delay_switch_block`` on, cue
    ``delay_switch_cue``'s delay is ``delay_switch_ms``) and a probability switch (the same,
    with ``probability_switch_value``); a switch block of ``None`` disables it. Readouts:
    ``tf_*`` the three-factor rule (``tf_learning_rate`` per step; the "what" outputs' updates
    are folded in with ``tf_consolidation_rate`` every ``tf_consolidate_every`` trials, so
    their effective rate per step is the product of the two); with ``tf_attention`` the
    "when" gate of each trial is scaled by the cue's surprise-driven attention
    (:mod:`spikesub.whatwhen.attention`), without it the gate is the fixed 0/1 window.
    ``force_*`` FORCE (``P(0) = I / force_alpha``, an update every ``force_update_every``
    steps), ``ridge`` the ridge penalty. Measures: timing within ``timing_tolerance`` of the
    delay, magnitude within ``probability_tolerance`` of p (mean over the last
    ``recovery_run`` trials of the cue), recovered after ``recovery_run`` consecutive trials
    within tolerance; timing and probability fits use the last ``eval_blocks`` blocks of
    every stretch between switches.
    """

    job: ClassVar[str] = "whatwhen"

    seed: int = setting(
        0, low=0, high=2**64 - 1, help="seed of the network, the trial sequence and the noise"
    )
    backend: str = setting(
        "auto",
        choices=BACKEND_CHOICES,
        help="reservoir backend: auto (CUDA if a GPU is present, else numba), numpy, numba or cuda",
    )
    # reservoir
    n_neurons: int = setting(1000, low=10, help="reservoir neurons")
    excitatory_fraction: float = setting(0.8, **_UNIT, help="fraction of excitatory neurons")
    connection_p: float = setting(0.1, **_UNIT, help="connection probability (no autapses)")
    w_exc_pa: float = setting(30.0, low=0.0, help="excitatory weights are uniform in [0, W], pA")
    w_inh_pa: float = setting(120.0, low=0.0, help="inhibitory weights are uniform in [0, W], pA")
    tau_syn_ms: float = setting(10.0, **_POSITIVE, help="synaptic current decay, ms")
    tau_adapt_ms: tuple[float, ...] = setting(
        (10.0, 500.0),
        **_POSITIVE,
        metavar="LOW,HIGH",
        help="excitatory adaptation time constants, log-uniform over LOW,HIGH ms",
    )
    adapt_jump_pa: tuple[float, ...] = setting(
        (50.0, 300.0),
        low=0.0,
        metavar="LOW,HIGH",
        help="excitatory adaptation jumps per spike, uniform over LOW,HIGH pA",
    )
    bias_pa: tuple[float, ...] = setting(
        (150.0, 250.0), metavar="LOW,HIGH", help="bias currents, uniform over LOW,HIGH pA"
    )
    noise_std_pa: float = setting(
        20.0, low=0.0, help="std of the noise current, redrawn every ms, pA"
    )
    cue_fraction: float = setting(0.12, **_UNIT, help="fraction of the neurons each cue drives")
    cue_drive_pa: tuple[float, ...] = setting(
        (100.0, 500.0),
        low=0.0,
        metavar="LOW,HIGH",
        help="cue currents into the driven neurons, uniform over LOW,HIGH pA",
    )
    sim_dt_ms: float = setting(
        0.25, **_POSITIVE, help="simulation time step, ms (1 ms must be a multiple of it)"
    )
    trace_tau_ms: float = setting(
        30.0, **_POSITIVE, help="time constant of the filtered spikes the readouts see, ms"
    )
    # paradigm
    delays_ms: tuple[float, ...] = setting(
        (200.0, 300.0, 400.0, 500.0),
        **_POSITIVE,
        metavar="MS,...",
        help="delay of the outcome after cue onset, one per cue, ms",
    )
    probabilities: tuple[float, ...] = setting(
        (0.2, 0.45, 0.7, 0.95),
        **_UNIT,
        metavar="P,...",
        help="probability of outcome A, one per cue",
    )
    n_blocks: int = setting(14, low=1, help="blocks of trials")
    trials_per_block: int = setting(
        20, low=1, help="trials per block, a multiple of the number of cues"
    )
    onset_ms: float = setting(100.0, low=0.0, help="cue onset after the trial's start, ms")
    tail_ms: float = setting(200.0, low=0.0, help="time after the outcome until the trial ends, ms")
    trial_ms: float | None = setting(
        None, **_POSITIVE, help="a fixed trial length, ms (unset: onset + delay + tail)"
    )
    bump_sigma_ms: float = setting(
        25.0, **_POSITIVE, help="width (sigma) of the 'when' target's bump, ms"
    )
    what_start_ms: float = setting(
        50.0, low=0.0, help="start of the 'what' expectation window after cue onset, ms"
    )
    gate_tail_sigmas: float = setting(
        3.0, low=0.0, help="the 'when' gate stays open this many bump widths after the outcome"
    )
    delay_switch_block: int | None = setting(
        4, low=1, help="block from which the delay switch applies (None: no switch)"
    )
    delay_switch_cue: int = setting(1, low=0, help="the cue whose delay switches")
    delay_switch_ms: float = setting(450.0, **_POSITIVE, help="its delay after the switch, ms")
    probability_switch_block: int | None = setting(
        8, low=1, help="block from which the probability switch applies (None: no switch)"
    )
    probability_switch_cue: int = setting(0, low=0, help="the cue whose probability switches")
    probability_switch_value: float = setting(
        0.95, **_UNIT, help="its probability of outcome A after the switch"
    )
    # readouts
    tf_learning_rate: float = setting(
        1e-3, **_POSITIVE, help="three-factor rule's learning rate per step"
    )
    tf_consolidation_rate: float = setting(
        0.015, low=0.0, help="rate at which the 'what' outputs' accumulated updates are folded in"
    )
    tf_consolidate_every: int = setting(
        1, low=1, help="trials between consolidations (trials_per_block: between blocks)"
    )
    tf_when_normalised: bool = setting(
        True,
        flag="--when-normalised",
        help="the 'when' output's normalised step on the high-passed eligibility (off: the "
        "plain step of tf_learning_rate)",
    )
    tf_when_rate: float = setting(
        0.5,
        low=0.0,
        high=1.0,
        low_open=True,
        help="the 'when' output's normalised step: the fraction of the error corrected on "
        "the current input",
    )
    tf_when_highpass_ms: float = setting(
        100.0,
        low=0.0,
        help="time constant of the slow trace subtracted from the 'when' eligibility, ms "
        "(0: plain normalised step)",
    )
    tf_tau_eligibility_ms: float = setting(
        0.0, low=0.0, help="eligibility trace time constant, ms (0: none)"
    )
    tf_attention: bool = setting(
        True,
        flag="--attention",
        help="scale the three-factor rule's 'when' gate by each cue's recent timing surprise "
        "(associability, Pearce & Hall 1980)",
    )
    tf_attention_rate: float = setting(
        0.5, low=0.0, high=1.0, low_open=True, help="associability's update rate per trial"
    )
    tf_attention_floor: float = setting(
        0.2, **_UNIT, help="the lowest level of the attention-scaled gate"
    )
    tf_attention_ref: float = setting(
        0.15, **_POSITIVE, help="associability at which the attention-scaled gate is fully open"
    )
    force_alpha: float = setting(1.0, **_POSITIVE, help="FORCE: P(0) = I / alpha")
    force_update_every: int = setting(4, low=1, help="FORCE: steps between updates")
    ridge: float = setting(1.0, low=0.0, help="ridge regression's penalty")
    # measures
    timing_tolerance: float = setting(
        0.05, **_POSITIVE, help="timing recovered within this fraction of the delay"
    )
    probability_tolerance: float = setting(
        0.1, **_POSITIVE, help="magnitude recovered within this distance of p"
    )
    recovery_run: int = setting(
        5, low=1, help="consecutive trials within tolerance that count as recovered"
    )
    eval_blocks: int = setting(
        2, low=1, help="last blocks of each stretch between switches that the fits use"
    )
    random_angle_draws: int = setting(
        200, low=1, help="draws of random subspaces for the reference angle"
    )
    quick_run: bool = setting(False, cli=False, help="the small run of --quick")

    @classmethod
    def quick(cls, **overrides: Any) -> WhatWhenConfig:
        """A shorter run for tests and demos (1-2 minutes on two cores):
        :data:`QUICK_SETTINGS` with ``overrides``."""
        return cls(**{**QUICK_SETTINGS, **overrides})

    def check(self) -> None:
        """Raise ValueError/TypeError naming the first setting that does not fit the others."""
        if len(self.delays_ms) != len(self.probabilities):
            raise ValueError(
                f"delays_ms and probabilities need one entry per cue; got {len(self.delays_ms)} "
                f"and {len(self.probabilities)}"
            )
        k = len(self.delays_ms)
        for kind, block, cue in (
            ("delay", self.delay_switch_block, self.delay_switch_cue),
            ("probability", self.probability_switch_block, self.probability_switch_cue),
        ):
            if block is None:
                continue
            if block >= self.n_blocks:
                raise ValueError(
                    f"{kind}_switch_block must be in [1, {self.n_blocks - 1}] (n_blocks = "
                    f"{self.n_blocks}); got {block}"
                )
            if cue >= k:
                raise ValueError(
                    f"{kind}_switch_cue must be one of the {k} cues of delays_ms and "
                    f"probabilities, 0 to {k - 1}; got {cue}"
                )
        self.reservoir_params()
        make_schedule(
            self.delays_ms,
            self.probabilities,
            n_blocks=self.n_blocks,
            trials_per_block=self.trials_per_block,
            switches=self.switches(),
            timing=self.timing(),
            seed=0,
        )
        if self.delay_switch_block is not None and (
            self.delay_switch_block == self.probability_switch_block
        ):
            raise ValueError(
                "delay_switch_block and probability_switch_block must differ; got "
                f"{self.delay_switch_block} and {self.probability_switch_block}"
            )
        if self.eval_blocks > self.n_blocks:
            raise ValueError(
                f"eval_blocks must be <= n_blocks = {self.n_blocks}; got {self.eval_blocks}"
            )

    def reservoir_params(self):
        """The :class:`~spikesub.whatwhen.reservoir_traces.ReservoirParams` of the run."""
        from spikesub.whatwhen.reservoir_traces import ReservoirParams  # loads Numba

        return ReservoirParams(
            n_neurons=self.n_neurons,
            excitatory_fraction=self.excitatory_fraction,
            connection_p=self.connection_p,
            w_exc_pa=self.w_exc_pa,
            w_inh_pa=self.w_inh_pa,
            tau_syn_ms=self.tau_syn_ms,
            tau_adapt_ms=tuple(self.tau_adapt_ms),
            adapt_jump_pa=tuple(self.adapt_jump_pa),
            bias_pa=tuple(self.bias_pa),
            noise_std_pa=self.noise_std_pa,
            n_cues=len(self.delays_ms),
            cue_fraction=self.cue_fraction,
            cue_drive_pa=tuple(self.cue_drive_pa),
            dt_ms=self.sim_dt_ms,
            trace_tau_ms=self.trace_tau_ms,
        )

    def timing(self) -> TrialTiming:
        """Where things happen in a trial; the readouts step every 1 ms."""
        return TrialTiming(
            onset_ms=self.onset_ms,
            tail_ms=self.tail_ms,
            trial_ms=self.trial_ms,
            bump_sigma_ms=self.bump_sigma_ms,
            what_start_ms=self.what_start_ms,
            gate_tail_sigmas=self.gate_tail_sigmas,
            dt_ms=1.0,
        )

    def switches(self) -> tuple[Switch, ...]:
        """The delay and probability switches that are on, in that order."""
        out = []
        if self.delay_switch_block is not None:
            out.append(
                Switch(
                    self.delay_switch_block, self.delay_switch_cue, "delay", self.delay_switch_ms
                )
            )
        if self.probability_switch_block is not None:
            out.append(
                Switch(
                    self.probability_switch_block,
                    self.probability_switch_cue,
                    "probability",
                    self.probability_switch_value,
                )
            )
        return tuple(out)
