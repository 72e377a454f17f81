"""``experiments/bench_reservoir.py``: options from :class:`BenchReservoirConfig`, then
``--out``, ``--resume`` and ``--quiet``."""

from __future__ import annotations

import argparse
from typing import Any

from spikesub.bench.common import SERIAL_NOTE, bench_main, make_parser, register_bench
from spikesub.bench.reservoir.config import BenchReservoirConfig

__all__ = ["DESCRIPTION", "add_arguments", "main", "register", "run_cli"]

PROG = "bench_reservoir.py"
DESCRIPTION = (
    "Izhikevich 2003 reservoir: spikesub (Numba / CUDA) against Brian2 (Cython runtime, C++ "
    "standalone), and NEST with --nest. Writes config.json, metrics.json and bench.md into "
    "the run folder and prints the table. " + SERIAL_NOTE
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The configuration's options (``--brian2-target`` as another name of
    ``--brian2-targets``), then the run's."""
    make_parser(
        BenchReservoirConfig,
        prog=PROG,
        description=DESCRIPTION,
        out_default="runs/bench-reservoir",
        quiet_help="no progress bars or row lines",
        parser=parser,
    )
    parser.add_argument("--brian2-target", dest="brian2_targets", help=argparse.SUPPRESS)
    parser.add_argument(
        "--resume", action="store_true", help="keep the rows in OUT/metrics.json, skip their runs"
    )


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``bench-reservoir`` to a sub-parser set; returns its parser."""
    return register_bench(subparsers, "bench-reservoir", DESCRIPTION, add_arguments)


def run_cli(args: argparse.Namespace) -> int:
    """Run the benchmark the options describe; prints its table."""
    from spikesub.bench.reservoir.run import TABLE_NAME, run

    config = BenchReservoirConfig.from_args(args)
    out = run(config, args.out, resume=args.resume, quiet=args.quiet)
    print((out / TABLE_NAME).read_text(), end="")
    if not args.quiet:
        print(f"wrote {out / 'config.json'}, {out / 'metrics.json'}, {out / TABLE_NAME}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``experiments/bench_reservoir.py``."""
    return bench_main(PROG, DESCRIPTION, add_arguments, run_cli, argv)
