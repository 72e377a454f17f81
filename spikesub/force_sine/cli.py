"""``spikesub force-sine`` (and ``experiments/force_sine.py``): options from
:class:`ForceSineConfig`, the presets ``--quick`` and ``--matlab-neurons`` on top."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spikesub.force_sine.config import MATLAB_NEURONS, QUICK, ForceSineConfig
from spikesub.scripting import ArgumentParser, add_job_arguments, apply_job_arguments

__all__ = ["add_arguments", "config_from_args", "main", "register", "run_cli", "summary_line"]

DESCRIPTION = (
    "FORCE training of a spiking network on a sine (Nicola & Clopath 2017, Fig. 2): 2000 "
    "Izhikevich neurons with static random weights and readout feedback run for 15 s; the "
    "decoder is trained by recursive least squares from 5 s to 10 s, then the network runs on "
    "its own. Writes config.json, metrics.json (test relative RMSE, ...), force_sine.npz and "
    "force_sine.png into the run folder."
)

GROUPS = {
    "network (Nicola & Clopath 2017)": (
        "n_neurons",
        "gain_static_pA",
        "gain_feedback_pA",
        "p_connect",
        "balance_rows",
        "bias_pA",
        "b_nS",
        "v_t_mV",
        "tau_rise_ms",
        "tau_decay_ms",
        "seed",
    ),
    "target and training": (
        "frequency_hz",
        "amplitude",
        "duration_ms",
        "train_start_ms",
        "train_stop_ms",
        "rls_alpha",
        "update_every",
    ),
    "simulation": ("dt_ms", "backend"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The presets, the configuration's options, then the run's: ``--out``, ``--quiet``,
    ``--threads``, ``--memory-budget``."""
    presets = parser.add_argument_group("presets (options given with them override them)")
    presets.add_argument(
        "--quick",
        action="store_true",
        help="500 neurons, 1 s settling + 2 s training + 2 s test (a few seconds)",
    )
    presets.add_argument(
        "--matlab-neurons",
        action="store_true",
        help="neuron and weight settings of the authors' MATLAB script IZFORCESINE "
        "(b = -2 nS, v_t = -19.2 mV, no row balancing)",
    )
    ForceSineConfig.add_arguments(parser, groups=GROUPS)
    run = parser.add_argument_group("run")
    run.add_argument(
        "--out", default=None, help="run folder to write (default runs/force-sine-<time>)"
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    add_job_arguments(run)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``force-sine`` to a ``spikesub`` sub-parser set; returns its parser."""
    parser = subparsers.add_parser(
        "force-sine",
        help="FORCE training of a spiking network on a sine (Nicola & Clopath 2017)",
        description=DESCRIPTION,
    )
    add_arguments(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> ForceSineConfig:
    """The configuration the options describe: the presets asked for, then the options."""
    base: dict[str, Any] = {}
    if args.quick:
        base.update(QUICK)
    if args.matlab_neurons:
        base.update(MATLAB_NEURONS)
    return ForceSineConfig.from_args(args, base=base)


def run_cli(args: argparse.Namespace) -> int:
    """Run the job the options describe, then draw its figure; prints a summary unless
    ``--quiet``. Errors propagate to the caller's error path
    (:func:`spikesub.scripting.run_command`)."""
    from spikesub.force_sine.figures import plot
    from spikesub.force_sine.run import run
    from spikesub.runs import read_json

    apply_job_arguments(args)
    run_dir = run(config_from_args(args), args.out, progress=False if args.quiet else None)
    figures = plot(run_dir)
    if not args.quiet:
        print(summary_line(read_json(run_dir / "metrics.json"), run_dir, figures))
    return 0


def summary_line(metrics: dict[str, Any], run_dir: Path, figures: list[Path]) -> str:
    """What came out, in one line."""
    return (
        f"test relative RMSE {metrics['test_rel_rmse']:.4f}, "
        f"train RMSE (last second) {metrics['train_rmse']:.4f}, "
        f"mean rate {metrics['mean_rate_hz']:.1f} Hz, wall {metrics['wall_s']:.1f} s "
        f"-> {run_dir} ({', '.join(f.name for f in figures)})"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``experiments/force_sine.py``: the options of ``spikesub force-sine``."""
    parser = ArgumentParser(prog="force_sine.py", description=DESCRIPTION)
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))
