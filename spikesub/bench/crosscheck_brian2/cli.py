"""``experiments/crosscheck_brian2.py``: options from :class:`CrosscheckBrian2Config`, then
``--out``, ``--quiet``, ``--threads`` and ``--memory-budget``."""

from __future__ import annotations

import argparse
from typing import Any

from spikesub.bench.common import bench_main, make_parser, register_bench
from spikesub.bench.crosscheck_brian2.config import CrosscheckBrian2Config
from spikesub.scripting import add_job_arguments, apply_job_arguments

__all__ = ["DESCRIPTION", "add_arguments", "main", "register", "run_cli"]

PROG = "crosscheck_brian2.py"
DESCRIPTION = (
    "Cross-check: the Izhikevich (2003) network in spikesub and in Brian2, same input. Writes "
    "config.json, metrics.json, counts.npz and counts.png into the run folder."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The configuration's options, then the run's."""
    make_parser(
        CrosscheckBrian2Config,
        prog=PROG,
        description=DESCRIPTION,
        out_default="runs/crosscheck-brian2",
        quiet_help="print nothing",
        parser=parser,
    )
    add_job_arguments(parser)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``crosscheck-brian2`` to a sub-parser set; returns its parser."""
    return register_bench(subparsers, "crosscheck-brian2", DESCRIPTION, add_arguments)


def run_cli(args: argparse.Namespace) -> int:
    """Run the cross-check and draw its figure; prints a line per seed and precision."""
    from spikesub.bench.crosscheck_brian2.figures import plot
    from spikesub.bench.crosscheck_brian2.run import run

    apply_job_arguments(args)
    out = run(CrosscheckBrian2Config.from_args(args), args.out, quiet=args.quiet)
    plot(out)
    if not args.quiet:
        print(f"run folder: {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``experiments/crosscheck_brian2.py``."""
    return bench_main(PROG, DESCRIPTION, add_arguments, run_cli, argv)
