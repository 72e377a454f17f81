"""Searches: Optuna chooses the settings, Ray runs the trials, the validation split scores.

The study lives in ``search.db`` (SQLite) in the sweep folder, its sampler is TPE seeded by
the file's ``seed`` (a resumed search: by that seed and the number of suggestions made), and
new settings are asked for as trials finish, so that as many run at once as the cluster
fits. Each suggestion runs at every point of the file's grid (its seeds,
say) and scores the mean of the measure over them; a suggestion whose runs fail is told to
Optuna as failed, and the search goes on.

An interrupted search resumes: the suggestions it was running are run again (their run
folders resume), and new ones are asked for until the file's ``trials`` have finished.

``search.json``
    ``{"metric", "direction", "evaluated_on": "validation", "split", "trials": [{"number",
    "state", "value", "params", "run_dirs", "errors"}], "best": {"number", "value",
    "params", "settings"} | null, "counts"}``; ``best.settings`` are the chosen settings
    (the base with the best suggestion), to run on the test set without the split.
"""

from __future__ import annotations

import json
import numbers
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from spikesub.runs import read_json, write_json
from spikesub.sweep.engine import MissingDependencyError
from spikesub.sweep.metrics import metric_value, metrics_of
from spikesub.sweep.spec import VALIDATION_SETTINGS, Param, Sweep, Trial
from spikesub.sweep.summary import TRIALS_DIR
from spikesub.sweep.trial import read_error, trial_status

__all__ = ["SearchRunner", "import_optuna"]

STUDY_NAME = "search"
_FINISHED = ("COMPLETE", "FAIL", "PRUNED")


def import_optuna():
    """The ``optuna`` module, its logging quiet; :class:`MissingDependencyError` saying how to
    install it."""
    try:
        import optuna
    except ImportError:
        raise MissingDependencyError(
            "spikesub searches run on Optuna, which is not installed here: "
            "pip install 'spikesub[sweep]'"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, str, numbers.Real))


def _distribution(param: Param):
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if param.choices is not None:
        choices = param.choices
        if not all(_scalar(c) for c in choices):  # lists (per-layer values) go as JSON
            choices = tuple(json.dumps(c) for c in choices)
        return CategoricalDistribution(choices)
    if param.integer:
        return IntDistribution(int(param.low), int(param.high), log=param.log)
    return FloatDistribution(float(param.low), float(param.high), log=param.log)


