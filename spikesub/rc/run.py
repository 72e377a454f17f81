"""Running the reservoir-computing benchmark: series, search, test, write.

For each task and model (:mod:`spikesub.rc.config`):

1. **Series.** One series per task (the same for every model), cut into a washout, a
   training, a validation and a test split, in that order. The input every model sees is
   in [-1, 1]: the memory-capacity input as it is, NARMA's ``u`` (uniform on [0, 0.5]) as
   ``4 u - 1``, Mackey-Glass's ``x`` mapped linearly from the range of its training split.
   Mackey-Glass is integrated for :data:`MG_DISCARD` samples before the series starts (its
   transient from the constant history).
2. **Search.** ``budget`` settings of the model are drawn at random
   (:data:`spikesub.rc.reservoirs.SPACES`; the same count for every model), each run on the
   reservoir of the first seed; a ridge readout (:class:`spikesub.rc.readout.RidgePath`,
   penalties :data:`RIDGES`) is fit on the training split and scored on the validation split.
   The setting and penalty with the best validation score are chosen (NRMSE: lowest; memory
   capacity: highest). Mackey-Glass one and 84 steps ahead share their runs (one input), but
   each chooses its own setting.
3. **Test.** The chosen setting is built with each seed of ``seeds`` (reservoir weights,
   encoder, neuron parameters), its readout fit on the training split with the chosen
   penalty, and scored on the test split: the mean and spread over seeds are reported.

With ``read_input``, every readout (spiking or not) reads the input sample itself next to
the state, each block divided by its root-mean-square on the training split.

Random search rather than a sequential optimiser (Optuna's TPE): with budgets of a dozen
draws TPE draws its first ten at random anyway, random draws are the same for every model
whatever its scores, and each draw can be reproduced alone from ``search_seed``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from spikesub.models.errors import NonFiniteStateError
from spikesub.rc.config import RcConfig
from spikesub.rc.readout import RidgePath, delayed_inputs, squared_correlations
from spikesub.rc.reservoirs import check_fixed, draw_setting, esn_available, model_states
from spikesub.rc.tasks import mackey_glass, memory_capacity_input, narma, nrmse
from spikesub.runs import (
    load_npz,
    prepare_run_dir,
    run_config_document,
    write_json,
    write_npz,
)

__all__ = [
    "ARRAYS_NAME",
    "JOB",
    "MG_DISCARD",
    "RIDGES",
    "Series",
    "make_series",
    "run",
    "split_series",
]

JOB = RcConfig.job
ARRAYS_NAME = "rc.npz"
RESULTS_NAME = "results.md"
RIDGES: tuple[float, ...] = (1e-8, 1e-6, 1e-4, 1e-2, 1.0)
"""Readout penalties tried for every setting (relative: states of unit mean square)."""
MG_DISCARD = 500
"""Mackey-Glass samples integrated and dropped before the series starts."""
MG_HORIZONS = {"mg1": 1, "mg84": 84}
GROUP_OF = {"mc": "mc", "narma10": "narma10", "mg1": "mg", "mg84": "mg"}
"""Tasks that share their input share their reservoir runs."""


@dataclass
class Series:
    """The input of one group of tasks and their targets.

    Attributes:
        group: ``"mc"``, ``"narma10"`` or ``"mg"``.
        signal: ``(samples,)`` the input in [-1, 1].
        targets: task name -> ``(samples,)`` the target after each sample (not for ``mc``).
    """

    group: str
    signal: np.ndarray
    targets: dict[str, np.ndarray] = field(default_factory=dict)


def split_series(
    n_samples: int, *, washout: int, n_train: int, n_valid: int, n_test: int
) -> dict[str, slice]:
    """The rows of the training, validation and test splits of a series of ``n_samples``,
    after ``washout`` samples.

    Raises:
        ValueError: a series too short for its washout and splits (the numbers named).
    """
    for name, value in (("washout", washout), ("n_train", n_train), ("n_valid", n_valid),
                        ("n_test", n_test)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0; got {value!r}")
    needed = washout + n_train + n_valid + n_test
    if n_samples < needed or min(n_train, n_valid, n_test) < 2:
        raise ValueError(
            f"a series of {n_samples} samples is too short for its washout and splits: washout "
            f"{washout} + train {n_train} + validation {n_valid} + test {n_test} = {needed} "
            "(each split of at least 2 samples)"
        )
    ends = np.cumsum([n_train, n_valid, n_test]) + washout
    return {
        "train": slice(washout, int(ends[0])),
        "valid": slice(int(ends[0]), int(ends[1])),
        "test": slice(int(ends[1]), int(ends[2])),
    }


def splits_of(config: RcConfig) -> dict[str, slice]:
    """The rows of the training, validation and test splits of ``config``'s series."""
    return split_series(
        config.n_samples, washout=config.washout, n_train=config.n_train,
        n_valid=config.n_valid, n_test=config.n_test,
    )  # fmt: skip


