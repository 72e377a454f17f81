"""``experiments/bench_snn.py``: options from :class:`BenchSnnConfig`, then ``--out`` and
``--quiet``."""

from __future__ import annotations

import argparse
from typing import Any

from spikesub.bench.common import SERIAL_NOTE, bench_main, make_parser, register_bench
from spikesub.bench.snn.config import BenchSnnConfig

__all__ = ["DESCRIPTION", "add_arguments", "main", "register", "run_cli"]

PROG = "bench_snn.py"
DESCRIPTION = (
    "Train SNNs with snnTorch, SpikingJelly and spikesub; compare speed. Writes config.json, "
    "metrics.json and bench.md into the run folder. " + SERIAL_NOTE
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The configuration's options, then the run's."""
    make_parser(
        BenchSnnConfig,
        prog=PROG,
        description=DESCRIPTION,
        out_default="runs/bench-snn",
        quiet_help="no progress lines, no table",
        parser=parser,
    )


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``bench-snn`` to a sub-parser set; returns its parser."""
    return register_bench(subparsers, "bench-snn", DESCRIPTION, add_arguments)


def run_cli(args: argparse.Namespace) -> int:
    """Run the benchmark the options describe; prints its table unless ``--quiet``."""
    from spikesub.bench.snn.run import TABLE_NAME, run

    out = run(BenchSnnConfig.from_args(args), args.out, quiet=args.quiet)
    if not args.quiet:
        print((out / TABLE_NAME).read_text().split("\n\n", 2)[-1])
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``experiments/bench_snn.py``."""
    return bench_main(PROG, DESCRIPTION, add_arguments, run_cli, argv)
