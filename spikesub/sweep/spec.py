"""Sweep files: what a sweep runs, read and checked before any trial starts.

A sweep file (TOML, or YAML with the same keys) names a job, the settings every trial
shares, and the axes along which trials differ::

    job = "continual"                 # simulate, whatwhen, continual, force_sine

    [base]                            # settings of every trial (the job's own names)
    benchmark = "digits"
    quick = true

    [grid]                            # every combination of these values is a trial
    seed = [0, 1, 2]                  # (a value here replaces the base's)

    [[variants]]                      # optional: settings that go together, each variant
    method = "hlop"                   # crossed with the grid
    hlop_threshold = 0.97

    [[variants]]
    method = "finetune"

    [resources]                       # what each trial gets (Ray resources)
    cpus = 1                          # and so its thread count
    gpus = 0                          # a fraction shares a GPU
    memory = "4G"                     # optional: reserved on the node, and the memory budget

    [summary]
    metrics = ["ACC", "BWT"]          # default: the job's headline measures

A search replaces the grid's fixed values by a space that Optuna explores (the grid's axes,
typically seeds, are then what each suggested setting is averaged over)::

    [search]
    metric = "ACC"                    # maximised or minimised as the measure says
    trials = 20
    seed = 0

    [search.space]
    lr = { low = 0.005, high = 0.1, log = true }
    hlop_epochs = { low = 1, high = 4 }          # integers when both bounds are
    hlop_rule = ["oja", "gha"]                   # a list: choices

Every trial's configuration is built with the job's ``from_dict`` here, so an unknown
setting or a value out of range is refused before anything runs, in one line naming the
file, the trial and what is allowed (:class:`SweepFileError`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import numbers
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spikesub.sweep.metrics import METRICS, metrics_of

__all__ = [
    "SEED",
    "VALIDATION_SETTINGS",
    "Param",
    "Resources",
    "Search",
    "Sweep",
    "SweepFileError",
    "Trial",
    "load_sweep",
    "parse_sweep",
]

SEED = "seed"
"""The setting a summary averages over (every job has one)."""

VALIDATION_SETTINGS: dict[str, str] = {"continual": "validation"}
"""Jobs that can score on a held-out validation split, and the setting that holds it out:
searches run only these, with the split on."""

_TOP_KEYS = (
    "job", "name", "description", "base", "grid", "variants", "resources", "summary", "search",
)  # fmt: skip
_SEARCH_KEYS = ("metric", "direction", "trials", "seed", "space")
_PARAM_KEYS = ("low", "high", "log", "int", "choices")
_DIRECTIONS = ("maximize", "minimize")
_MAX_NAME = 96


class SweepFileError(ValueError):
    """A sweep file that cannot run: unreadable, unknown keys, settings or values."""


@dataclass(frozen=True)
class Resources:
    """What each trial is given.

    Attributes:
        cpus: CPU cores (Ray's ``num_cpus``); the trial runs ``max(1, int(cpus))`` threads.
        gpus: GPUs (Ray's ``num_gpus``); a fraction lets trials share one.
        memory: bytes reserved on the node (Ray's ``memory``) and the trial's memory budget;
            None: no reservation, the default budget.
    """

    cpus: float = 1.0
    gpus: float = 0.0
    memory: int | None = None

    @property
    def threads(self) -> int:
        """The thread count a trial runs with."""
        return max(1, int(self.cpus))


@dataclass(frozen=True)
class Param:
    """One dimension of a search space: a range (``low``..``high``, on a log scale with
    ``log``, integers with ``integer``) or ``choices``."""

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] | None = None

    def examples(self) -> list[Any]:
        """Values that together check the whole dimension against the setting's range."""
        if self.choices is not None:
            return list(self.choices)
        return [self.low, self.high]


@dataclass(frozen=True)
class Search:
    """An Optuna search: ``trials`` settings drawn from ``space``, each scored by ``metric``
    on the validation split."""

    metric: str
    direction: str
    trials: int
    seed: int
    space: tuple[Param, ...]


@dataclass(frozen=True)
class Trial:
    """One run of a sweep.

    Attributes:
        name: its folder's name under the sweep's ``trials/``.
        settings: the job's settings (the base, the grid point, the variant, the search's
            suggestion), as plain JSON types.
        varied: the settings in which it differs from the base (the seed included).
    """

    name: str
    settings: dict[str, Any]
    varied: dict[str, Any]

    @property
    def group(self) -> dict[str, Any]:
        """What the summary groups it by: what varies, the seed left out."""
        return {k: v for k, v in self.varied.items() if k != SEED}


@dataclass(frozen=True)
class Sweep:
    """A checked sweep file (see the module's docstring)."""

    path: Path
    job: str
    name: str
    description: str
    base: dict[str, Any]
    grid: dict[str, list[Any]]
    variants: list[dict[str, Any]]
    resources: Resources
    metrics: tuple[str, ...]
    search: Search | None = None
    trials: list[Trial] = field(default_factory=list)

    @property
    def is_search(self) -> bool:
        return self.search is not None

    def points(self) -> list[dict[str, Any]]:
        """The grid's combinations, crossed with the variants (variants outer)."""
        keys = list(self.grid)
        product = itertools.product(*self.grid.values())
        combos = [dict(zip(keys, values, strict=True)) for values in product]
        return [{**variant, **combo} for variant in (self.variants or [{}]) for combo in combos]

    def search_trial(self, number: int, params: Mapping[str, Any], point: Mapping[str, Any]):
        """The trial that scores the search's suggestion ``number`` (``params``) at one grid
        point (a seed, say)."""
        name = f"trial-{number:04d}"
        if point:
            name += "_" + _point_name(point)
        varied = {**dict(params), **dict(point)}
        return Trial(name, {**self.base, **varied}, varied)

    def as_dict(self) -> dict[str, Any]:
        """What ``sweep.json`` records of the file."""
        out = {
            "file": str(self.path),
            "job": self.job,
            "name": self.name,
            "description": self.description,
            "base": self.base,
            "grid": self.grid,
            "variants": self.variants,
            "resources": {
                "cpus": self.resources.cpus,
                "gpus": self.resources.gpus,
                "memory": self.resources.memory,
            },
            "metrics": list(self.metrics),
        }
        if self.search is not None:
            s = self.search
            out["search"] = {
                "metric": s.metric,
                "direction": s.direction,
                "trials": s.trials,
                "seed": s.seed,
                "space": {p.name: _param_dict(p) for p in s.space},
            }
        return out


# ---------------------------------------------------------------------------------------------
# Reading


def load_sweep(path: str | Path) -> Sweep:
    """Read and check the sweep file at ``path`` (``.toml``, ``.yaml`` or ``.yml``).

    Raises:
        FileNotFoundError: no such file.
        SweepFileError: the file cannot be parsed, or names an unknown job, key, setting or
            metric, a value out of range or an empty axis (the message names the file, the
            trial and what is allowed).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep file {path} does not exist")
    data = _read(path)
    return parse_sweep(data, path=path)


def _read(path: Path) -> Any:
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise SweepFileError(f"{path}: not a text file ({error.reason})") from None
    if suffix == ".toml":
        toml = _toml_module()
        try:
            return toml.loads(text)
        except toml.TOMLDecodeError as error:
            raise SweepFileError(f"{path}: not valid TOML: {error}") from None
    if suffix in (".yaml", ".yml"):
        yaml = _yaml_module()
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise SweepFileError(f"{path}: not valid YAML: {_one_line(str(error))}") from None
    raise SweepFileError(f"{path}: a sweep file is .toml, .yaml or .yml; got {suffix or 'none'}")


def _toml_module():
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    import tomli  # the sweep extra installs it on Python 3.10

    return tomli


def _yaml_module():
    try:
        import yaml
    except ImportError:
        from spikesub.sweep.engine import MissingDependencyError

        raise MissingDependencyError(
            "YAML sweep files need PyYAML: pip install 'spikesub[sweep]', or write the file as TOML"
        ) from None
    return yaml


def _one_line(text: str) -> str:
    return " ".join(text.split())


def parse_sweep(data: Any, *, path: str | Path = "<sweep>") -> Sweep:
    """Check a sweep file's content (as :func:`load_sweep` reads it) and build its trials.

    Raises:
        SweepFileError: see :func:`load_sweep`.
    """
    path = Path(path)
    where = str(path)
    try:
        return _parse(data, path)
    except (ValueError, TypeError) as error:
        raise SweepFileError(f"{where}: {_one_line(str(error))}") from None


def _parse(data: Any, path: Path) -> Sweep:
    data = _table(data, "the file")
    _known_keys(data, _TOP_KEYS, "top-level key")
    job = _job(data.get("job"))
    config_class = _config_class(job)
    base = _table(data.get("base", {}), "[base]")
    grid = _grid(data.get("grid", {}))
    variants = _variants(data.get("variants", []))
    _no_overlap(grid, variants)
    search = _search(data["search"], job, grid, variants) if "search" in data else None
    metrics = _summary_metrics(data.get("summary", {}), job)
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise SweepFileError("name must be a non-empty string")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise SweepFileError("description must be a string")
    sweep = Sweep(
        path=path,
        job=job,
        name=name,
        description=description,
        base=base,
        grid=grid,
        variants=variants,
        resources=_resources(data.get("resources", {})),
        metrics=metrics,
        search=search,
    )
    if search is None:
        sweep.trials.extend(_grid_trials(sweep))
        _check_trials(sweep.trials, config_class)
    else:
        _check_search(sweep, config_class)
    return sweep


def _table(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise SweepFileError(f"{what} must be a table of names and values; got {value!r}")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise SweepFileError(f"{what}: names must be strings; got {bad[0]!r}")
    return dict(value)


def _known_keys(table: Mapping[str, Any], allowed: tuple[str, ...], what: str) -> None:
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise SweepFileError(
            f"unknown {what}(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )


def _runnable_jobs() -> list[str]:
    from spikesub.jobs import JOBS

    return [name for name, job in JOBS.items() if job.config and job.run]


def _job(value: Any) -> str:
    jobs = _runnable_jobs()
    if value is None:
        raise SweepFileError(f"job is missing: name the job the trials run ({', '.join(jobs)})")
    if value not in jobs:
        raise SweepFileError(f"unknown job {value!r}; jobs: {', '.join(jobs)}")
    return value


def _config_class(job: str):
    from spikesub.jobs import get_job

    return get_job(job).load("config")


def _grid(value: Any) -> dict[str, list[Any]]:
    grid = _table(value, "[grid]")
    for key, values in grid.items():
        if not isinstance(values, list):
            raise SweepFileError(
                f"grid.{key} must be a list of values, e.g. {key} = [{_shown(values)}]; "
                f"got {values!r}"
            )
        if not values:
            raise SweepFileError(f"grid.{key} is empty: list at least one value")
    return grid


def _shown(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (str, bool)) or value is None else str(value)


def _variants(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise SweepFileError(f"variants must be a list of tables ([[variants]]); got {value!r}")
    out = []
    for i, variant in enumerate(value):
        table = _table(variant, f"variants[{i}]")
        if not table:
            raise SweepFileError(f"variants[{i}] is empty: give each variant its settings")
        out.append(table)
    return out


def _no_overlap(grid: dict, variants: list[dict]) -> None:
    for key in grid:
        if any(key in variant for variant in variants):
            raise SweepFileError(f"{key} is in [grid] and in a variant; give it in one of them")


def _amount(table: Mapping[str, Any], key: str, default: float, *, positive: bool) -> float:
    value = table.get(key, default)
    number = not isinstance(value, bool) and isinstance(value, numbers.Real)
    if not number or not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise SweepFileError(f"resources.{key} must be a number {bound}; got {value!r}")
    return float(value)


def _resources(value: Any) -> Resources:
    table = _table(value, "[resources]")
    _known_keys(table, ("cpus", "gpus", "memory"), "resources key")
    memory = table.get("memory")
    return Resources(
        cpus=_amount(table, "cpus", 1.0, positive=True),
        gpus=_amount(table, "gpus", 0.0, positive=False),
        memory=None if memory is None else _memory(memory),
    )


def _memory(value: Any) -> int:
    from spikesub.models.memory import parse_size

    size = 0
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        size = int(value)
    elif isinstance(value, str):
        try:
            size = parse_size(value)
        except ValueError as error:
            raise SweepFileError(f"resources.memory: {error}") from None
    if size <= 0:
        raise SweepFileError(
            f'resources.memory must be a size such as "4G", or bytes; got {value!r}'
        )
    return size


def _summary_metrics(value: Any, job: str) -> tuple[str, ...]:
    table = _table(value, "[summary]")
    _known_keys(table, ("metrics",), "summary key")
    names = table.get("metrics")
    if names is not None and (
        not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names)
    ):
        raise SweepFileError(f"summary.metrics must be a list of metric names; got {names!r}")
    try:
        return tuple(m.name for m in metrics_of(job, names))
    except ValueError as error:
        raise SweepFileError(f"summary.metrics: {error}") from None


# ---------------------------------------------------------------------------------------------
# Trials


def _grid_trials(sweep: Sweep) -> list[Trial]:
    points = sweep.points()
    names = _unique_names([_point_name(point) or "trial" for point in points])
    return [
        Trial(name, {**sweep.base, **point}, dict(point))
        for name, point in zip(names, points, strict=True)
    ]


def _point_name(point: Mapping[str, Any]) -> str:
    """A folder name that says what the trial varies: ``method-hlop_seed-0``."""
    name = "_".join(f"{key}-{_slug(value)}" for key, value in point.items())
    if len(name) > _MAX_NAME:
        digest = hashlib.sha256(json.dumps(point, sort_keys=True).encode()).hexdigest()[:8]
        name = name[: _MAX_NAME - 9] + "-" + digest
    return name


def _slug(value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = "x".join(_slug(v) for v in value)
    elif isinstance(value, Mapping):
        text = "-".join(f"{k}-{_slug(v)}" for k, v in value.items())
    else:
        text = str(value)
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text) or "none"


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        out.append(name if count == 1 else f"{name}-{count}")
    return out


def _check_trials(trials: list[Trial], config_class) -> None:
    for trial in trials:
        _build(config_class, trial.settings, f"trial {trial.name}")


def _build(config_class, settings: Mapping[str, Any], what: str):
    try:
        return config_class.from_dict(settings)
    except (ValueError, TypeError) as error:
        raise SweepFileError(f"{what}: {_one_line(str(error))}") from None


# ---------------------------------------------------------------------------------------------
# Searches


def _search(value: Any, job: str, grid: dict, variants: list) -> Search:
    table = _table(value, "[search]")
    _known_keys(table, _SEARCH_KEYS, "search key")
    if job not in VALIDATION_SETTINGS:
        jobs = ", ".join(VALIDATION_SETTINGS)
        raise SweepFileError(
            f"a search tunes on a validation split, and job {job} has none; searches run "
            f"{jobs} (with its validation setting > 0)"
        )
    metric = table.get("metric")
    if not isinstance(metric, str):
        known = ", ".join(METRICS.get(job, {}))
        raise SweepFileError(f"search.metric must name the measure to optimise ({known})")
    try:
        (chosen,) = metrics_of(job, [metric])
    except ValueError as error:
        raise SweepFileError(f"search.metric: {error}") from None
    direction = table.get("direction", "maximize" if chosen.better == "higher" else "minimize")
    if direction not in _DIRECTIONS:
        raise SweepFileError(
            f"search.direction must be one of {', '.join(_DIRECTIONS)}; got {direction!r}"
        )
    space = _space(table.get("space"))
    for param in space:
        if param.name in grid or any(param.name in v for v in variants):
            raise SweepFileError(
                f"{param.name} is in search.space and in [grid] or a variant; give it in one"
            )
    return Search(
        metric=chosen.name,
        direction=direction,
        trials=_count(table, "trials", None),
        seed=_count(table, "seed", 0, low=0),
        space=space,
    )


def _count(table: Mapping[str, Any], key: str, default: int | None, *, low: int = 1) -> int:
    value = table.get(key, default)
    if value is None:
        raise SweepFileError(f"search.{key} is missing: give the number of settings to try")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise SweepFileError(f"search.{key} must be an integer >= {low}; got {value!r}")
    return int(value)


def _space(value: Any) -> tuple[Param, ...]:
    if value is None:
        raise SweepFileError("search.space is missing: give the settings to search and ranges")
    table = _table(value, "search.space")
    if not table:
        raise SweepFileError("search.space is empty: give at least one setting and its range")
    return tuple(_param(name, spec) for name, spec in table.items())


def _param(name: str, spec: Any) -> Param:
    what = f"search.space.{name}"
    if isinstance(spec, list):
        spec = {"choices": spec}
    spec = _table(spec, what)
    _known_keys(spec, _PARAM_KEYS, f"{what} key")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise SweepFileError(f"{what}.choices must be a non-empty list; got {choices!r}")
        if len(spec) > 1:
            raise SweepFileError(f"{what}: give choices, or low and high, not both")
        return Param(name, choices=tuple(choices))
    low, high = spec.get("low"), spec.get("high")
    for key, bound in (("low", low), ("high", high)):
        if isinstance(bound, bool) or not isinstance(bound, numbers.Real):
            raise SweepFileError(f"{what}.{key} must be a number; got {bound!r}")
    if not low < high:
        raise SweepFileError(f"{what}: low must be below high; got {low} and {high}")
    log = spec.get("log", False)
    if not isinstance(log, bool) or (log and low <= 0):
        raise SweepFileError(f"{what}.log must be true or false, and a log range needs low > 0")
    both_ints = all(isinstance(b, numbers.Integral) for b in (low, high))
    integer = spec.get("int", both_ints)
    if not isinstance(integer, bool) or (integer and not both_ints):
        raise SweepFileError(f"{what}.int must be true or false, and integers need int bounds")
    return Param(name, low=low, high=high, log=log, integer=integer)


def _param_dict(param: Param) -> dict[str, Any]:
    if param.choices is not None:
        return {"choices": list(param.choices)}
    return {"low": param.low, "high": param.high, "log": param.log, "int": param.integer}


def _check_search(sweep: Sweep, config_class) -> None:
    """Each grid point with each end of every dimension (and each choice) must make a valid
    configuration, and the validation split must be on."""
    assert sweep.search is not None
    points = sweep.points()
    middle = {p.name: p.examples()[0] for p in sweep.search.space}
    for point in points:
        settings = {**sweep.base, **point, **middle}
        config = _build(config_class, settings, "search")
        split = VALIDATION_SETTINGS[sweep.job]
        if not getattr(config, split):
            raise SweepFileError(
                f"a search scores trials on a validation split: set {split} > 0 in [base] "
                f"(e.g. {split} = 0.1), so that the test set stays unseen"
            )
        for param in sweep.search.space:
            for value in param.examples():
                _build(
                    config_class,
                    {**settings, param.name: value},
                    f"search.space.{param.name} = {_shown(value)}",
                )