def make_series(config: RcConfig) -> dict[str, Series]:
    """The series of the tasks of ``config``, by group."""
    n = config.n_samples
    tasks = config.task_names
    out: dict[str, Series] = {}
    if "mc" in tasks:
        out["mc"] = Series("mc", memory_capacity_input(n, seed=config.series_seed))
    if "narma10" in tasks:
        u, y = narma(n + 1, order=10, seed=config.series_seed)
        out["narma10"] = Series("narma10", 4.0 * u[:n] - 1.0, {"narma10": y[1:]})
    mg_tasks = [t for t in tasks if t in MG_HORIZONS]
    if mg_tasks:
        horizon = max(MG_HORIZONS.values())
        x = mackey_glass(MG_DISCARD + n + horizon, tau=17.0)[MG_DISCARD:]
        train = x[splits_of(config)["train"]]
        low, high = float(train.min()), float(train.max())
        signal = 2.0 * (x[:n] - low) / (high - low) - 1.0
        targets = {t: x[MG_HORIZONS[t] : MG_HORIZONS[t] + n] for t in mg_tasks}
        out["mg"] = Series("mg", signal, targets)
    return out


# ---------------------------------------------------------------------------------------------
# One run of one setting: its scores for every penalty


@dataclass
class Scores:
    """One setting on one seed, for one task: ``valid[i]``, ``test[i]`` and ``output[i]``
    with penalty ``RIDGES[i]`` (output: the test prediction, or the capacity per delay on the
    test split for ``mc``). ``failed`` says why there are none."""

    valid: list[float]
    test: list[float]
    output: list[np.ndarray]
    failed: str = ""


def features(states: np.ndarray, signal: np.ndarray, train: slice, read_input: bool):
    """The readout's input: the states (and the input itself with ``read_input``), each
    block divided by its root-mean-square over the training rows."""
    blocks = [states, signal[:, None]] if read_input else [states]
    out = []
    for block in blocks:
        centred = block[train] - block[train].mean(axis=0)
        rms = float(np.sqrt(np.mean(centred**2)))
        out.append(block / rms if rms > 0.0 else block)
    return np.hstack(out)


