"""Running a sweep: its folder, its trials on Ray, its summary and figures.

The sweep folder:

``sweep.json``
    the sweep file as read (job, base settings, axes, resources, search);
``trials/<name>/``
    one run folder per trial, the job's own, with ``trial.json`` once the trial is done or
    ``error.txt`` if it failed (:mod:`spikesub.sweep.trial`);
``summary.json``, ``summary.md``
    the table (:mod:`spikesub.sweep.summary`), rewritten at the end of every session;
``summary.png``, ``versus_<setting>.png``
    the figures (:mod:`spikesub.sweep.figures`);
``search.json``, ``search.db``, ``search_history.png``
    a search's history, Optuna's storage and its figure (:mod:`spikesub.sweep.search`).

Running the same sweep into the same folder again skips the finished trials, resumes the
interrupted ones (the job's own resume) and retries the failed ones; trials added to the
file since (more seeds, say) run too, and a trial whose folder holds a run with other
settings is refused before anything starts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spikesub.models.errors import RunFolderError, SpikesubError
from spikesub.runs import (
    config_differences,
    config_fingerprint,
    read_json,
    saved_settings,
    write_json,
)
from spikesub.sweep.engine import Cluster, TrialPool, connect
from spikesub.sweep.spec import Sweep, Trial
from spikesub.sweep.summary import TRIALS_DIR, write_summary
from spikesub.sweep.trial import trial_status

__all__ = ["SweepOutcome", "TrialsFailed", "prepare_sweep_dir", "run_sweep"]

OnResult = Callable[[Trial, dict[str, Any]], None]


class TrialsFailed(SpikesubError, RuntimeError):
    """Some trials of a sweep failed; the others' results are kept."""


@dataclass
class SweepOutcome:
    """What a call of :func:`run_sweep` did.

    Attributes:
        out: the sweep folder.
        summary: the content of ``summary.json``.
        ran: trials run in this call (finished or failed).
        skipped: trials found finished and skipped.
        failed: each failed trial's one-line error (this call's and earlier ones').
        figures: the figures drawn.
    """

    out: Path
    summary: dict[str, Any]
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    *,
    address: str | None = None,
    cpus: int | None = None,
    max_parallel: int | None = None,
    progress: bool | None = None,
    quiet: bool = False,
    plots: bool = True,
    on_result: OnResult | None = None,
) -> SweepOutcome:
    """Run every trial of ``sweep`` not finished yet into ``out``, then summarise.

    Args:
        sweep: a checked sweep file (:func:`~spikesub.sweep.spec.load_sweep`).
        out: the sweep folder (created).
        address: the Ray cluster (see :func:`~spikesub.sweep.engine.connect`); None: a local
            Ray for the sweep, unless ``RAY_ADDRESS`` names one.
        cpus: CPUs of a local Ray (default: this machine's cores).
        max_parallel: trials in flight at once (default: as many as the cluster fits).
        progress: a bar over the trials (default: when stderr is a terminal).
        quiet: no line per finished trial (failures are still reported, on stderr).
        plots: draw the figures.
        on_result: called here with each finished trial and its record.

    Returns:
        what was done, and the summary.

    Raises:
        RunFolderError: ``out`` holds something else than this sweep.
        ConnectionError: the Ray cluster cannot be reached.
        KeyboardInterrupt: interrupted; the summary of what finished is written first, and
            the same call continues the sweep.
    """
    out = prepare_sweep_dir(sweep, out)
    runner = _runner(sweep, out)
    outcome = SweepOutcome(out=out, summary={}, skipped=runner.skipped())
    if runner.needs_work():
        with connect(address, cpus=cpus) as cluster:  # nothing runs if this fails
            pool = _pool(sweep, cluster, max_parallel)
            report = _Reporter(runner, show=_show(progress), quiet=quiet, on_result=on_result)
            try:
                runner.run(pool, report)
            except KeyboardInterrupt:
                pool.cancel()
                raise
            finally:
                report.close()
                outcome.ran = report.ran
                outcome.summary = _finish(runner, sweep, out)
    else:
        outcome.summary = _finish(runner, sweep, out)
    outcome.failed = {
        name: record["error"]
        for name, record in outcome.summary["trials"].items()
        if record["status"] == "failed"
    }
    if plots:
        from spikesub.sweep.figures import plot

        outcome.figures = plot(out)
    return outcome


def _runner(sweep: Sweep, out: Path):
    if sweep.is_search:
        from spikesub.sweep.search import SearchRunner

        return SearchRunner(sweep, out)
    return GridRunner(sweep, out)


def _pool(sweep: Sweep, cluster: Cluster, max_parallel: int | None) -> TrialPool:
    """Trials in flight: as many as the cluster fits now, or ``max_parallel`` (more, on a
    cluster that adds nodes as work waits)."""
    cluster.check_fits(sweep.resources)
    limit = max_parallel if max_parallel is not None else cluster.slots(sweep.resources)
    return TrialPool(sweep.job, sweep.resources, limit)


def _finish(runner, sweep: Sweep, out: Path) -> dict[str, Any]:
    runner.write_results()
    return write_summary(sweep, out, runner.trials())


def _show(progress: bool | None) -> bool:
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(progress)


# ---------------------------------------------------------------------------------------------
# The sweep folder


