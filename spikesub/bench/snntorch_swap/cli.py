"""``experiments/bench_snntorch_swap.py``: options from :class:`BenchSnntorchSwapConfig`, then
``--out`` and ``--quiet``."""

from __future__ import annotations

import argparse
from typing import Any

from spikesub.bench.common import SERIAL_NOTE, bench_main, make_parser, register_bench
from spikesub.bench.snntorch_swap.config import BenchSnntorchSwapConfig

__all__ = ["DESCRIPTION", "add_arguments", "main", "register", "run_cli"]

PROG = "bench_snntorch_swap.py"
DESCRIPTION = (
    "snnTorch's per-step training loop with its own Leaky and after swap_snntorch_leaky, "
    "taking turns in one process. Writes config.json and metrics.json into the run folder "
    "and prints the medians and their ratio. " + SERIAL_NOTE
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The configuration's options, then the run's."""
    make_parser(
        BenchSnntorchSwapConfig,
        prog=PROG,
        description=DESCRIPTION,
        out_default=None,
        quiet_help="print nothing",
        parser=parser,
    )


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``bench-snntorch-swap`` to a sub-parser set; returns its parser."""
    return register_bench(subparsers, "bench-snntorch-swap", DESCRIPTION, add_arguments)


def run_cli(args: argparse.Namespace) -> int:
    """Run the benchmark; prints ``name: value`` per measure unless ``--quiet``."""
    from spikesub.bench.snntorch_swap.run import run
    from spikesub.runs import read_json

    out = run(BenchSnntorchSwapConfig.from_args(args), args.out)
    if not args.quiet:
        for key, value in read_json(out / "metrics.json").items():
            print(f"{key}: {value:.4g}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``experiments/bench_snntorch_swap.py``."""
    return bench_main(PROG, DESCRIPTION, add_arguments, run_cli, argv)