def evaluate(
    config: RcConfig, model: str, setting: dict[str, Any], series: Series, seed: int
) -> dict[str, Scores]:
    """Scores of ``setting`` of ``model`` on ``seed`` for each task of ``series``."""
    tasks = ["mc"] if series.group == "mc" else list(series.targets)
    try:
        states = model_states(
            model, setting, series.signal, n_neurons=config.n_neurons, seed=seed,
            dt_ms=config.dt_ms, backend=config.backend,
        )  # fmt: skip
        if not np.all(np.isfinite(states)):
            raise NonFiniteStateError(0, 0, "state")
    except NonFiniteStateError as error:
        return {task: Scores([], [], [], failed=str(error)) for task in tasks}
    split = splits_of(config)
    x = features(states, series.signal, split["train"], config.read_input)
    if series.group == "mc":
        rows = {name: np.arange(s.start, s.stop) for name, s in split.items()}
        y = {
            name: delayed_inputs(series.signal, r, config.mc_max_delay) for name, r in rows.items()
        }
        path = RidgePath(x[split["train"]], y["train"])
        scores = Scores([], [], [])
        for ridge in RIDGES:
            valid = squared_correlations(path.predict(x[split["valid"]], ridge), y["valid"])
            test = squared_correlations(path.predict(x[split["test"]], ridge), y["test"])
            scores.valid.append(float(valid.sum()))
            scores.test.append(float(test.sum()))
            scores.output.append(test)
        return {"mc": scores}
    y = np.stack([series.targets[t] for t in tasks], axis=1)
    path = RidgePath(x[split["train"]], y[split["train"]])
    out = {task: Scores([], [], []) for task in tasks}
    for ridge in RIDGES:
        valid = path.predict(x[split["valid"]], ridge)
        test = path.predict(x[split["test"]], ridge)
        for k, task in enumerate(tasks):
            out[task].valid.append(nrmse(y[split["valid"], k], valid[:, k]))
            out[task].test.append(nrmse(y[split["test"], k], test[:, k]))
            out[task].output.append(test[:, k])
    return out


def _better(task: str, a: float, b: float) -> bool:
    return a > b if task == "mc" else a < b


def _best(task: str, trials: list[Scores]) -> tuple[int, int] | None:
    """``(trial, penalty index)`` of the best validation score, or None if all failed."""
    best = None
    for i, scores in enumerate(trials):
        for j, value in enumerate(scores.valid):
            if not np.isfinite(value):
                continue
            if best is None or _better(task, value, trials[best[0]].valid[best[1]]):
                best = (i, j)
    return best


# ---------------------------------------------------------------------------------------------
# The job


def run(
    config: RcConfig,
    out: str | Path | None = None,
    *,
    progress: bool | None = None,
    resume: bool = False,
) -> Path:
    """Run the benchmark of ``config`` and write a run folder.

    The folder gets ``config.json``, ``parts/<tasks>__<model>.json`` and ``.npz`` as each
    model finishes each group of tasks (what ``resume`` keeps), ``metrics.json`` (per task
    and model: the test score's mean, spread and value per seed, the validation score, the
    chosen setting and penalty, every drawn setting's validation score), ``rc.npz`` (test
    predictions and targets, capacity curves) and ``results.md`` (the table). Figures are
    drawn from the folder by :func:`spikesub.rc.figures.plot`.

    Args:
        config: what to run.
        out: the run folder (default ``runs/rc-<time>``).
        progress: show a progress bar (default: when stderr is a terminal).
        resume: continue the run in ``out``: the (task group, model) pairs it finished are
            read back, the others run; ``config`` must equal the saved one.

    Returns:
        the run folder.
    """
    run_dir = prepare_run_dir(out, job=JOB, config=config.to_dict(), prefix="rc", resume=resume)
    models, skipped = available_models(config)
    if not resume:
        write_config(run_dir, config, models)
    started = time.perf_counter()
    series = make_series(config)
    results, arrays = search_and_test(
        config, models, series, progress=progress, parts=run_dir / PARTS, resume=resume
    )
    wall = time.perf_counter() - started
    write_metrics(run_dir, config, results, skipped, wall)
    write_arrays(run_dir, config, series, arrays)
    write_results_table(run_dir, config, results, skipped)
    return run_dir


def available_models(config: RcConfig) -> tuple[tuple[str, ...], dict[str, str]]:
    """The models that can run here, and why the others were skipped (one line each, also
    printed to stderr)."""
    models, skipped = [], {}
    for model in config.model_names:
        if model == "esn" and not esn_available():
            skipped[model] = (
                "ReservoirPy is not installed (the bench extra: pip install 'spikesub[bench]')"
            )
            print(f"spikesub rc: the esn column is skipped: {skipped[model]}", file=sys.stderr)
            continue
        models.append(model)
    return tuple(models), skipped


PARTS = "parts"
"""The run folder's sub-folder of finished (task group, model) pairs."""


