"""The ``spikesub continual`` command: one continual-learning method on one benchmark.

``register(subparsers)`` adds the subcommand to the ``spikesub`` parser and ``run_cli(args)``
runs it. ``python -m spikesub.continual.cli ...`` runs the same command on its own, with the
same error handling as ``spikesub``: a bad option, a missing or corrupt data file, or a
resume whose settings differ from the saved run prints one line on stderr and exits with
status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spikesub.scripting import add_job_arguments, apply_job_arguments, run_command

__all__ = ["GROUPS", "main", "register", "run_cli"]

_DESCRIPTION = """\
Train a spiking MLP or conv net on a sequence of tasks with one continual-learning method and
write a run folder: config.json, checkpoint.pt, accuracy.npz (accuracy matrix R, times),
metrics.json (ACC, BWT, times, subspace dimensions) and figures (accuracy_matrix.png,
task_accuracy.png, subspace_angles.png for HLOP when compared with GPM).

  spikesub continual --method hlop --benchmark digits --quick        a few seconds, no download
  spikesub continual --method gpm --benchmark pmnist --data-dir DIR  permuted MNIST, 10 tasks
  spikesub continual --method hlop --benchmark splitcifar100 --data-dir DIR --hlop-counts paper
                                         the HLOP paper's 10-split CIFAR-100 (GPU advised)

Methods: hlop (lateral Hebbian subspaces, orthogonal projection), gpm (gradient projection
memory), ewc (elastic weight consolidation), finetune (no protection), multitask (joint
training on all tasks, the upper reference). Unset options take the benchmark's defaults
(and --quick's); config.json lists the values used. An interrupted run continues with
--resume --out DIR.

Data-parallel training on N processes (gradients summed over them, each batch split between
them; rank 0 writes the run folder, which every rank must be able to read on --resume):

  torchrun --nproc_per_node N -m spikesub.cli continual --method hlop ... --out DIR
"""


GROUPS = {
    "run": (
        "method", "benchmark", "data_dir", "seed", "n_tasks", "quick", "validation",
    ),
    "training": (
        "training", "epochs", "batch_size", "lr", "lr_continual", "momentum", "input_lr_scale",
        "lr_schedule", "warmup_epochs", "steps", "hidden", "beta", "network", "max_train",
        "device",
    ),
    "method options": (
        "ewc_lambda", "gpm_threshold", "gpm_activity", "hlop_k", "hlop_threshold",
        "hlop_activity", "hlop_epochs", "hlop_record", "hlop_lr", "hlop_rule", "hlop_mode",
        "hlop_counts", "hlop_compare_gpm", "strategy_options",
    ),
}  # fmt: skip
"""The option groups of ``--help``: every setting of :class:`ContinualConfig` is in one."""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``continual`` subcommand to ``subparsers`` (from ``add_subparsers``); its
    options are the settings of :class:`~spikesub.continual.config.ContinualConfig`."""
    from spikesub.continual.config import ContinualConfig

    parser = subparsers.add_parser(
        "continual",
        help="continual learning of a spiking MLP: HLOP, GPM, EWC, fine-tuning, multitask",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ContinualConfig.add_arguments(parser, groups=GROUPS)
    run = parser.add_argument_group("run folder and output")
    run.add_argument(
        "--out",
        default=None,
        help="run folder (default runs/continual-<method>-<benchmark>-<time>)",
    )
    run.add_argument(
        "--download",
        action="store_true",
        help="download missing data files into --data-dir first (needs internet; every "
        "set but miniImageNet has a public address)",
    )
    run.add_argument("--resume", action="store_true", help="continue the run in --out")
    run.add_argument(
        "--stop-after",
        type=int,
        default=None,
        metavar="N",
        help="stop once N tasks are finished (continue later with --resume)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bars, no summary")
    run.add_argument("--no-plots", action="store_true", help="do not draw the figures")
    add_job_arguments(run)
    parser.set_defaults(handler=run_cli)
    return parser


def _config_from_args(args: argparse.Namespace):
    """The configuration the options describe; with ``--resume`` the settings not given keep
    the values saved in the run folder."""
    from spikesub.continual.config import ContinualConfig
    from spikesub.models.errors import RunFolderError
    from spikesub.runs import read_json, saved_job, saved_settings

    if not args.resume:
        return ContinualConfig.from_args(args)
    if not args.out:
        raise RunFolderError("--resume needs --out, the run folder to continue")
    path = Path(args.out) / "config.json"
    if not path.exists():
        raise RunFolderError(f"resume: {path} does not exist; nothing to resume")
    saved = read_json(path)
    job = ContinualConfig.job
    if not isinstance(saved, dict) or saved_job(saved) != job:
        found = saved_job(saved) if isinstance(saved, dict) else None
        raise RunFolderError(f"{args.out} holds a {found or 'unknown'} run, not a {job} run")
    return ContinualConfig.from_args(args, base=saved_settings(saved))


def _pct(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{100 * value:.2f} %"


def run_cli(args: argparse.Namespace) -> int:
    """Run ``spikesub continual`` with parsed ``args``; returns the exit status (0). Under
    ``torchrun`` every rank trains and rank 0 alone draws the figures and prints."""
    from spikesub.continual import distributed
    from spikesub.continual.run import run as run_continual

    config = _config_from_args(args)
    apply_job_arguments(args)  # after the runner's import: torch's threads are set too
    try:
        result = run_continual(
            config,
            args.out,
            resume=args.resume,
            progress=False if args.quiet else None,
            download=args.download,
            stop_after=args.stop_after,
        )
    finally:
        distributed.shutdown()
    if not distributed.is_main_process():
        return 0
    run_dir = Path(result["run_dir"])
    figures = []
    if not args.no_plots:
        from spikesub.continual.figures import plot_continual

        figures = plot_continual(run_dir)
    if not args.quiet:
        train_s = sum(result["train_s"]) + sum(result["end_task_s"])
        print(
            f"{config.method} on {config.benchmark} ({result['tasks_done']}/{result['n_tasks']} "
            f"tasks, {config.training}): ACC {_pct(result['ACC'])}, BWT {_pct(result['BWT'])} "
            f"on the {result['evaluated_on']} sets; training {train_s:.1f} s"
        )
        print(f"run folder: {run_dir}")
        for path in figures:
            print(path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``spikesub continual`` as a command of its own; returns the exit status."""
    parser = argparse.ArgumentParser(prog="spikesub")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    register(sub)
    args = parser.parse_args(["continual", *(sys.argv[1:] if argv is None else argv)])
    return run_command(
        run_cli,
        args,
        prog="spikesub continual",
        interrupted_hint="the last finished task is saved; continue with --resume --out DIR",
    )


if __name__ == "__main__":
    sys.exit(main())
