"""``spikesub reservoir-continual`` (and ``experiments/reservoir_continual.py``): options from
:class:`ReservoirContinualConfig`, the preset ``--quick`` on top."""

from __future__ import annotations

import argparse
from typing import Any

from spikesub.reservoir_continual.config import QUICK, ReservoirContinualConfig
from spikesub.scripting import (
    add_run_arguments,
    apply_job_arguments,
    config_from_options,
    report_run,
)

__all__ = ["DESCRIPTION", "add_arguments", "config_from_args", "register", "run_cli"]

DESCRIPTION = (
    "Continual learning in a spiking reservoir with local rules: one fixed LIF reservoir, a "
    "sequence of cue tasks (each on its own input channels, all on the same outputs), a "
    "linear readout trained by the error-modulated, gated three-factor rule. Compared: the "
    "rule unprotected; its eligibility projected out of the old tasks' trace subspace learnt "
    "by HLOP's lateral Hebbian circuit; the same with GPM's exact SVD basis; and a ridge "
    "readout per task. Writes config.json, metrics.json, accuracy.npz, results.md and the "
    "figures accuracy_matrices.png, subspace_angles.png and subspace_dims.png."
)

GROUPS = {
    "tasks": ("n_tasks", "n_classes", "n_channels", "n_segments", "stimulus_samples",
              "gap_samples", "noise", "n_train", "n_test"),
    "reservoir": ("n_neurons", "spectral_radius", "input_scaling", "bias", "bias_spread",
                  "tau_syn_ms", "tau_trace_ms", "sample_ms", "dt_ms", "backend"),
    "learning": ("learning_rate", "epochs", "gate", "energy_threshold", "hebbian_epochs",
                 "hebbian_lr", "hebbian_momentum", "ridge"),
    "measures and seeds": ("n_angles", "seeds"),
}  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The preset, the configuration's options, then the run's."""
    presets = parser.add_argument_group("presets (options given with them override them)")
    presets.add_argument(
        "--quick",
        action="store_true",
        help="300 neurons, 80 training trials per task, fewer passes, seed 1 (seconds)",
    )
    ReservoirContinualConfig.add_arguments(parser, groups=GROUPS)
    run = parser.add_argument_group("run")
    add_run_arguments(
        run,
        out_default="runs/reservoir-continual-<time>",
        resume_help="the seeds it finished are kept",
    )


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``reservoir-continual`` to a ``spikesub`` sub-parser set; returns its parser."""
    parser = subparsers.add_parser(
        "reservoir-continual",
        help="continual learning of a spiking reservoir's readout: three-factor rule with "
        "HLOP / GPM projection",
        description=DESCRIPTION,
    )
    add_arguments(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> ReservoirContinualConfig:
    """The configuration the options describe: the options given, on top of ``--quick``'s
    preset when it is given, on top of the run folder's saved settings with ``--resume``."""
    return config_from_options(ReservoirContinualConfig, args, QUICK)


def run_cli(args: argparse.Namespace) -> int:
    """Run the job the options describe and draw its figures; prints the table unless
    ``--quiet``."""
    from spikesub.reservoir_continual.figures import plot
    from spikesub.reservoir_continual.run import RESULTS_NAME, run

    apply_job_arguments(args)
    config = config_from_args(args)
    run_dir = run(config, args.out, progress=False if args.quiet else None, resume=args.resume)
    report_run(run_dir, RESULTS_NAME, plot(run_dir), args.quiet)
    return 0