def _part_paths(parts: Path, group: str, model: str) -> tuple[Path, Path]:
    stem = f"{group}__{model}"
    return parts / f"{stem}.json", parts / f"{stem}.npz"


def _save_part(parts: Path, group: str, model: str, results: dict, arrays: dict) -> None:
    """One pair's results by task and its arrays; the JSON, written last, marks it done."""
    meta, data = _part_paths(parts, group, model)
    parts.mkdir(exist_ok=True)
    write_npz(data, **arrays)
    write_json(meta, results)


def _load_part(parts: Path, group: str, model: str) -> tuple[dict, dict] | None:
    meta, data = _part_paths(parts, group, model)
    if not (meta.is_file() and data.is_file()):
        return None
    return json.loads(meta.read_text()), load_npz(data)


def search_and_test(
    config: RcConfig,
    models: tuple[str, ...],
    series: dict[str, Series],
    *,
    progress=None,
    parts: Path | None = None,
    resume: bool = False,
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """The search and the test of every model on every group of tasks: the results by task
    and model, and the arrays to save. With ``parts`` each finished pair is written there,
    and with ``resume`` the pairs found there are read back instead of run."""
    fixed = check_fixed(config.fixed, models)
    seeds = config.seeds
    total = len(series) * len(models) * (config.budget + len(seeds) - 1)
    show = progress if progress is not None else sys.stderr.isatty()
    results: dict[str, dict[str, Any]] = {t: {} for t in config.task_names}
    arrays: dict[str, np.ndarray] = {}
    groups = list(series)
    with tqdm(total=total, disable=not show, unit="run", desc="rc", leave=False) as bar:
        for g, group in enumerate(groups):
            data = series[group]
            for m, model in enumerate(models):
                saved = _load_part(parts, group, model) if (parts and resume) else None
                if saved is not None:
                    for task, result in saved[0].items():
                        results[task][model] = result
                    arrays.update(saved[1])
                    bar.update(config.budget + len(seeds) - 1)
                    continue
                rng = np.random.default_rng([config.search_seed, g, m])
                settings = [draw_setting(model, rng, fixed[model]) for _ in range(config.budget)]
                trials = []
                for setting in settings:
                    bar.set_postfix_str(f"{group} {model}", refresh=False)
                    trials.append(evaluate(config, model, setting, data, seeds[0]))
                    bar.update()
                tasks = list(trials[0])
                chosen = {task: _best(task, [t[task] for t in trials]) for task in tasks}
                per_seed: dict[tuple[int, int], dict[int, dict[str, Scores]]] = {}
                for seed in seeds[1:]:
                    for pick in {c[0] for c in chosen.values() if c is not None}:
                        per_seed.setdefault((pick, 0), {})[seed] = evaluate(
                            config, model, settings[pick], data, seed
                        )
                    bar.update()
                done, done_arrays = {}, {}
                for task in tasks:
                    done[task], arrays_of_task = _task_result(
                        task, settings, [t[task] for t in trials], chosen[task], per_seed, seeds
                    )
                    results[task][model] = done[task]
                    done_arrays.update(
                        {f"{task}__{model}__{k}": v for k, v in arrays_of_task.items()}
                    )
                arrays.update(done_arrays)
                if parts is not None:
                    _save_part(parts, group, model, done, done_arrays)
    return results, arrays


def _task_result(task, settings, trials, chosen, per_seed, seeds):
    """The metrics and arrays of one task and model."""
    drawn = [
        {"setting": s, "valid": (max if task == "mc" else min)(t.valid) if t.valid else None,
         "failed": t.failed or None}
        for s, t in zip(settings, trials, strict=True)
    ]  # fmt: skip
    if chosen is None:
        return {"failed": "every drawn setting failed", "trials": drawn}, {}
    pick, j = chosen
    by_seed = {seeds[0]: trials[pick]}
    for seed in seeds[1:]:
        by_seed[seed] = per_seed[(pick, 0)][seed][task]
    test = {}
    outputs = []
    for seed, scores in by_seed.items():
        if scores.failed:
            test[str(seed)] = None
            continue
        test[str(seed)] = scores.test[j]
        outputs.append(scores.output[j])
    values = np.array([v for v in test.values() if v is not None])
    metrics = {
        "test_mean": float(values.mean()),
        "test_std": float(values.std()),
        "test_by_seed": test,
        "valid": trials[pick].valid[j],
        "setting": {**settings[pick], "ridge": RIDGES[j]},
        "trials": drawn,
    }
    key = "capacity" if task == "mc" else "test_prediction"
    return metrics, {key: np.stack(outputs)}


def write_config(run_dir: Path, config: RcConfig, models: tuple[str, ...]) -> Path:
    """``config.json``: the settings, their fingerprint, the splits and the models run."""
    split = splits_of(config)
    document = run_config_document(
        JOB,
        config.to_dict(),
        splits={k: [s.start, s.stop] for k, s in split.items()},
        models_run=list(models),
    )
    return write_json(run_dir / "config.json", document)


def write_metrics(run_dir, config, results, skipped, wall_s) -> Path:
    """``metrics.json``: the results by task and model, how they were obtained."""
    split = splits_of(config)
    return write_json(
        run_dir / "metrics.json",
        {
            "experiment": JOB,
            "splits": {k: [s.start, s.stop] for k, s in split.items()},
            "seeds": list(config.seeds),
            "search": {
                "method": "random",
                "budget": config.budget,
                "search_seed": config.search_seed,
                "chosen_on": f"validation, seed {config.seeds[0]}",
            },
            "ridges": list(RIDGES),
            "read_input": config.read_input,
            "score": {"mc": "memory capacity (higher is better)", "other": "NRMSE (std)"},
            "skipped": skipped,
            "tasks": results,
            "wall_s": wall_s,
        },
    )


def write_arrays(run_dir, config, series, arrays) -> Path:
    """``rc.npz``: ``<task>__<model>__test_prediction`` ``(seeds, n_test)`` and
    ``<task>__target`` ``(n_test,)`` for the prediction tasks; ``mc__<model>__capacity``
    ``(seeds, max_delay)`` (capacity per delay on the test split)."""
    test = splits_of(config)["test"]
    targets = {
        f"{task}__target": values[test]
        for data in series.values()
        for task, values in data.targets.items()
    }
    return write_npz(run_dir / ARRAYS_NAME, **targets, **arrays)


def results_table(config: RcConfig, results: dict[str, dict[str, Any]]) -> list[str]:
    """The table of test scores: one row per task, one column per model, ``mean +/- std``
    over seeds (memory capacity: higher is better; the others: NRMSE, lower is better)."""
    models = [m for m in config.model_names if any(m in r for r in results.values())]
    lines = [
        "| task | " + " | ".join(models) + " |",
        "|---|" + "---|" * len(models),
    ]
    for task, by_model in results.items():
        cells = []
        for model in models:
            found = by_model.get(model)
            if not found or "test_mean" not in found:
                cells.append("-")
            else:
                cells.append(f"{found['test_mean']:.3f} ± {found['test_std']:.3f}")
        label = "MC (test)" if task == "mc" else f"{task} NRMSE (test)"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def write_results_table(run_dir, config, results, skipped) -> Path:
    """``results.md``: :func:`results_table`, the seeds and the skipped models."""
    from spikesub.models.files import atomic_write_bytes

    lines = results_table(config, results)
    lines.append("")
    lines.append(
        f"Mean ± standard deviation over seeds {', '.join(map(str, config.seeds))}; settings "
        f"chosen on validation (random search, {config.budget} per model and task)."
    )
    for model, why in skipped.items():
        lines.append(f"{model}: skipped: {why}")
    atomic_write_bytes(run_dir / RESULTS_NAME, ("\n".join(lines) + "\n").encode())
    return run_dir / RESULTS_NAME


def read_results(run_dir: str | Path) -> dict[str, Any]:
    """The ``metrics.json`` of a run folder."""
    return json.loads((Path(run_dir) / "metrics.json").read_text())
