"""Running the what-and-when job: one reservoir, one trial sequence, four readouts.

:func:`run` builds the run (:func:`build`), runs its trials (:func:`run_trials`), measures
(:func:`measure`) and writes (:func:`write_config`, :func:`write_paradigm`,
:func:`write_results`). Every trial is
simulated once (:class:`~spikesub.whatwhen.reservoir_traces.CueReservoir`) and its traces go,
in lockstep, to

* ``three_factor``: :class:`~spikesub.readouts.ThreeFactorReadout`, the "when" output learning
  online at every step, the "what" outputs accumulating their updates during the trial and
  consolidating them offline, after every ``tf_consolidate_every`` trials (default 1: in the
  interval between trials; ``trials_per_block``: between blocks), each output gated by its
  attention window; with ``tf_attention`` the "when" window is scaled by the cue's
  surprise-driven attention (:mod:`spikesub.whatwhen.attention`), high after the cue's
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

The run folder receives ``config.json`` and ``paradigm.npz`` at once and, after every block
(atomically), ``metrics.json``, ``arrays.npz`` (per-trial measures, the three-factor "when"
gate level, surprise and per-cue associability of every trial, weights and angles per block),
``examples.npz`` (output traces of chosen trials with their targets), ``raster_trial.npz``
(the spikes of one trial) and ``checkpoint.npz`` (what :func:`run` resumes from); figures are
drawn from these files by :func:`spikesub.whatwhen.figures.plot`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from spikesub.readouts import FORCEReadout, RidgeReadout, ThreeFactorReadout
from spikesub.runs import (
    RunInterrupted,
    config_fingerprint,
    prepare_run_dir,
    read_json,
    run_config_document,
    run_is_complete,
    write_json,
    write_npz,
)
from spikesub.whatwhen.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from spikesub.whatwhen.config import METHOD_LABELS, METHODS, WhatWhenConfig
from spikesub.whatwhen.metrics import compute_metrics, segments, targets_summary
from spikesub.whatwhen.paradigm import OUTPUT_NAMES, Schedule, Trial, make_schedule, trial_targets
from spikesub.whatwhen.reservoir_traces import CueReservoir
from spikesub.whatwhen.runner import Runner, WhatWhenDivergedError
from spikesub.whatwhen.sizes import check_whatwhen_memory

__all__ = [
    "WhatWhenDivergedError",
    "build",
    "measure",
    "run",
    "run_trials",
    "write_config",
    "write_paradigm",
    "write_results",
]

JOB = WhatWhenConfig.job


def run(
    config: WhatWhenConfig,
    out: str | Path | None = None,
    *,
    progress: bool | None = None,
    resume: bool = False,
) -> Path:
    """Run the experiment of ``config`` and write its run folder; returns the folder.

    Args:
        config: the run.
        out: run folder (default ``runs/whatwhen-<time>``); a folder that holds another job's
            run, or a what-and-when run with other settings, is refused.
        progress: show a progress bar (default: when stderr is a terminal).
        resume: continue the run in ``out`` after its last finished block (its checkpoint);
            the result is the same as an uninterrupted run's.

    Returns:
        the run folder; its ``metrics.json`` holds the measures.

    Raises:
        TypeError: ``config`` is not a :class:`WhatWhenConfig`.
        MemoryBudgetError: the run would not fit the memory budget (before anything is
            written).
        WhatWhenDivergedError: a readout diverged; the folder keeps the blocks done.
        RunFolderError: ``out`` cannot take this run, or its checkpoint belongs to another.
        RunInterrupted: (a KeyboardInterrupt) the run was interrupted; ``resume=True``
            continues it after its last finished block.
    """
    if not isinstance(config, WhatWhenConfig):
        raise TypeError(f"config must be a WhatWhenConfig; got {type(config).__name__}")
    check_whatwhen_memory(config)  # before the run folder, the network and the readouts
    run_dir = prepare_run_dir(out, job=JOB, config=config.to_dict(), resume=resume)
    if resume and run_is_complete(run_dir, CHECKPOINT):
        return run_dir
    runner = build(config, run_dir)
    if not (resume and load_checkpoint(runner, runner.fingerprint)):
        (run_dir / CHECKPOINT).unlink(missing_ok=True)
    write_config(runner)
    write_paradigm(runner)
    try:
        run_trials(runner, progress)
    except KeyboardInterrupt:
        raise RunInterrupted(run_dir) from None
    (run_dir / CHECKPOINT).unlink(missing_ok=True)
    return run_dir


# ----------------------------------------------------------------------------------------------
# Build


def build(config: WhatWhenConfig, run_dir: Path) -> Runner:
    """The run of ``config`` before its first trial: the schedule, the reservoir, the
    readouts and the empty measures, writing into ``run_dir``."""
    timing = config.timing()
    schedule = make_schedule(
        config.delays_ms,
        config.probabilities,
        n_blocks=config.n_blocks,
        trials_per_block=config.trials_per_block,
        switches=config.switches(),
        timing=timing,
        seed=np.random.SeedSequence([config.seed, 1]).generate_state(1)[0].item(),
    )
    started = time.perf_counter()
    reservoir = CueReservoir.build(
        config.reservoir_params(), seed=config.seed, backend=config.backend
    )
    build_s = time.perf_counter() - started
    return Runner(
        config,
        run_dir,
        schedule=schedule,
        reservoir=reservoir,
        readouts=build_readouts(config, reservoir.n_neurons),
        examples=example_trials(schedule),
        build_s=build_s,
        fingerprint=config_fingerprint(JOB, config.to_dict()),
    )


def build_readouts(config: WhatWhenConfig, n: int) -> dict[str, Any]:
    """The four readouts of :data:`~spikesub.whatwhen.config.METHODS`, each ``n`` inputs to
    the three outputs "when", "what A", "what B"."""
    backend = "numpy" if config.backend == "numpy" else "auto"
    lr = config.tf_learning_rate
    when = config.tf_when_normalised
    force = {
        "alpha": config.force_alpha,
        "update_every": config.force_update_every,
        "backend": backend,
    }
    return {
        "three_factor": ThreeFactorReadout(
            n,
            3,
            learning_rate=np.array([config.tf_when_rate, lr, lr]) if when else lr,
            normalised_outputs=np.array([when, False, False]),
            highpass_tau_ms=config.tf_when_highpass_ms,
            tau_eligibility_ms=config.tf_tau_eligibility_ms,
            dt_ms=config.timing().dt_ms,
            online_outputs=np.array([True, False, False]),
            consolidation_rate=config.tf_consolidation_rate,
            backend=backend,
        ),
        "force": FORCEReadout(n, 3, **force),
        "force_reset": FORCEReadout(n, 3, **force),
        "ridge": RidgeReadout(n, 3, ridge=config.ridge),
    }


def example_trials(schedule: Schedule) -> list[tuple[int, str]]:
    """Trials whose outputs are kept: for each switch, the switched cue's last trial before it,
    its first trial after it and its last trial before the next switch (or the end)."""
    cols = schedule.arrays()
    chosen: list[tuple[int, str]] = []
    stretches = segments(schedule)[1:]
    for k, (sw, (start, stop)) in enumerate(zip(schedule.switches, stretches, strict=False), 1):
        idx = np.flatnonzero(cols["cue"] == sw.cue)
        before = idx[cols["block"][idx] < start]
        after = idx[(cols["block"][idx] >= start) & (cols["block"][idx] < stop)]
        if before.size:
            chosen.append((int(before[-1]), f"switch {k} ({sw.kind}): last trial before"))
        if after.size:
            chosen.append((int(after[0]), f"switch {k} ({sw.kind}): first trial after"))
            chosen.append((int(after[-1]), f"switch {k} ({sw.kind}): end of stretch"))
    return chosen


# ----------------------------------------------------------------------------------------------
# Run


def run_trials(runner: Runner, progress: bool | None = None) -> dict[str, Any]:
    """Run the trials not done yet; after every block, write the results and the checkpoint.

    Returns:
        the metrics written to ``metrics.json`` at the end.

    Raises:
        WhatWhenDivergedError: after ``metrics.json`` says so.
        KeyboardInterrupt: after ``metrics.json`` says the run can be resumed.
    """
    show = progress if progress is not None else sys.stderr.isatty()
    trials_per_block = runner.schedule.trials_per_block
    with tqdm(
        total=len(runner.schedule), initial=runner.n_done, disable=not show, unit="trial",
        desc="what & when",
    ) as bar:  # fmt: skip
        try:
            for trial in runner.schedule.trials[runner.n_done :]:
                runner.step(trial)
                bar.update(1)
                if runner.n_done % trials_per_block == 0:
                    runner.end_block(trial.block)
                    write_results(runner)
                    save_checkpoint(runner, runner.fingerprint)
        except WhatWhenDivergedError as error:
            runner.status = f"diverged: {error}"
            write_results(runner)
            raise
        except KeyboardInterrupt:
            _mark_interrupted(runner)
            raise
    runner.status = "complete"
    return write_results(runner)


def _mark_interrupted(runner: Runner) -> None:
    """Say in ``metrics.json`` (as of the last finished block, like the checkpoint) that the
    run was interrupted and can be resumed."""
    path = runner.run_dir / "metrics.json"
    if path.exists():
        metrics = read_json(path)
        metrics["status"] = f"interrupted after block {runner.blocks_done}; --resume continues"
        write_json(path, metrics)


# ----------------------------------------------------------------------------------------------
# Measure


def measure(runner: Runner) -> dict[str, Any]:
    """The metrics of the trials done so far (what ``metrics.json`` holds)."""
    methods = compute_metrics(
        runner.schedule, runner.per_trial, runner.angles, runner.n_done, runner.cfg
    )
    wall = time.perf_counter() - runner.started
    return {
        "experiment": JOB,
        "status": runner.status,
        "n_trials": len(runner.schedule),
        "n_trials_done": runner.n_done,
        "n_blocks_done": runner.blocks_done,
        "config": runner.cfg.to_dict(),
        "methods": methods,
        "random_reference_angle_deg": runner.reference,
        "targets": targets_summary(methods, runner.reference["min_deg"]),
        "attention": runner.attention_summary(),
        "reservoir": {
            "n_neurons": runner.reservoir.n_neurons,
            "mean_rate_hz": float(np.nanmean(runner.rates)) if runner.n_done else None,
            "build_s": runner.build_s,
        },
        "wall_time_s": {
            "total": wall,
            "simulate": runner.walls["simulate_s"],
            "readouts": dict(runner.walls["readouts_s"]),
        },
    }


# ----------------------------------------------------------------------------------------------
# Write


def write_config(runner: Runner) -> None:
    """Write ``config.json``: the settings, their fingerprint, the network built."""
    res = runner.reservoir.reservoir
    write_json(
        runner.run_dir / "config.json",
        run_config_document(
            JOB,
            runner.cfg.to_dict(),
            experiment=JOB,
            methods=list(METHODS),
            method_labels=METHOD_LABELS,
            outputs=list(OUTPUT_NAMES),
            timing=runner.timing.to_dict(),
            switches=[s.to_dict() for s in runner.schedule.switches],
            reservoir={
                "n_neurons": res.n_neurons,
                "n_excitatory": int(runner.reservoir.excitatory.sum()),
                "n_synapses": int(res.weights.nnz),
                "backend": res.backend,
                "dt_ms": res.dt_ms,
                "synapse": res.synapse,
            },
        ),
    )


def write_paradigm(runner: Runner) -> None:
    """Write ``paradigm.npz``: targets and gates of one outcome-A trial per cue, with block
    0's delays (``(cues, time, 3)`` each), the delays and probabilities per block and cue."""
    schedule = runner.schedule
    targets, gates = [], []
    for c in range(schedule.n_cues):
        trial = Trial(0, 0, c, float(schedule.delays_ms[0, c]), 1.0, 0, 0)
        y, g = trial_targets(trial, runner.timing)
        targets.append(y)
        gates.append(g)
    write_npz(
        runner.run_dir / "paradigm.npz",
        targets=padded(targets, 3),
        gates=padded(gates, 3),
        delays_ms=schedule.delays_ms,
        probabilities=schedule.probabilities,
        onset_ms=np.asarray(runner.timing.onset_ms),
        dt_ms=np.asarray(runner.timing.dt_ms),
        trials_per_block=np.asarray(schedule.trials_per_block),
    )


