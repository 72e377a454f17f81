"""``spikesub rc`` (and ``experiments/bench_rc.py``): options from :class:`RcConfig`, the
preset ``--quick`` on top."""

from __future__ import annotations

import argparse
from typing import Any

from spikesub.rc.config import QUICK, RcConfig
from spikesub.scripting import (
    ArgumentParser,
    add_run_arguments,
    apply_job_arguments,
    config_from_options,
    report_run,
)

__all__ = ["add_arguments", "config_from_args", "main", "register", "run_cli"]

DESCRIPTION = (
    "The reservoir-computing benchmark: memory capacity, NARMA-10 and Mackey-Glass (tau = 17) "
    "one and 84 steps ahead, on spikesub's Izhikevich and LIF reservoirs and ReservoirPy's "
    "echo-state network of the same size. Every model gets the same number of randomly drawn "
    "settings, chosen on a validation split and scored on a test split over several seeds. "
    "Writes config.json, metrics.json, results.md, rc.npz, rc_memory.png and "
    "rc_predictions.png into the run folder."
)

GROUPS = {
    "tasks and models": ("tasks", "models", "n_neurons", "read_input", "fixed"),
    "series and splits": ("washout", "n_train", "n_valid", "n_test", "mc_max_delay", "series_seed"),
    "search and seeds": ("budget", "search_seed", "seeds"),
    "simulation": ("dt_ms", "backend"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The preset, the configuration's options, then the run's."""
    presets = parser.add_argument_group("presets (options given with them override them)")
    presets.add_argument(
        "--quick",
        action="store_true",
        help="150-neuron reservoirs, short series, 3 settings per model and task, seeds 0,1 "
        "(about half a minute)",
    )
    RcConfig.add_arguments(parser, groups=GROUPS)
    run = parser.add_argument_group("run")
    add_run_arguments(
        run, out_default="runs/rc-<time>", resume_help="each model's finished task groups are kept"
    )


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``rc`` to a ``spikesub`` sub-parser set; returns its parser."""
    parser = subparsers.add_parser(
        "rc",
        help="reservoir-computing benchmark: MC, NARMA-10, Mackey-Glass; spiking vs ESN",
        description=DESCRIPTION,
    )
    add_arguments(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> RcConfig:
    """The configuration the options describe: the options given, on top of ``--quick``'s
    preset when it is given, on top of the run folder's saved settings with ``--resume``."""
    return config_from_options(RcConfig, args, QUICK)


def run_cli(args: argparse.Namespace) -> int:
    """Run the benchmark the options describe and draw its figures; prints the results
    table unless ``--quiet``."""
    from spikesub.rc.figures import plot
    from spikesub.rc.run import RESULTS_NAME, run

    apply_job_arguments(args)
    config = config_from_args(args)
    run_dir = run(config, args.out, progress=False if args.quiet else None, resume=args.resume)
    report_run(run_dir, RESULTS_NAME, plot(run_dir), args.quiet)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``experiments/bench_rc.py``: the options of ``spikesub rc``."""
    parser = ArgumentParser(prog="bench_rc.py", description=DESCRIPTION)
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))
