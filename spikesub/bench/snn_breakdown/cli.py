"""``experiments/bench_snn_breakdown.py``: options from :class:`BenchSnnBreakdownConfig`,
then ``--out`` and ``--quiet``."""

from __future__ import annotations

import argparse
from typing import Any

from spikesub.bench.common import SERIAL_NOTE, bench_main, make_parser, register_bench
from spikesub.bench.snn_breakdown.config import BenchSnnBreakdownConfig

__all__ = ["DESCRIPTION", "add_arguments", "main", "register", "run_cli"]

PROG = "bench_snn_breakdown.py"
DESCRIPTION = (
    "Time each kernel of spikesub's MLP training step. Writes config.json, metrics.json and "
    "breakdown.md into the run folder. " + SERIAL_NOTE
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The configuration's options, then the run's."""
    make_parser(
        BenchSnnBreakdownConfig,
        prog=PROG,
        description=DESCRIPTION,
        out_default="runs/bench-snn-breakdown",
        quiet_help="do not print the table",
        parser=parser,
    )


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``bench-snn-breakdown`` to a sub-parser set; returns its parser."""
    return register_bench(subparsers, "bench-snn-breakdown", DESCRIPTION, add_arguments)


def run_cli(args: argparse.Namespace) -> int:
    """Run the breakdown the options describe; prints its table unless ``--quiet``."""
    from spikesub.bench.snn_breakdown.run import TABLE_NAME, run

    out = run(BenchSnnBreakdownConfig.from_args(args), args.out)
    if not args.quiet:
        print((out / TABLE_NAME).read_text().split("\n\n", 1)[-1])
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``experiments/bench_snn_breakdown.py``."""
    return bench_main(PROG, DESCRIPTION, add_arguments, run_cli, argv)