def prepare_sweep_dir(sweep: Sweep, out: str | Path) -> Path:
    """The sweep folder, created, once it is known to hold nothing but this sweep.

    Raises:
        RunFolderError: ``out`` is a file, holds files but no ``sweep.json``, holds a sweep
            of another job or (a search) with other settings, or a trial folder holds a run
            with other settings than the trial's.
    """
    out = Path(out)
    if str(out).strip() in ("", "."):
        raise RunFolderError("--out must name a sweep folder, e.g. --out runs/my-sweep")
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out must be a folder; {out} exists and is a file")
    saved_path = out / "sweep.json"
    if saved_path.exists():
        _check_saved(sweep, out, saved_path)
    elif out.is_dir() and any(not e.name.startswith(".") for e in out.iterdir()):
        raise RunFolderError(
            f"{out} holds files but no sweep.json: it is not a sweep folder; choose a new or "
            "empty --out"
        )
    if not sweep.is_search:
        for trial in sweep.trials:
            _check_trial_folder(sweep, trial, out / TRIALS_DIR / trial.name)
    (out / TRIALS_DIR).mkdir(parents=True, exist_ok=True)
    write_json(saved_path, sweep.as_dict())
    return out.resolve()


_SEARCH_DEFINITION = ("job", "base", "grid", "variants", "search")


def _check_saved(sweep: Sweep, out: Path, path: Path) -> None:
    try:
        saved = read_json(path)
    except (OSError, ValueError) as error:
        raise RunFolderError(f"{path} is not readable ({error}); choose another --out") from None
    if not isinstance(saved, dict) or saved.get("job") != sweep.job:
        found = saved.get("job") if isinstance(saved, dict) else None
        raise RunFolderError(
            f"{out} holds a sweep of job {found}, not {sweep.job}; choose another --out"
        )
    if sweep.is_search or "search" in saved:
        mine, theirs = _definition(sweep.as_dict()), _definition(saved)
        differ = [k for k in _SEARCH_DEFINITION if mine.get(k) != theirs.get(k)]
        if differ:
            raise RunFolderError(
                f"{out} holds a search with other {', '.join(differ)} than {sweep.path}; "
                "choose another --out (a search continues only with the file it began with)"
            )


def _definition(saved: dict[str, Any]) -> dict[str, Any]:
    """What a search must keep to be continued: all but its number of trials (which may
    grow, to extend it)."""
    out = {k: saved.get(k) for k in _SEARCH_DEFINITION}
    if isinstance(out["search"], dict):
        out["search"] = {k: v for k, v in out["search"].items() if k != "trials"}
    return out


def _check_trial_folder(sweep: Sweep, trial: Trial, run_dir: Path) -> None:
    path = run_dir / "config.json"
    if not path.exists():
        return
    from spikesub.jobs import get_job

    config = get_job(sweep.job).load("config").from_dict(trial.settings).to_dict()
    try:
        saved = read_json(path)
    except (OSError, ValueError):
        return  # the job's own checks name the damage when the trial runs
    if not isinstance(saved, dict):
        return
    if saved.get("fingerprint") == config_fingerprint(sweep.job, config):
        return
    differs = "; ".join(config_differences(config, saved_settings(saved))) or "the fingerprint"
    raise RunFolderError(
        f"{run_dir} holds a run with other settings than trial {trial.name} (given != saved: "
        f"{differs}): the sweep file changed since; choose another --out or remove that folder"
    )


# ---------------------------------------------------------------------------------------------
# A grid of trials


class GridRunner:
    """The trials of a grid sweep: those not finished, run in the file's order."""

    def __init__(self, sweep: Sweep, out: Path) -> None:
        self.sweep = sweep
        self.out = out
        self.pending = [t for t in sweep.trials if self._status(t) != "done"]

    def _status(self, trial: Trial) -> str:
        return trial_status(self.run_dir(trial))

    def run_dir(self, trial: Trial) -> Path:
        return self.out / TRIALS_DIR / trial.name

    @property
    def total(self) -> int:
        return len(self.sweep.trials)

    def skipped(self) -> list[str]:
        pending = {t.name for t in self.pending}
        return [t.name for t in self.sweep.trials if t.name not in pending]

    def needs_work(self) -> bool:
        return bool(self.pending)

    def run(self, pool: TrialPool, report: _Reporter) -> None:
        queue = list(self.pending)
        while queue or len(pool):
            while queue and not pool.full:
                trial = queue.pop(0)
                pool.submit(trial, self.run_dir(trial))
            trial, record = pool.next_finished()
            report(trial, record)

    def trials(self) -> list[Trial]:
        return list(self.sweep.trials)

    def write_results(self) -> None:
        """Nothing beyond the summary."""


# ---------------------------------------------------------------------------------------------
# Progress


class _Reporter:
    """The bar over the trials, a line per finished trial, the caller's hook."""

    def __init__(self, runner, *, show: bool, quiet: bool, on_result: OnResult | None) -> None:
        from tqdm.auto import tqdm

        done = len(runner.skipped())
        self.bar = tqdm(
            total=runner.total,
            initial=done,
            desc=runner.sweep.name,
            unit="trial",
            disable=not show,
            dynamic_ncols=True,
        )
        self.runner = runner
        self.quiet = quiet
        self.on_result = on_result
        self.ran: list[str] = []
        if done and not quiet:
            self.bar.write(f"{done} trial(s) finished earlier: skipped")

    def __call__(self, trial: Trial, record: dict[str, Any]) -> None:
        self.ran.append(trial.name)
        self.bar.total = max(self.bar.total, self.runner.total)
        self.bar.update(1)
        if record["status"] == "failed":
            self.bar.write(f"{trial.name}: failed: {record['error']}", file=sys.stderr)
        elif not self.quiet:
            how = ", resumed" if record.get("resumed") else ""
            self.bar.write(f"{trial.name}: done in {record['seconds']:.1f} s{how}")
        if self.on_result is not None:
            self.on_result(trial, record)

    def close(self) -> None:
        self.bar.close()