def write_results(runner: Runner) -> dict[str, Any]:
    """Write ``arrays.npz``, ``examples.npz`` (once an example trial is done) and
    ``metrics.json``; returns the metrics."""
    metrics = measure(runner)
    write_npz(runner.run_dir / "arrays.npz", **result_arrays(runner))
    examples = example_arrays(runner)
    if examples:
        write_npz(runner.run_dir / "examples.npz", **examples)
    write_json(runner.run_dir / "metrics.json", metrics)
    return metrics


def result_arrays(runner: Runner) -> dict[str, np.ndarray]:
    """What ``arrays.npz`` holds: the schedule's per-trial columns, the rates, the attention
    of every trial (``(trials,)``; associability ``(trials, cues)``) and, per method, the
    per-trial measures ``(trials,)``, the angles ``(blocks,)`` and weights
    ``(blocks, 3, neurons)``."""
    arrays: dict[str, np.ndarray] = dict(runner.schedule.arrays())
    arrays["trial_rate_hz"] = runner.rates
    arrays["attention_gate__three_factor"] = runner.attention_gate
    arrays["surprise__three_factor"] = runner.surprise
    arrays["associability__three_factor"] = runner.associability_after
    arrays["attention_on"] = np.asarray(bool(runner.cfg.tf_attention))
    arrays["n_trials_done"] = np.asarray(runner.n_done)
    arrays["random_reference_angle_deg"] = np.asarray(runner.reference["min_deg"])
    for m in METHODS:
        for k, v in runner.per_trial[m].items():
            arrays[f"{k}__{m}"] = v
        arrays[f"angle_deg__{m}"] = runner.angles[m]
        arrays[f"weights__{m}"] = runner.weights[m]
    return arrays