class SearchRunner:
    """The trials of a search (see the module's docstring)."""

    def __init__(self, sweep: Sweep, out: Path) -> None:
        optuna = import_optuna()
        assert sweep.search is not None
        self.sweep = sweep
        self.search = sweep.search
        self.out = out
        self.points = sweep.points()
        self.space = {p.name: p for p in self.search.space}
        self.distributions = {p.name: _distribution(p) for p in self.search.space}
        self.metric = metrics_of(sweep.job, [self.search.metric])[0]
        self.study = optuna.create_study(
            storage=f"sqlite:///{(out / 'search.db').resolve()}",
            study_name=STUDY_NAME,
            load_if_exists=True,
            direction=self.search.direction,
        )
        self.study.sampler = optuna.samplers.TPESampler(seed=self._sampler_seed())
        self._open: dict[int, dict[str, Any]] = {}
        self._owner: dict[str, int] = {}

    def _sampler_seed(self) -> int:
        """The file's seed for a new search; for a resumed one, a seed derived from it and
        the number of suggestions made, so that it does not suggest the first ones again."""
        made = len(self.study.get_trials(deepcopy=False))
        if not made:
            return self.search.seed
        state = np.random.SeedSequence([self.search.seed, made]).generate_state(1)
        return int(state[0])

    # -- what there is to do --------------------------------------------------------------------

    def _frozen(self, *states: str) -> list:
        trials = self.study.get_trials(deepcopy=False)
        return [t for t in trials if not states or t.state.name in states]

    @property
    def total(self) -> int:
        return max(self.search.trials, len(self._frozen())) * len(self.points)

    def skipped(self) -> list[str]:
        """Trials that will not run again: those of finished suggestions, and the finished
        runs of interrupted ones."""
        finished = [t.name for t in self._trials_of(self._frozen(*_FINISHED))]
        running = self._trials_of(self._frozen("RUNNING"))
        return finished + [t.name for t in running if trial_status(self.run_dir(t)) == "done"]

    def needs_work(self) -> bool:
        return bool(self._frozen("RUNNING")) or len(self._frozen(*_FINISHED)) < self.search.trials

    def params(self, frozen) -> dict[str, Any]:
        """A suggestion's settings, per-layer choices decoded."""
        out = {}
        for name, value in frozen.params.items():
            param = self.space.get(name)
            encoded = param is not None and param.choices is not None and isinstance(value, str)
            if encoded and not all(_scalar(c) for c in param.choices):
                value = json.loads(value)
            out[name] = value
        return out

    def _trials_of(self, frozen_trials) -> list[Trial]:
        return [
            self.sweep.search_trial(f.number, self.params(f), point)
            for f in frozen_trials
            for point in self.points
        ]

    def trials(self) -> list[Trial]:
        return self._trials_of(self._frozen())

    def run_dir(self, trial: Trial) -> Path:
        return self.out / TRIALS_DIR / trial.name

    # -- running ---------------------------------------------------------------------------------

    def run(self, pool, report) -> None:
        """Run the interrupted suggestions, then new ones until the search has its trials."""
        work: deque[Trial] = deque()
        for frozen in self._frozen("RUNNING"):
            self._start(frozen.number, self.params(frozen), work)
        while True:
            while not pool.full and (work or self._room()):
                if work:
                    trial = work.popleft()
                    pool.submit(trial, self.run_dir(trial))
                else:
                    asked = self.study.ask(self.distributions)
                    self._start(asked.number, self.params(asked), work)
            if not len(pool):
                break
            trial, record = pool.next_finished()
            self._finished(trial, record)
            report(trial, record)

    def _room(self) -> bool:
        return len(self._frozen(*_FINISHED)) + len(self._open) < self.search.trials

    def _start(self, number: int, params: dict[str, Any], work: deque) -> None:
        entry = {"values": [], "errors": [], "left": len(self.points)}
        self._open[number] = entry
        for point in self.points:
            trial = self.sweep.search_trial(number, params, point)
            self._owner[trial.name] = number
            if trial_status(self.run_dir(trial)) == "done":
                self._score(number, trial)
            else:
                work.append(trial)

    def _finished(self, trial: Trial, record: dict[str, Any]) -> None:
        number = self._owner[trial.name]
        if record["status"] == "failed":
            entry = self._open[number]
            entry["errors"].append(record["error"])
            self._count_down(number)
        else:
            self._score(number, trial)

    def _score(self, number: int, trial: Trial) -> None:
        saved = read_json(self.run_dir(trial) / "metrics.json")
        value = metric_value(saved, self.metric)
        entry = self._open[number]
        if value is None:
            entry["errors"].append(f"{self.metric.name} is not a finite number")
        else:
            entry["values"].append(value)
        self._count_down(number)

    def _count_down(self, number: int) -> None:
        entry = self._open[number]
        entry["left"] -= 1
        if entry["left"]:
            return
        del self._open[number]
        from optuna.trial import TrialState

        if entry["errors"]:
            self.study.tell(number, state=TrialState.FAIL)
        else:
            self.study.tell(number, sum(entry["values"]) / len(entry["values"]))
        self.write_results()

    # -- results ---------------------------------------------------------------------------------

    def write_results(self) -> None:
        """``search.json`` (see the module's docstring)."""
        history = [self._history_entry(f) for f in self._frozen()]
        best = None
        if self._frozen("COMPLETE"):
            chosen = self.study.best_trial
            params = self.params(chosen)
            best = {
                "number": chosen.number,
                "value": chosen.value,
                "params": params,
                "settings": {**self.sweep.base, **params},
            }
        split = VALIDATION_SETTINGS[self.sweep.job]
        first = {**self.sweep.base, **self.points[0]}
        write_json(
            self.out / "search.json",
            {
                "metric": self.search.metric,
                "direction": self.search.direction,
                "evaluated_on": "validation",
                "split": {split: first.get(split)},
                "averaged_over": self.points if self.points != [{}] else [],
                "trials": history,
                "best": best,
                "counts": {
                    s.lower(): sum(h["state"] == s for h in history)
                    for s in ("COMPLETE", "FAIL", "RUNNING")
                },
            },
        )

    def _history_entry(self, frozen) -> dict[str, Any]:
        trials = self._trials_of([frozen])
        run_dirs = [f"{TRIALS_DIR}/{t.name}" for t in trials]
        errors = [e for t in trials if (e := read_error(self.run_dir(t)))]
        return {
            "number": frozen.number,
            "state": frozen.state.name,
            "value": frozen.value,
            "params": self.params(frozen),
            "run_dirs": run_dirs,
            "errors": errors,
        }
