"""The state of a what-and-when run and its per-trial steps.

A :class:`Runner` holds what a run has built (schedule, reservoir, readouts) and what it has
measured so far. :meth:`Runner.step` runs one trial: simulate it, predict with every online
readout's weights from before the trial and measure that prediction, then learn from it;
:meth:`Runner.end_block` fits the ridge readout to the block and records every readout's
weights. :mod:`spikesub.whatwhen.run` builds the runner and drives it;
:mod:`spikesub.whatwhen.checkpoint` saves and restores its arrays.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from spikesub.models.errors import SpikesubError
from spikesub.readouts import ReadoutDivergedError
from spikesub.runs import save_spikes, write_json
from spikesub.whatwhen.attention import attention_gate, trial_surprise, update_associability
from spikesub.whatwhen.config import METHODS, WhatWhenConfig
from spikesub.whatwhen.metrics import (
    measure_trial,
    principal_angles_deg,
    random_subspace_angles_deg,
)
from spikesub.whatwhen.paradigm import OUTPUT_NAMES, WHAT, WHEN, Schedule, Trial, trial_targets
from spikesub.whatwhen.reservoir_traces import CueReservoir, TrialActivity

__all__ = ["MEASURES", "ONLINE_METHODS", "Runner", "WhatWhenDivergedError"]

MEASURES = ("peak_time_ms", "peak_height", "magnitude_A", "magnitude_B")
"""What :func:`~spikesub.whatwhen.metrics.measure_trial` measures of every trial."""
ONLINE_METHODS = ("three_factor", "force", "force_reset")
"""The readouts that learn trial by trial (ridge is fitted at the end of each block)."""


_NAMES = {"three_factor": "three-factor", "force": "FORCE (no reset)", "force_reset": "FORCE"}


class WhatWhenDivergedError(SpikesubError):
    """A readout diverged during the experiment; the run folder keeps the blocks done."""


class Runner:
    """A what-and-when run in progress.

    Attributes:
        cfg: the configuration; ``timing``, ``schedule``, ``reservoir``, ``readouts`` (by
            method) what it built.
        per_trial: per method and measure (:data:`MEASURES`), ``(trials,)`` float64, NaN
            until measured.
        angles: per method, ``(blocks,)`` the smallest principal angle between the "what"
            and "when" weights, degrees.
        weights: per method, ``(blocks, 3, neurons)`` float32 weights at each block's end.
        rates: ``(trials,)`` population mean rate of each trial, Hz.
        associability: ``(cues,)`` the three-factor "when" output's associability per cue
            (starting at 1, the surprise of a silent output); ``attention_gate`` and
            ``surprise`` ``(trials,)`` the gate level and surprise of every trial;
            ``associability_after`` ``(trials, cues)`` the associabilities after it.
        examples: ``(trial index, label)`` of the trials whose outputs are kept, in
            ``example_outputs`` (per method, ``(time, 3)``) and ``example_targets``
            (targets and gates, ``(time, 3)`` each).
        n_done, blocks_done: trials and blocks finished.
    """

    def __init__(
        self,
        config: WhatWhenConfig,
        run_dir: Path,
        *,
        schedule: Schedule,
        reservoir: CueReservoir,
        readouts: dict[str, Any],
        examples: list[tuple[int, str]],
        build_s: float,
        fingerprint: str,
    ) -> None:
        self.cfg = config
        self.run_dir = run_dir
        self.fingerprint = fingerprint
        self.timing = config.timing()
        self.schedule = schedule
        self.reservoir = reservoir
        self.build_s = build_s
        self.readouts = readouts
        n, n_trials, n_cues = reservoir.n_neurons, len(schedule), schedule.n_cues
        nan = np.full(n_trials, np.nan)
        self.per_trial = {m: {k: nan.copy() for k in MEASURES} for m in METHODS}
        self.angles = {m: np.full(config.n_blocks, np.nan) for m in METHODS}
        self.weights = {m: np.full((config.n_blocks, 3, n), np.nan, np.float32) for m in METHODS}
        self.rates = nan.copy()
        self.associability = np.ones(n_cues)
        self.attention_gate = nan.copy()
        self.surprise = nan.copy()
        self.associability_after = np.full((n_trials, n_cues), np.nan)
        self.examples = examples
        self._example_indices = {i for i, _ in examples}
        self.example_outputs: dict[int, dict[str, np.ndarray]] = {}
        self.example_targets: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.raster_index = _raster_trial(schedule)
        self.block_rows: list[tuple[Trial, np.ndarray, np.ndarray, slice]] = []
        self.n_done = 0
        self.blocks_done = 0
        self.walls = {"simulate_s": 0.0, "readouts_s": dict.fromkeys(METHODS, 0.0)}
        self.reference = random_subspace_angles_deg(
            n, 2, 1, n_draws=config.random_angle_draws, seed=config.seed
        )
        self.status = "running"
        self.started = time.perf_counter()

    # -- one trial --------------------------------------------------------------------------

    def step(self, trial: Trial) -> None:
        """Run ``trial``: simulate, predict and measure, learn; consolidate when due."""
        self._reset_at_switch(trial)
        x = self._simulate(trial).traces
        y, g = trial_targets(trial, self.timing)
        outputs = self._predict(trial, x)
        window = self._learn_trial(trial, x, y, g)
        self.block_rows.append((trial, x, y, window))
        self._keep_example(trial, outputs, y, g)
        self.n_done = trial.index + 1
        if self.n_done % self.cfg.tf_consolidate_every == 0:
            self._consolidate(trial.block)

    def _reset_at_switch(self, trial: Trial) -> None:
        """Reset ``force_reset``'s ``P`` at the start of a block that switches."""
        first_in_block = trial.index % self.schedule.trials_per_block == 0
        if first_in_block and trial.block in {s.block for s in self.schedule.switches}:
            self.readouts["force_reset"].reset()

    def _simulate(self, trial: Trial) -> TrialActivity:
        """The reservoir's activity in ``trial``; keeps its rate, and its spikes for the
        raster trial."""
        started = time.perf_counter()
        act = self.reservoir.run_trial(
            trial.cue, self.timing.duration_ms(trial.delay_ms), self.timing.onset_ms,
            trial.noise_seed,
        )  # fmt: skip
        self.walls["simulate_s"] += time.perf_counter() - started
        self.rates[trial.index] = act.mean_rate_hz
        if trial.index == self.raster_index:
            self._write_raster_trial(trial, act)
        return act

    def _write_raster_trial(self, trial: Trial, act: TrialActivity) -> None:
        """``raster_trial.npz`` (the trial's spikes) and ``raster_trial.json`` (what it was)."""
        save_spikes(self.run_dir / "raster_trial.npz", act.spikes, self.reservoir.excitatory)
        write_json(
            self.run_dir / "raster_trial.json",
            {
                "trial_index": trial.index,
                "cue": trial.cue,
                "delay_ms": trial.delay_ms,
                "onset_ms": self.timing.onset_ms,
                "outcome": OUTPUT_NAMES[WHAT[trial.outcome]],
                "driven": np.flatnonzero(self.reservoir.encoders[:, trial.cue] > 0).tolist(),
            },
        )

    def _predict(self, trial: Trial, x: np.ndarray) -> dict[str, np.ndarray]:
        """Each online readout's outputs ``(time, 3)`` for the traces ``x`` ``(time,
        neurons)``, with its weights from before the trial; each is measured."""
        outputs = {}
        for m in ONLINE_METHODS:
            outputs[m] = self.readouts[m].predict(x)
            self.record(m, trial, outputs[m])
        return outputs

    def _learn_trial(self, trial: Trial, x: np.ndarray, y: np.ndarray, g: np.ndarray) -> slice:
        """Train the online readouts on the trial (targets ``y`` and gates ``g``, ``(time,
        3)``); returns the steps FORCE saw, cue onset to the end of the "when" gate."""
        onset = int(round(self.timing.onset_ms / self.timing.dt_ms))
        gate_end = int(np.flatnonzero(g[:, WHEN])[-1]) + 1
        window = slice(onset, gate_end)
        level = self._attend(trial)
        g_tf = g
        if self.cfg.tf_attention:
            g_tf = g.copy()
            g_tf[:, WHEN] *= np.float32(level)
        m, start = "three_factor", 0
        try:
            self.readouts["three_factor"].reset_eligibility()  # every trial starts at rest
            self._timed("three_factor", self.readouts["three_factor"].fit_online, x, y, gate=g_tf)
            m, start = "force", onset
            self._timed(m, self.readouts[m].fit_online, x[window], y[window])
            m = "force_reset"
            self._timed(m, self.readouts[m].fit_online, x[window], y[window])
        except ReadoutDivergedError as error:
            step = "" if error.step is None else f" at step {start + error.step} of the trial"
            raise WhatWhenDivergedError(
                f"the {_NAMES[m]} readout diverged in trial {trial.index} (block "
                f"{trial.block}){step}: its outputs or weights became non-finite; its weights "
                f"were restored to their values before the trial and the run stopped with "
                f"{self.blocks_done} blocks done; {self._remedy(m)}"
            ) from error
        return window

    def _remedy(self, m: str) -> str:
        """The settings to change when readout ``m`` diverges."""
        cfg = self.cfg
        if m == "three_factor":
            return f"lower tf_learning_rate (now {cfg.tf_learning_rate:g})" + (
                "" if cfg.tf_when_normalised else " or turn on tf_when_normalised"
            )
        return f"raise force_alpha (now {cfg.force_alpha:g}; P(0) = I / alpha)"

    def _keep_example(
        self, trial: Trial, outputs: dict[str, np.ndarray], y: np.ndarray, g: np.ndarray
    ) -> None:
        if trial.index in self._example_indices:
            self.example_outputs[trial.index] = {m: outputs[m].astype(np.float32) for m in outputs}
            self.example_targets[trial.index] = (y, g)

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

    # -- the end of a block -----------------------------------------------------------------

    def end_block(self, block: int) -> None:
        """Consolidate, fit ridge to the block's trials and measure it on them, record every
        readout's weights and what/when angle."""
        self._consolidate(block)
        self._fit_ridge(self.block_rows)
        for m in METHODS:
            w = np.asarray(self.readouts[m].weights, dtype=np.float64)
            self.weights[m][block] = w
            try:
                self.angles[m][block] = principal_angles_deg(w[list(WHAT)], w[WHEN])[0]
            except ValueError:
                self.angles[m][block] = np.nan
        self.block_rows = []
        self.blocks_done = block + 1

    def _fit_ridge(self, rows: list[tuple[Trial, np.ndarray, np.ndarray, slice]]) -> None:
        """Fit ridge on the block's ``(trial, traces, targets, window)`` rows, then measure
        it on the trials it was fitted on."""
        ridge = self.readouts["ridge"]
        self._timed(
            "ridge",
            ridge.fit_offline,
            np.concatenate([x[w] for _, x, _, w in rows]),
            np.concatenate([y[w] for _, _, y, w in rows]),
        )
        for trial, x, _, _ in rows:
            out = ridge.predict(x)
            self.record("ridge", trial, out)
            if trial.index in self.example_outputs:
                self.example_outputs[trial.index]["ridge"] = out.astype(np.float32)

    def _consolidate(self, block: int) -> None:
        try:
            self._timed("three_factor", self.readouts["three_factor"].consolidate)
        except ReadoutDivergedError as error:
            raise WhatWhenDivergedError(
                f"three-factor readout diverged consolidating in block {block}: its weights "
                f"became non-finite and were restored; lower tf_consolidation_rate (now "
                f"{self.cfg.tf_consolidation_rate:g}) or tf_learning_rate (now "
                f"{self.cfg.tf_learning_rate:g})"
            ) from error

    # -- bookkeeping ------------------------------------------------------------------------

    def record(self, m: str, trial: Trial, outputs: np.ndarray) -> None:
        """Measure method ``m``'s outputs ``(time, 3)`` of ``trial`` into ``per_trial``."""
        values = measure_trial(outputs, trial, self.timing)
        for key, v in zip(MEASURES, values, strict=True):
            self.per_trial[m][key][trial.index] = v

    def _timed(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn(*args, **kwargs)``, adding its wall time to readout ``name``'s."""
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.walls["readouts_s"][name] += time.perf_counter() - started

    def attention_summary(self) -> dict[str, Any]:
        """The attention settings and, per cue, the mean and final gate and mean surprise."""
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


def _raster_trial(schedule: Schedule) -> int:
    """The trial whose spikes are kept: the longest of the last block (the first of them)."""
    last_block = [t for t in schedule.trials if t.block == schedule.n_blocks - 1]
    return max(last_block, key=lambda t: (t.delay_ms, -t.index)).index
