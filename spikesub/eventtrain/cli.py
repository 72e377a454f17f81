"""The ``spikesub eventtrain`` command: train a spiking network on an event dataset.

``register(subparsers)`` adds the subcommand and ``run_cli(args)`` runs it; a missing
dataset, a foreign event file or a bad option ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spikesub.scripting import add_job_arguments, apply_job_arguments

__all__ = ["GROUPS", "register", "run_cli"]

_DESCRIPTION = """\
Train a spiking network on an event dataset read through tonic and write a run folder:
config.json, history.npz, metrics.json, model.pt and curves.png (loss and accuracy per epoch).

  spikesub eventtrain --dataset shd --quick                  synthetic SHD-format files, seconds
  spikesub eventtrain --dataset nmnist --quick               synthetic N-MNIST-format files
  spikesub eventtrain --dataset shd --data-dir DIR           recurrent LIF on SHD (DIR/SHD/*.h5)
  spikesub eventtrain --dataset nmnist --data-dir DIR        spiking conv net on N-MNIST
  spikesub eventtrain --dataset shd --data-dir DIR --download   tonic downloads missing files

Models: rlif (input -> recurrent LIF layer -> linear readout of its spike rates), conv (two
5x5 spiking convolutions with 2x2 average pooling -> LIF layer -> readout); auto picks rlif
for SHD and conv for N-MNIST and DVS Gesture. Frames are time-first (T, B, ...), bins of
--dt-ms counted from the start of the recording (DVS Gesture: from the first event). An
interrupted run continues with --resume --out DIR.
"""

GROUPS = {
    "data": ("dataset", "data_dir", "quick", "dt_ms", "t_max_ms", "downsample", "max_train",
             "max_test"),
    "network and training": ("model", "hidden", "channels", "beta", "threshold", "epochs",
                             "batch_size", "lr", "seed", "device"),
}  # fmt: skip


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``eventtrain`` to a ``spikesub`` sub-parser set; returns its parser."""
    from spikesub.eventtrain.config import EventTrainConfig

    parser = subparsers.add_parser(
        "eventtrain",
        help="train a spiking network on N-MNIST, SHD or DVS Gesture (read through tonic)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    EventTrainConfig.add_arguments(parser, groups=GROUPS)
    run = parser.add_argument_group("run folder and output")
    run.add_argument("--out", default=None, help="run folder (default runs/eventtrain-<time>)")
    run.add_argument("--download", action="store_true", help="let tonic download a missing dataset")
    run.add_argument("--resume", action="store_true", help="continue the run in --out")
    run.add_argument("--quiet", action="store_true", help="no progress bars, no summary")
    add_job_arguments(run)
    parser.set_defaults(handler=run_cli)
    return parser


def _config_from_args(args: argparse.Namespace):
    from spikesub.eventtrain.config import EventTrainConfig
    from spikesub.models.errors import RunFolderError
    from spikesub.runs import read_json, saved_job, saved_settings

    if not args.resume:
        return EventTrainConfig.from_args(args)
    if not args.out:
        raise RunFolderError("--resume needs --out, the run folder to continue")
    path = Path(args.out) / "config.json"
    if not path.exists():
        raise RunFolderError(f"resume: {path} does not exist; nothing to resume")
    saved = read_json(path)
    if not isinstance(saved, dict) or saved_job(saved) != EventTrainConfig.job:
        raise RunFolderError(f"{args.out} does not hold an eventtrain run")
    return EventTrainConfig.from_args(args, base=saved_settings(saved))


def run_cli(args: argparse.Namespace) -> int:
    """Run the job the options describe, then draw its curves; exit status 0."""
    from spikesub.eventtrain.figures import plot
    from spikesub.eventtrain.run import run, summary

    config = _config_from_args(args)
    apply_job_arguments(args)
    run_dir = run(
        config,
        args.out,
        resume=args.resume,
        progress=False if args.quiet else None,
        download=args.download,
    )
    figures = plot(run_dir)
    if not args.quiet:
        print(summary(run_dir))
        print(f"run folder: {run_dir}")
        for path in figures:
            print(path)
    return 0
