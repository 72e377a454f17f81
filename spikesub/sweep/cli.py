"""The ``spikesub sweep`` command: the trials of a sweep file, in parallel on Ray.

``register(subparsers)`` adds the subcommand to the ``spikesub`` parser and ``run_cli(args)``
runs it. A bad sweep file, an unreachable cluster or an unusable ``--out`` ends in one line
and exit status 2 before any trial starts; failed trials are reported one line each, the
others' results kept, and the command then ends in one line and exit status 2; Ctrl-C
stops the trials in flight (each saves what it can), writes the summary of what finished,
and exits with status 130.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spikesub.runs import read_json
from spikesub.sweep.run import SweepOutcome, TrialsFailed, run_sweep
from spikesub.sweep.spec import Sweep, load_sweep
from spikesub.sweep.summary import cell, summary_markdown

__all__ = ["INTERRUPTED_HINT", "register", "run_cli"]

INTERRUPTED_HINT = "finished trials are kept; run the same command again to continue"

_DESCRIPTION = """\
Run every trial of a sweep file, each its own run folder, in parallel on Ray: a local Ray
started for the sweep, or a cluster (--address ray://HOST:10001, or RAY_ADDRESS). Then write
the summary (summary.md: mean ± std over seeds per setting; summary.json) and its figures.

  spikesub sweep sweeps/quick.toml --out runs/sweep-quick        a few quick trials
  spikesub sweep sweeps/continual-pmnist.toml                    the README's table
  spikesub sweep sweeps/continual-pmnist-search.toml             an Optuna search

Running it again skips the finished trials, resumes the interrupted ones and retries the
failed ones. The sweep file names the job, its base settings, the axes ([grid], [[variants]]
or [search]) and each trial's [resources] (CPUs, and so its threads; GPUs; memory).
"""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    parser = subparsers.add_parser(
        "sweep",
        help="run the trials of a sweep file (grid, seeds or an Optuna search) on Ray",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", help="the sweep file (.toml, .yaml or .yml)")
    parser.add_argument(
        "--out", default=None, help="the sweep folder (default runs/<the file's name>)"
    )
    parser.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="the Ray cluster: ray://HOST:PORT or HOST:PORT (default: RAY_ADDRESS if set, "
        "else a local Ray started for the sweep)",
    )
    parser.add_argument(
        "--cpus",
        type=_positive_int,
        default=None,
        metavar="N",
        help="CPUs of the local Ray (default: the cores this process may use)",
    )
    parser.add_argument(
        "--max-parallel",
        type=_positive_int,
        default=None,
        metavar="N",
        help="trials at once (default: as many as the cluster's CPUs and GPUs fit now; more "
        "on a cluster that adds nodes as work waits)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="check the file, list its trials and stop"
    )
    parser.add_argument("--no-plots", action="store_true", help="do not draw the figures")
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar, no line per trial, no table"
    )
    parser.set_defaults(handler=run_cli)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; got {value}")
    return value


def run_cli(args: argparse.Namespace) -> int:
    """Run ``spikesub sweep`` with parsed ``args``; returns the exit status."""
    sweep = load_sweep(args.file)
    out = Path(args.out) if args.out is not None else Path("runs") / Path(args.file).stem
    if args.dry_run:
        _list_trials(sweep)
        return 0
    outcome = run_sweep(
        sweep,
        out,
        address=args.address,
        cpus=args.cpus,
        max_parallel=args.max_parallel,
        progress=False if args.quiet else None,
        quiet=args.quiet,
        plots=not args.no_plots,
    )
    if not args.quiet:
        _print_outcome(outcome)
    _raise_for_failures(sweep, outcome)
    return 0


def _list_trials(sweep: Sweep) -> None:
    print(f"{sweep.path}: job {sweep.job}, {_what(sweep)}")
    for trial in sweep.trials:
        settings = ", ".join(f"{k}={cell(v)}" for k, v in trial.varied.items()) or "base"
        print(f"  {trial.name}: {settings}")


def _what(sweep: Sweep) -> str:
    resources = sweep.resources
    each = f"each {resources.cpus:g} CPU(s)" + (
        f", {resources.gpus:g} GPU(s)" if resources.gpus else ""
    )
    if sweep.search is not None:
        s = sweep.search
        names = ", ".join(p.name for p in s.space)
        return (
            f"a search of {s.trials} trials over {names} ({s.direction} {s.metric} on the "
            f"validation split), each at {len(sweep.points())} grid point(s), {each}"
        )
    return f"{len(sweep.trials)} trials, {each}"


def _print_outcome(outcome: SweepOutcome) -> None:
    print(summary_markdown(outcome.summary))
    best = _best_line(outcome.out)
    if best:
        print(best)
    print(f"sweep folder: {outcome.out}")
    for path in outcome.figures:
        print(path)


def _best_line(out: Path) -> str | None:
    """A search's chosen settings in one line (None for a grid)."""
    path = out / "search.json"
    if not path.exists():
        return None
    best = read_json(path).get("best")
    if not best:
        return "no trial of the search was scored yet"
    params = ", ".join(f"{k}={cell(v)}" for k, v in best["params"].items())
    return f"best: trial-{best['number']:04d}, {params} (search.json has its settings)"


def _raise_for_failures(sweep: Sweep, outcome: SweepOutcome) -> None:
    """A grid with failed trials, or a search with no scored trial, ends in one line."""
    failed = outcome.failed
    counts = outcome.summary["counts"]
    if not failed or (sweep.is_search and counts["done"]):
        return
    name, line = next(iter(failed.items()))
    total = len(outcome.summary["trials"])
    raise TrialsFailed(
        f"{len(failed)} of {total} trials failed (first: {name}: {line}); the others' results "
        f"are in {outcome.out / 'summary.md'}; run the same command again to retry them"
    )
