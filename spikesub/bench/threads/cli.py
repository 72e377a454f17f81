"""``experiments/bench_threads.py``: options from :class:`BenchThreadsConfig`, the preset
``--quick`` on top, then ``--out`` and ``--quiet``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from spikesub.bench.common import SERIAL_NOTE, bench_main, make_parser, register_bench
from spikesub.bench.threads.config import QUICK, BenchThreadsConfig

__all__ = ["DESCRIPTION", "add_arguments", "config_from_args", "main", "register", "run_cli"]

PROG = "bench_threads.py"
DESCRIPTION = (
    "The 10k Izhikevich reservoir on 1, 2 and automatic threads, quiet and beside busy-loop "
    "processes. Writes config.json, metrics.json, bench.md and bench_threads.png into the run "
    "folder and prints the table. " + SERIAL_NOTE
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The preset, the configuration's options, then the run's."""
    presets = parser.add_argument_group("presets (options given with them override them)")
    presets.add_argument("--quick", action="store_true", help="smoke run: 20 ms, one round")
    make_parser(
        BenchThreadsConfig,
        prog=PROG,
        description=DESCRIPTION,
        out_default="runs/bench-threads",
        quiet_help="print the table only",
        parser=parser,
    )


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``bench-threads`` to a sub-parser set; returns its parser."""
    return register_bench(subparsers, "bench-threads", DESCRIPTION, add_arguments)


def config_from_args(args: argparse.Namespace) -> BenchThreadsConfig:
    """The configuration the options describe: the preset if asked for, then the options."""
    return BenchThreadsConfig.from_args(args, base=dict(QUICK) if args.quick else {})


def run_cli(args: argparse.Namespace) -> int:
    """Run the benchmark, draw its figure and print its table; exit status 1 when the thread
    settings gave different spikes."""
    from spikesub.bench.threads.figures import plot
    from spikesub.bench.threads.run import TABLE_NAME, interrupt_on_sigterm, run
    from spikesub.runs import read_json

    interrupt_on_sigterm()
    config = config_from_args(args)
    out = run(config, args.out, quiet=args.quiet)
    plot(out)
    print((out / TABLE_NAME).read_text(), end="")
    if not read_json(out / "metrics.json")["same_spikes_in_every_run"]:
        print(f"{PROG}: error: thread settings gave different spikes", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"wrote {out / 'config.json'}, metrics.json, {TABLE_NAME}, bench_threads.png")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``experiments/bench_threads.py``."""
    return bench_main(PROG, DESCRIPTION, add_arguments, run_cli, argv)
