"""``spikesub simulate`` (and ``spikesub demo``): options from :class:`SimulationConfig`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spikesub.scripting import add_job_arguments, apply_job_arguments, config_from_options
from spikesub.simulate.config import SimulationConfig

__all__ = ["add_arguments", "register", "run_cli", "summary_lines"]

DESCRIPTION = (
    "Simulate the Izhikevich (2003) network, scaled to any size, and write a run folder: "
    "config.json, spikes.npz, state.npz, metrics.json (mean rate, CV of ISIs, synchrony), "
    "raster.png, membrane.png. An interrupted run continues with --resume --out DIR."
)

GROUPS = {
    "network (Izhikevich 2003, heterogeneous E/I)": (
        "n_exc",
        "n_inh",
        "p",
        "in_degree",
        "noise_std_exc",
        "noise_std_inh",
    ),
    "simulation": ("duration_ms", "dt_ms", "backend", "dtype", "seed", "n_traces"),
}


def add_arguments(parser: argparse.ArgumentParser, *, out_default: str | None = None) -> None:
    """The configuration's options, then the run's: ``--out``, ``--resume``, checkpoints,
    ``--quiet``, ``--threads``, ``--memory-budget``."""
    SimulationConfig.add_arguments(parser, groups=GROUPS)
    run = parser.add_argument_group("run")
    run.add_argument(
        "--out",
        default=out_default,
        help="run folder to write"
        + (f" (default {out_default})" if out_default else " (default runs/simulate-<time>)"),
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in --out from its last checkpoint (same settings)",
    )
    run.add_argument(
        "--checkpoint-every-s",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds of wall time between checkpoints; Ctrl-C also writes one (default 30)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    add_job_arguments(run)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``simulate`` to a ``spikesub`` sub-parser set; returns its parser."""
    parser = subparsers.add_parser(
        "simulate",
        help="simulate an Izhikevich reservoir and write a run folder",
        description=DESCRIPTION,
    )
    add_arguments(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> SimulationConfig:
    """The configuration the options describe; with ``--resume``, what was not given keeps
    the value saved in the run folder."""
    return config_from_options(SimulationConfig, args)


def run_cli(args: argparse.Namespace) -> int:
    """Run the simulation the options describe; prints a summary unless ``--quiet``."""
    from spikesub.runs import read_json
    from spikesub.simulate.run import run

    apply_job_arguments(args)
    run_dir = run(
        config_from_args(args),
        args.out,
        progress=False if args.quiet else None,
        resume=args.resume,
        checkpoint_every_s=args.checkpoint_every_s,
    )
    if not args.quiet:
        for line in summary_lines(read_json(run_dir / "metrics.json"), run_dir):
            print(line)
    return 0


def summary_lines(metrics: dict[str, Any], run_dir: Path) -> list[str]:
    """What came out, in three lines."""
    return [
        f"{metrics['n_neurons']} neurons, {metrics['n_synapses']} synapses, "
        f"{metrics['duration_ms']:.0f} ms on {metrics['backend']} "
        f"({metrics.get('n_threads', 1)} threads) in {metrics['wall_time_s']:.2f} s "
        "(compilation included on first use)",
        f"mean rate {metrics['mean_rate_hz']:.2f} Hz "
        f"(exc {metrics['mean_rate_exc_hz']:.2f}, inh {metrics['mean_rate_inh_hz']:.2f}), "
        f"CV of ISIs {metrics['cv_isi_mean']:.2f}, synchrony chi {metrics['synchrony_chi']:.2f}",
        f"run folder: {run_dir}  (raster: {Path(run_dir) / 'raster.png'})",
    ]
