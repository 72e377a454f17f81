"""The "what and when" experiment: one reservoir, one trial sequence, four readouts.

Every trial is simulated once (:class:`~spikesub.prediction.reservoir_traces.CueReservoir`) and
its traces go, in lockstep, to

* ``three_factor``: :class:`~spikesub.readouts.ThreeFactorReadout`, the "when" output learning
  online at every step, the "what" outputs accumulating their updates during the trial and
  consolidating them offline, after every ``tf_consolidate_every`` trials (default 1: in the
  interval between trials; ``trials_per_block``: between blocks), each output gated by its
  attention window; with ``tf_attention`` the "when" window is scaled by the cue's
  surprise-driven attention (:mod:`spikesub.prediction.attention`), high after the cue's
  timing was mispredicted and low once it is predicted well;
* ``force``: :class:`~spikesub.readouts.FORCEReadout` (recursive least squares), never reset;
* ``force_reset``: the same, with ``P`` reset at the start of each block that switches (it is
  told when);
* ``ridge``: :class:`~spikesub.readouts.RidgeReadout` refitted offline on each block's trials
  (the fit the reservoir's code allows, measured on the block it was fitted on).

FORCE and ridge see every step from cue onset to the end of the "when" gate, with targets
zero outside the bumps and plateaus (they have no gates). Each trial is measured on the
readout's prediction with its weights from before the trial (for ridge, after the block's
fit): the time and height of the peak of "when", and the mean of each "what" output over the
expectation window ("magnitude").

The run folder receives ``config.json`` at once and, after every block (atomically),
``metrics.json``, ``arrays.npz`` (per-trial measures, the three-factor "when" gate level,
surprise and per-cue associability of every trial, weights and angles per block),
``examples.npz`` (output traces of chosen trials with their targets) and ``raster_trial.npz``
(the spikes of one trial); figures are drawn from these files by
:func:`spikesub.prediction.figures.plot_whatwhen`.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from spikesub.models.errors import SpikesubError
from spikesub.prediction import metrics as mx
from spikesub.prediction.attention import attention_gate, trial_surprise, update_associability
from spikesub.prediction.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from spikesub.prediction.paradigm import (
    OUTPUT_NAMES,
    WHAT,
    WHEN,
    Schedule,
    Switch,
    Trial,
    TrialTiming,
    check_delays,
    check_probabilities,
    expectation_window,
    make_schedule,
    trial_targets,
)
from spikesub.prediction.reservoir_traces import CueReservoir, ReservoirParams
from spikesub.prediction.sizes import check_whatwhen_memory
from spikesub.readouts import FORCEReadout, ReadoutDivergedError, RidgeReadout, ThreeFactorReadout
from spikesub.runs import (
    RunInterrupted,
    config_fingerprint,
    prepare_run_dir,
    read_json,
    run_config_document,
    run_is_complete,
    save_spikes,
    write_json,
    write_npz,
)

METHODS: tuple[str, ...] = ("three_factor", "force", "force_reset", "ridge")
"""Readouts compared, in the order of figures and tables."""
METHOD_LABELS: dict[str, str] = {
    "three_factor": "three-factor",
    "force": "FORCE, no reset",
    "force_reset": "FORCE with reset",
    "ridge": "ridge (per block)",
}
EXPERIMENT = "whatwhen"


class WhatWhenDivergedError(SpikesubError):
    """A readout diverged during the experiment; the run folder keeps the blocks done."""


@dataclass
class WhatWhenConfig:
    """Everything that defines a "what and when" run (times in ms, currents in pA).

    Reservoir: see :class:`~spikesub.prediction.reservoir_traces.ReservoirParams` for the
    fields it shares. Paradigm: ``delays_ms`` and ``probabilities`` per cue, ``n_blocks``
    blocks of ``trials_per_block`` trials; a delay switch (``delay_switch_block``: from that
    block on, cue ``delay_switch_cue``'s delay is ``delay_switch_ms``) and a probability
    switch (same, with ``probability_switch_value``); a switch block of ``None`` disables it.
    Readouts: ``tf_*`` the three-factor rule (``tf_learning_rate`` per step; the "what"
    outputs' updates are folded in with ``tf_consolidation_rate`` every
    ``tf_consolidate_every`` trials, so their effective rate per step is the product of the
    two); with ``tf_attention`` the "when" gate of each trial is scaled by the cue's
    surprise-driven attention (:mod:`spikesub.prediction.attention`: associability rate
    ``tf_attention_rate``, gate floor ``tf_attention_floor``, associability of a fully open
    gate ``tf_attention_ref``), without it the gate is the fixed 0/1 window. ``force_*``
    FORCE (``P(0) = I / force_alpha``, an update every ``force_update_every`` steps),
    ``ridge`` the ridge penalty.
    Measures: timing within ``timing_tolerance`` of the delay, magnitude within
    ``probability_tolerance`` of p (mean over the last ``recovery_run`` trials of the cue),
    recovered after ``recovery_run`` consecutive trials within tolerance; timing and
    probability fits use the last ``eval_blocks`` blocks of every stretch between switches.
    """

    seed: int = 0
    backend: str = "auto"
    # reservoir
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
    cue_fraction: float = 0.12
    cue_drive_pa: tuple[float, float] = (100.0, 500.0)
    sim_dt_ms: float = 0.25
    trace_tau_ms: float = 30.0
    # paradigm
    delays_ms: tuple[float, ...] = (200.0, 300.0, 400.0, 500.0)
    probabilities: tuple[float, ...] = (0.2, 0.45, 0.7, 0.95)
    n_blocks: int = 14
    trials_per_block: int = 20
    onset_ms: float = 100.0
    tail_ms: float = 200.0
    trial_ms: float | None = None
    bump_sigma_ms: float = 25.0
    what_start_ms: float = 50.0
    gate_tail_sigmas: float = 3.0
    delay_switch_block: int | None = 4
    delay_switch_cue: int = 1
    delay_switch_ms: float = 450.0
    probability_switch_block: int | None = 8
    probability_switch_cue: int = 0
    probability_switch_value: float = 0.95
    # readouts
    tf_learning_rate: float = 1e-3
    tf_consolidation_rate: float = 0.015
    tf_consolidate_every: int = 1
    tf_tau_eligibility_ms: float = 0.0
    tf_attention: bool = False
    tf_attention_rate: float = 0.5
    tf_attention_floor: float = 0.05
    tf_attention_ref: float = 0.15
    force_alpha: float = 1.0
    force_update_every: int = 4
    ridge: float = 1.0
    # measures
    timing_tolerance: float = 0.05
    probability_tolerance: float = 0.1
    recovery_run: int = 5
    eval_blocks: int = 2
    random_angle_draws: int = 200
    quick_run: bool = field(default=False)

    @classmethod
    def quick(cls, **overrides: Any) -> WhatWhenConfig:
        """A small run for tests and demos (under a minute on two cores)."""
        base = dict(
            n_neurons=400,
            n_blocks=6,
            trials_per_block=12,
            delay_switch_block=2,
            probability_switch_block=4,
            force_update_every=4,
            eval_blocks=1,
            recovery_run=3,
            random_angle_draws=50,
            quick_run=True,
        )
        base.update(overrides)
        return cls(**base)

    # ------------------------------------------------------------------------------------
    def reservoir_params(self) -> ReservoirParams:
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

    def validate(self) -> None:
        """Raise ValueError/TypeError naming the first bad parameter."""
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer in [0, 2**64 - 1]; got {self.seed!r}")
        if not 0 <= self.seed <= 2**64 - 1:
            raise ValueError(f"seed must be an integer in [0, 2**64 - 1]; got {self.seed}")
        check_delays(self.delays_ms)
        check_probabilities(self.probabilities)
        if len(self.delays_ms) != len(self.probabilities):
            raise ValueError(
                f"delays_ms and probabilities need one entry per cue; got {len(self.delays_ms)} "
                f"and {len(self.probabilities)}"
            )
        self.reservoir_params()
        timing = self.timing()
        make_schedule(
            self.delays_ms,
            self.probabilities,
            n_blocks=self.n_blocks,
            trials_per_block=self.trials_per_block,
            switches=self.switches(),
            timing=timing,
            seed=0,
        )
        blocks = [s.block for s in self.switches()]
        if len(blocks) != len(set(blocks)):
            raise ValueError(
                "delay_switch_block and probability_switch_block must differ; got "
                f"{self.delay_switch_block} and {self.probability_switch_block}"
            )
        positive = ("tf_learning_rate", "force_alpha", "timing_tolerance", "probability_tolerance")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number > 0; got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0; got {value}")
        if not isinstance(self.tf_attention, bool):
            raise TypeError(f"tf_attention must be a bool; got {self.tf_attention!r}")
        for name, low_open in (("tf_attention_rate", True), ("tf_attention_floor", False)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number; got {value!r}")
            if not math.isfinite(value) or value > 1 or (value <= 0 if low_open else value < 0):
                raise ValueError(
                    f"{name} must lie in {'(0, 1]' if low_open else '[0, 1]'}; got {value}"
                )
        for name in ("tf_attention_ref",):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number > 0; got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0; got {value}")
        for name in ("tf_consolidation_rate", "tf_tau_eligibility_ms", "ridge"):
            value = getattr(self, name)
            if not math.isfinite(float(value)) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0; got {value}")
        counts = (
            "tf_consolidate_every",
            "force_update_every",
            "recovery_run",
            "eval_blocks",
            "random_angle_draws",
        )
        for name in counts:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
        if self.eval_blocks > self.n_blocks:
            raise ValueError(
                f"eval_blocks must be <= n_blocks = {self.n_blocks}; got {self.eval_blocks}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WhatWhenConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown WhatWhenConfig fields: {unknown}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


# ----------------------------------------------------------------------------------------------
# Measures of one trial
# ----------------------------------------------------------------------------------------------


def measure_trial(
    outputs: np.ndarray, trial: Trial, timing: TrialTiming
) -> tuple[float, float, float, float]:
    """``(peak_time_ms, peak_height, magnitude_A, magnitude_B)`` of one trial's outputs.

    ``peak_time_ms`` is measured from cue onset and searched over the "when" window, from
    cue onset until the outcome is over (outcome time + ``gate_tail_sigmas`` bump widths): a
    peak after that would come after the event it predicts. The magnitudes are the means of
    the "what" outputs over the expectation window.
    """
    onset = int(round(timing.onset_ms / timing.dt_ms))
    end_ms = timing.onset_ms + trial.delay_ms + timing.gate_tail_sigmas * timing.bump_sigma_ms
    stop = int(math.floor(end_ms / timing.dt_ms)) + 1
    t_peak, height = mx.peak(outputs[:, WHEN], dt_ms=timing.dt_ms, start=onset, stop=stop)
    window = expectation_window(trial.delay_ms, timing, outputs.shape[0])
    mag_a = float(outputs[window, WHAT[0]].mean())
    mag_b = float(outputs[window, WHAT[1]].mean())
    return t_peak - timing.onset_ms, height, mag_a, mag_b


def _segments(schedule: Schedule) -> list[tuple[int, int]]:
    """Block ranges ``[start, stop)`` between switches."""
    bounds = sorted({0, schedule.n_blocks, *(s.block for s in schedule.switches)})
    return list(zip(bounds[:-1], bounds[1:], strict=False))


def _eval_mask(schedule: Schedule, eval_blocks: int, *, final_only: bool) -> np.ndarray:
    block = schedule.arrays()["block"]
    mask = np.zeros(block.size, bool)
    segs = _segments(schedule)
    if final_only:
        segs = segs[-1:]
    for start, stop in segs:
        mask |= (block >= max(start, stop - eval_blocks)) & (block < stop)
    return mask


def compute_metrics(
    schedule: Schedule,
    per_trial: dict[str, dict[str, np.ndarray]],
    angles: dict[str, np.ndarray],
    n_done: int,
    config: WhatWhenConfig,
) -> dict[str, Any]:
    """Timing, probability, recovery and subspace metrics from the per-trial measures.

    Only the first ``n_done`` trials count; measures that need later trials are left out
    (``None``/NaN) until they are there.
    """
    cols = schedule.arrays()
    cue, delay, prob = cols["cue"], cols["delay_ms"], cols["probability"]
    done = np.arange(len(schedule)) < n_done
    final_eval = _eval_mask(schedule, config.eval_blocks, final_only=True) & done
    all_eval = _eval_mask(schedule, config.eval_blocks, final_only=False) & done
    segments = _segments(schedule)
    seg_of_block = np.zeros(schedule.n_blocks, int)
    for s, (start, stop) in enumerate(segments):
        seg_of_block[start:stop] = s
    seg = seg_of_block[cols["block"]]
    out: dict[str, Any] = {}
    for m in METHODS:
        t = per_trial[m]
        res: dict[str, Any] = {}
        # 1. timing: peak time against the delay, per cue, on the final evaluation blocks
        timing_rows = []
        for c in range(schedule.n_cues):
            sel = final_eval & (cue == c) & np.isfinite(t["peak_time_ms"])
            if not sel.any():
                continue
            err = t["peak_time_ms"][sel] - delay[sel]
            d = float(delay[sel][-1])
            timing_rows.append(
                {
                    "cue": c,
                    "delay_ms": d,
                    "n_trials": int(sel.sum()),
                    "mean_peak_ms": float(t["peak_time_ms"][sel].mean()),
                    "mean_abs_error_ms": float(np.abs(err).mean()),
                    "mean_error_ms": float(err.mean()),
                    "abs_error_pct": float(100.0 * np.abs(err).mean() / d),
                    "abs_error_of_mean_pct": float(100.0 * abs(err.mean()) / d),
                }
            )
        res["timing"] = timing_rows
        if timing_rows:
            res["timing_max_abs_error_pct"] = max(r["abs_error_pct"] for r in timing_rows)
        # 2. probability: magnitude of "what" against p (A against p, B against 1 - p)
        points_p, points_mag, trial_p, trial_mag = [], [], [], []
        levels = []
        for s in range(len(segments)):
            for c in range(schedule.n_cues):
                sel = all_eval & (seg == s) & (cue == c)
                if not sel.any():
                    continue
                p = float(prob[sel][0])
                for name, level in (("magnitude_A", p), ("magnitude_B", 1.0 - p)):
                    mags = t[name][sel]
                    points_p.append(level)
                    points_mag.append(float(mags.mean()))
                    trial_p.extend([level] * mags.size)
                    trial_mag.extend(mags.tolist())
                levels.append(
                    {
                        "segment": s,
                        "cue": c,
                        "p": p,
                        "magnitude_A": float(t["magnitude_A"][sel].mean()),
                        "magnitude_B": float(t["magnitude_B"][sel].mean()),
                        "n_trials": int(sel.sum()),
                    }
                )
        fit = mx.linear_fit(points_p, points_mag)
        fit["n_levels"] = int(len(set(np.round(points_p, 6))))
        fit["per_trial_correlation"] = mx.linear_fit(trial_p, trial_mag)["correlation"]
        fit["levels"] = levels
        res["probability"] = fit
        # 3. recovery after each switch
        rec = []
        for sw, (start, stop) in zip(schedule.switches, segments[1:], strict=False):
            sel = (cue == sw.cue) & (cols["block"] >= start) & (cols["block"] < stop)
            available = sel & done
            complete = bool(sel.sum() == available.sum())
            if sw.kind == "delay":
                values = t["peak_time_ms"][available]
                within = np.abs(values - sw.value) <= config.timing_tolerance * sw.value
                tol = f"|peak - delay| <= {100 * config.timing_tolerance:g}% of {sw.value:g} ms"
            else:
                values = mx.trailing_mean(t["magnitude_A"][available], config.recovery_run)
                within = np.abs(values - sw.value) <= config.probability_tolerance
                tol = (
                    f"|mean magnitude of the last {config.recovery_run} trials - p| <= "
                    f"{config.probability_tolerance:g}"
                )
            trials = mx.trials_to_recover(within, config.recovery_run)
            rec.append(
                {
                    **sw.to_dict(),
                    "trials_to_recover": trials,
                    "trials_observed": int(available.sum()),
                    "trials_in_segment": int(sel.sum()),
                    "complete": complete,
                    "tolerance": tol,
                    "never": trials is None and complete,
                }
            )
        res["recovery"] = rec
        # 4. subspaces
        a = angles[m]
        finite = a[np.isfinite(a)]
        res["angles"] = {
            "per_block_deg": a.tolist(),
            "final_deg": float(finite[-1]) if finite.size else None,
            "min_over_learning_deg": float(finite.min()) if finite.size else None,
            "mean_over_learning_deg": float(finite.mean()) if finite.size else None,
        }
        out[m] = res
    return out


def _targets_summary(methods: dict[str, Any], reference_angle: float) -> dict[str, Any]:
    """Which of the experiment's targets the three-factor readout met."""
    tf = methods["three_factor"]
    fo = methods["force"]
    timing = tf.get("timing_max_abs_error_pct")
    corr = tf["probability"]["correlation"]
    recovery = []
    for r_tf, r_fo in zip(tf["recovery"], fo["recovery"], strict=True):
        if not r_tf["complete"]:
            ok = None
        elif r_fo["trials_to_recover"] is None:
            ok = r_tf["trials_to_recover"] is not None
        elif r_tf["trials_to_recover"] is None:
            ok = False
        else:
            ok = r_tf["trials_to_recover"] <= r_fo["trials_to_recover"] / 5.0
        recovery.append({"kind": r_tf["kind"], "met": ok})
    final_angle = tf["angles"]["final_deg"]
    return {
        "timing_error_within_5pct": None if timing is None else bool(timing <= 5.0),
        "magnitude_probability_correlation_ge_0.95": (
            None if not np.isfinite(corr) else bool(corr >= 0.95)
        ),
        "recovery_fifth_of_force": recovery,
        "min_angle_ge_70deg": None if final_angle is None else bool(final_angle >= 70.0),
        "random_reference_angle_deg": reference_angle,
    }


# ----------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------


def _example_trials(schedule: Schedule) -> list[tuple[int, str]]:
    """Trials whose outputs are kept: for each switch, the switched cue's last trial before it,
    its first trial after it and its last trial before the next switch (or the end)."""
    cols = schedule.arrays()
    chosen: list[tuple[int, str]] = []
    segments = _segments(schedule)
    for k, (sw, (start, stop)) in enumerate(
        zip(schedule.switches, segments[1:], strict=False), start=1
    ):
        idx = np.flatnonzero(cols["cue"] == sw.cue)
        before = idx[cols["block"][idx] < start]
        after = idx[(cols["block"][idx] >= start) & (cols["block"][idx] < stop)]
        if before.size:
            chosen.append((int(before[-1]), f"switch {k} ({sw.kind}): last trial before"))
        if after.size:
            chosen.append((int(after[0]), f"switch {k} ({sw.kind}): first trial after"))
            chosen.append((int(after[-1]), f"switch {k} ({sw.kind}): end of stretch"))
    return chosen


def _padded(rows: list[np.ndarray], width: int) -> np.ndarray:
    n = max((r.shape[0] for r in rows), default=0)
    out = np.full((len(rows), n, width), np.nan, np.float32)
    for i, r in enumerate(rows):
        out[i, : r.shape[0]] = r
    return out


class _Runner:
    def __init__(self, config: WhatWhenConfig, run_dir: Path, progress: bool) -> None:
        self.cfg = config
        self.run_dir = run_dir
        self.fingerprint = config_fingerprint(EXPERIMENT, config.to_dict())
        self.progress = progress
        self.timing = config.timing()
        self.schedule = make_schedule(
            config.delays_ms,
            config.probabilities,
            n_blocks=config.n_blocks,
            trials_per_block=config.trials_per_block,
            switches=config.switches(),
            timing=self.timing,
            seed=np.random.SeedSequence([config.seed, 1]).generate_state(1)[0].item(),
        )
        started = time.perf_counter()
        self.reservoir = CueReservoir.build(
            config.reservoir_params(), seed=config.seed, backend=config.backend
        )
        self.build_s = time.perf_counter() - started
        n = self.reservoir.n_neurons
        self.readouts = {
            "three_factor": ThreeFactorReadout(
                n,
                3,
                learning_rate=config.tf_learning_rate,
                tau_eligibility_ms=config.tf_tau_eligibility_ms,
                dt_ms=self.timing.dt_ms,
                online_outputs=np.array([True, False, False]),
                consolidation_rate=config.tf_consolidation_rate,
                backend="numpy" if config.backend == "numpy" else "auto",
            ),
            "force": FORCEReadout(
                n,
                3,
                alpha=config.force_alpha,
                update_every=config.force_update_every,
                backend="numpy" if config.backend == "numpy" else "auto",
            ),
            "force_reset": FORCEReadout(
                n,
                3,
                alpha=config.force_alpha,
                update_every=config.force_update_every,
                backend="numpy" if config.backend == "numpy" else "auto",
            ),
            "ridge": RidgeReadout(n, 3, ridge=config.ridge),
        }
        n_trials = len(self.schedule)
        nan = np.full(n_trials, np.nan)
        self.per_trial = {
            m: {
                k: nan.copy() for k in ("peak_time_ms", "peak_height", "magnitude_A", "magnitude_B")
            }
            for m in METHODS
        }
        self.angles = {m: np.full(config.n_blocks, np.nan) for m in METHODS}
        self.weights = {m: np.full((config.n_blocks, 3, n), np.nan, np.float32) for m in METHODS}
        self.rates = nan.copy()
        # attention of the three-factor "when" output: associability per cue (starting at the
        # surprise of a silent output, 1), the gate level and surprise of every trial
        self.associability = np.ones(self.schedule.n_cues)
        self.attention_gate = nan.copy()
        self.surprise = nan.copy()
        self.associability_after = np.full((n_trials, self.schedule.n_cues), np.nan)
        self.examples = _example_trials(self.schedule)
        self.example_outputs: dict[int, dict[str, np.ndarray]] = {}
        self.example_targets: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        last_block = [t for t in self.schedule.trials if t.block == config.n_blocks - 1]
        longest = max(last_block, key=lambda t: (t.delay_ms, -t.index))
        self.raster_index = longest.index
        self.n_done = 0
        self.blocks_done = 0
        self.walls = {"simulate_s": 0.0, "readouts_s": dict.fromkeys(METHODS, 0.0)}
        self.reference = mx.random_subspace_angles_deg(
            n, 2, 1, n_draws=config.random_angle_draws, seed=config.seed
        )
        self.status = "running"
        self.started = time.perf_counter()

    # ------------------------------------------------------------------------------------
    def write_config(self) -> None:
        res = self.reservoir.reservoir
        write_json(
            self.run_dir / "config.json",
            run_config_document(
                EXPERIMENT,
                self.cfg.to_dict(),
                experiment=EXPERIMENT,
                methods=list(METHODS),
                method_labels=METHOD_LABELS,
                outputs=list(OUTPUT_NAMES),
                timing=self.timing.to_dict(),
                switches=[s.to_dict() for s in self.schedule.switches],
                reservoir={
                    "n_neurons": res.n_neurons,
                    "n_excitatory": int(self.reservoir.excitatory.sum()),
                    "n_synapses": int(res.weights.nnz),
                    "backend": res.backend,
                    "dt_ms": res.dt_ms,
                    "synapse": res.synapse,
                },
            ),
        )
        # the paradigm: targets and gates of one outcome-A trial per cue, with block-0 values
        targets, gates, labels = [], [], []
        for c in range(self.schedule.n_cues):
            trial = Trial(0, 0, c, float(self.schedule.delays_ms[0, c]), 1.0, 0, 0)
            y, g = trial_targets(trial, self.timing)
            targets.append(y)
            gates.append(g)
            labels.append(c)
        write_npz(
            self.run_dir / "paradigm.npz",
            targets=_padded(targets, 3),
            gates=_padded(gates, 3),
            delays_ms=self.schedule.delays_ms,
            probabilities=self.schedule.probabilities,
            onset_ms=np.asarray(self.timing.onset_ms),
            dt_ms=np.asarray(self.timing.dt_ms),
            trials_per_block=np.asarray(self.schedule.trials_per_block),
        )

    def save(self) -> dict[str, Any]:
        methods = compute_metrics(self.schedule, self.per_trial, self.angles, self.n_done, self.cfg)
        wall = time.perf_counter() - self.started
        metrics = {
            "experiment": EXPERIMENT,
            "status": self.status,
            "n_trials": len(self.schedule),
            "n_trials_done": self.n_done,
            "n_blocks_done": self.blocks_done,
            "config": self.cfg.to_dict(),
            "methods": methods,
            "random_reference_angle_deg": self.reference,
            "targets": _targets_summary(methods, self.reference["min_deg"]),
            "attention": self._attention_summary(),
            "reservoir": {
                "n_neurons": self.reservoir.n_neurons,
                "mean_rate_hz": float(np.nanmean(self.rates)) if self.n_done else None,
                "build_s": self.build_s,
            },
            "wall_time_s": {
                "total": wall,
                "simulate": self.walls["simulate_s"],
                "readouts": dict(self.walls["readouts_s"]),
            },
        }
        arrays: dict[str, np.ndarray] = dict(self.schedule.arrays())
        arrays["trial_rate_hz"] = self.rates
        arrays["attention_gate__three_factor"] = self.attention_gate
        arrays["surprise__three_factor"] = self.surprise
        arrays["associability__three_factor"] = self.associability_after
        arrays["attention_on"] = np.asarray(bool(self.cfg.tf_attention))
        arrays["n_trials_done"] = np.asarray(self.n_done)
        arrays["random_reference_angle_deg"] = np.asarray(self.reference["min_deg"])
        for m in METHODS:
            for k, v in self.per_trial[m].items():
                arrays[f"{k}__{m}"] = v
            arrays[f"angle_deg__{m}"] = self.angles[m]
            arrays[f"weights__{m}"] = self.weights[m]
        write_npz(self.run_dir / "arrays.npz", **arrays)
        kept = [(i, lab) for i, lab in self.examples if i in self.example_outputs]
        if kept:
            ex: dict[str, np.ndarray] = {
                "trial_index": np.array([i for i, _ in kept], np.int64),
                "label": np.array([lab for _, lab in kept]),
                "targets": _padded([self.example_targets[i][0] for i, _ in kept], 3),
                "gates": _padded([self.example_targets[i][1] for i, _ in kept], 3),
                "onset_ms": np.asarray(self.timing.onset_ms),
                "dt_ms": np.asarray(self.timing.dt_ms),
            }
            for m in METHODS:
                ex[f"outputs__{m}"] = _padded([self.example_outputs[i][m] for i, _ in kept], 3)
            write_npz(self.run_dir / "examples.npz", **ex)
        write_json(self.run_dir / "metrics.json", metrics)
        return metrics

    # ------------------------------------------------------------------------------------
    def _learn(self, name: str, fn, *args: Any, **kwargs: Any) -> Any:
        """Call ``fn(*args, **kwargs)``, adding its wall time to readout ``name``'s."""
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.walls["readouts_s"][name] += time.perf_counter() - started

    def run(self) -> dict[str, Any]:
        cfg, timing = self.cfg, self.timing
        onset = int(round(timing.onset_ms / timing.dt_ms))
        switch_blocks = {s.block for s in self.schedule.switches}
        example_set = {i for i, _ in self.examples}
        block_rows: list[tuple[Trial, np.ndarray, np.ndarray]] = []
        show = self.progress and sys.stderr.isatty()
        bar = tqdm(total=len(self.schedule), disable=not show, unit="trial", desc="what & when")
        bar.update(self.n_done)
        try:
            for trial in self.schedule.trials[self.n_done :]:
                first_in_block = trial.index % self.schedule.trials_per_block == 0
                if first_in_block and trial.block in switch_blocks:
                    self.readouts["force_reset"].reset()
                started = time.perf_counter()
                act = self.reservoir.run_trial(
                    trial.cue, timing.duration_ms(trial.delay_ms), timing.onset_ms,
                    trial.noise_seed,
                )  # fmt: skip
                self.walls["simulate_s"] += time.perf_counter() - started
                self.rates[trial.index] = act.mean_rate_hz
                if trial.index == self.raster_index:
                    save_spikes(
                        self.run_dir / "raster_trial.npz", act.spikes, self.reservoir.excitatory
                    )
                    write_json(
                        self.run_dir / "raster_trial.json",
                        {
                            "trial_index": trial.index,
                            "cue": trial.cue,
                            "delay_ms": trial.delay_ms,
                            "onset_ms": timing.onset_ms,
                            "outcome": OUTPUT_NAMES[WHAT[trial.outcome]],
                            "driven": np.flatnonzero(
                                self.reservoir.encoders[trial.cue] > 0
                            ).tolist(),
                        },
                    )
                x = act.traces
                y, g = trial_targets(trial, timing)
                gate_end = int(np.flatnonzero(g[:, WHEN])[-1]) + 1
                window = slice(onset, gate_end)
                outputs = {}
                for m in ("three_factor", "force", "force_reset"):
                    readout = self.readouts[m]
                    outputs[m] = readout.predict(x)
                    self._record(m, trial, outputs[m])
                level = self._attend(trial)
                g_tf = g
                if cfg.tf_attention:
                    g_tf = g.copy()
                    g_tf[:, WHEN] *= np.float32(level)
                try:
                    tf = self.readouts["three_factor"]
                    self._learn("three_factor", tf.fit_online, x, y, gate=g_tf)
                    for m in ("force", "force_reset"):
                        self._learn(m, self.readouts[m].fit_online, x[window], y[window])
                except ReadoutDivergedError as error:
                    raise WhatWhenDivergedError(
                        f"readout diverged in trial {trial.index} (block {trial.block}): {error}"
                    ) from error
                block_rows.append((trial, x, y, window))
                if trial.index in example_set:
                    self.example_outputs[trial.index] = {
                        m: outputs[m].astype(np.float32) for m in outputs
                    }
                    self.example_targets[trial.index] = (y, g)
                self.n_done = trial.index + 1
                if self.n_done % cfg.tf_consolidate_every == 0:
                    self._consolidate(trial.block)
                bar.update(1)
                if self.n_done % self.schedule.trials_per_block == 0:
                    self._end_block(trial.block, block_rows)
                    block_rows = []
                    self.blocks_done = trial.block + 1
                    self.save()
                    save_checkpoint(self, self.fingerprint)
        except WhatWhenDivergedError as error:
            self.status = f"diverged: {error}"
            self.save()
            raise
        except KeyboardInterrupt:
            self._mark_interrupted()
            raise
        finally:
            bar.close()
        self.status = "complete"
        return self.save()

    def _mark_interrupted(self) -> None:
        """Say in ``metrics.json`` (as of the last finished block, like the checkpoint) that
        the run was interrupted and can be resumed."""
        path = self.run_dir / "metrics.json"
        if path.exists():
            metrics = read_json(path)
            metrics["status"] = f"interrupted after block {self.blocks_done}; --resume continues"
            write_json(path, metrics)

    def _attend(self, trial: Trial) -> float:
        """The "when" gate level of this trial (1 without attention); then the cue's
        associability is updated with this trial's surprise, for its next trial."""
        cfg, c = self.cfg, trial.cue
        level = 1.0
        if cfg.tf_attention:
            level = attention_gate(
                self.associability[c], cfg.tf_attention_floor, cfg.tf_attention_ref
            )
        s = trial_surprise(
            self.per_trial["three_factor"]["peak_time_ms"][trial.index], trial.delay_ms
        )
        self.associability[c] = update_associability(
            self.associability[c], s, cfg.tf_attention_rate
        )
        self.attention_gate[trial.index] = level
        self.surprise[trial.index] = s
        self.associability_after[trial.index] = self.associability
        return level

    def _attention_summary(self) -> dict[str, Any]:
        cfg = self.cfg
        cue = self.schedule.arrays()["cue"]
        done = np.arange(len(self.schedule)) < self.n_done
        per_cue = []
        for c in range(self.schedule.n_cues):
            sel = done & (cue == c)
            lv = self.attention_gate[sel]
            per_cue.append(
                {
                    "cue": c,
                    "mean_gate": float(lv.mean()) if lv.size else None,
                    "final_gate": float(lv[-1]) if lv.size else None,
                    "mean_surprise": float(self.surprise[sel].mean()) if lv.size else None,
                }
            )
        return {
            "on": bool(cfg.tf_attention),
            "outputs": ["when"] if cfg.tf_attention else [],
            "rate": cfg.tf_attention_rate,
            "floor": cfg.tf_attention_floor,
            "ref": cfg.tf_attention_ref,
            "per_cue": per_cue,
        }

    def _record(self, m: str, trial: Trial, outputs: np.ndarray) -> None:
        values = measure_trial(outputs, trial, self.timing)
        for key, v in zip(
            ("peak_time_ms", "peak_height", "magnitude_A", "magnitude_B"), values, strict=True
        ):
            self.per_trial[m][key][trial.index] = v

    def _consolidate(self, block: int) -> None:
        try:
            self._learn("three_factor", self.readouts["three_factor"].consolidate)
        except ReadoutDivergedError as error:
            raise WhatWhenDivergedError(
                f"readout diverged consolidating in block {block}: {error}"
            ) from error

    def _end_block(self, block: int, rows) -> None:
        self._consolidate(block)
        ridge = self.readouts["ridge"]

        self._learn(
            "ridge",
            ridge.fit_offline,
            np.concatenate([x[w] for _, x, _, w in rows]),
            np.concatenate([y[w] for _, _, y, w in rows]),
        )
        # the ridge fit is measured on the trials it was fitted on
        for trial, x, _, _ in rows:
            out = ridge.predict(x)
            self._record("ridge", trial, out)
            if trial.index in self.example_outputs:
                self.example_outputs[trial.index]["ridge"] = out.astype(np.float32)
        for m in METHODS:
            w = np.asarray(self.readouts[m].weights, dtype=np.float64)
            self.weights[m][block] = w
            try:
                self.angles[m][block] = mx.principal_angles_deg(w[list(WHAT)], w[WHEN])[0]
            except ValueError:
                self.angles[m][block] = np.nan


def run_whatwhen(
    config: WhatWhenConfig | None = None,
    out: str | Path | None = None,
    progress: bool | None = None,
    *,
    resume: bool = False,
) -> dict[str, Any]:
    """Run the experiment and write its run folder.

    Args:
        config: the run (default :class:`WhatWhenConfig`).
        out: run folder (default ``runs/whatwhen-<time>``); a folder that holds another job's
            run, or a what-and-when run with other settings, is refused.
        progress: show a progress bar (default: when stderr is a terminal).
        resume: continue the run in ``out`` after its last finished block (its checkpoint);
            the result is the same as an uninterrupted run's.

    Returns:
        the metrics written to ``metrics.json`` (plus ``"run_dir"``).

    Raises:
        ValueError/TypeError: a bad parameter (before anything is written).
        WhatWhenDivergedError: a readout diverged; the folder keeps the blocks done.
        RunFolderError: ``out`` cannot take this run, or its checkpoint belongs to another.
    """
    config = WhatWhenConfig() if config is None else config
    if not isinstance(config, WhatWhenConfig):
        raise TypeError(f"config must be a WhatWhenConfig; got {type(config).__name__}")
    config.validate()
    check_whatwhen_memory(config)  # before the run folder, the network and the readouts
    run_dir = prepare_run_dir(out, job=EXPERIMENT, config=config.to_dict(), resume=resume)
    if resume and run_is_complete(run_dir, CHECKPOINT):
        return {**read_json(run_dir / "metrics.json"), "run_dir": str(run_dir)}
    runner = _Runner(config, run_dir, progress=True if progress is None else bool(progress))
    if not (resume and load_checkpoint(runner, runner.fingerprint)):
        (run_dir / CHECKPOINT).unlink(missing_ok=True)
    runner.write_config()
    try:
        metrics = runner.run()
    except KeyboardInterrupt:
        raise RunInterrupted(run_dir) from None
    (run_dir / CHECKPOINT).unlink(missing_ok=True)
    metrics["run_dir"] = str(run_dir)
    return metrics