def example_arrays(runner: Runner) -> dict[str, np.ndarray]:
    """What ``examples.npz`` holds for the example trials done so far (``{}`` before the
    first): their index, label, targets and gates and each method's outputs, all
    ``(examples, time, 3)`` padded with NaN."""
    kept = [(i, lab) for i, lab in runner.examples if i in runner.example_outputs]
    if not kept:
        return {}
    ex: dict[str, np.ndarray] = {
        "trial_index": np.array([i for i, _ in kept], np.int64),
        "label": np.array([lab for _, lab in kept]),
        "targets": padded([runner.example_targets[i][0] for i, _ in kept], 3),
        "gates": padded([runner.example_targets[i][1] for i, _ in kept], 3),
        "onset_ms": np.asarray(runner.timing.onset_ms),
        "dt_ms": np.asarray(runner.timing.dt_ms),
    }
    for m in METHODS:
        ex[f"outputs__{m}"] = padded([runner.example_outputs[i][m] for i, _ in kept], 3)
    return ex


def padded(rows: list[np.ndarray], width: int) -> np.ndarray:
    """``(len(rows), longest, width)`` float32: the ``(time, width)`` rows, NaN after each
    row's end."""
    n = max((r.shape[0] for r in rows), default=0)
    out = np.full((len(rows), n, width), np.nan, np.float32)
    for i, r in enumerate(rows):
        out[i, : r.shape[0]] = r
    return out
