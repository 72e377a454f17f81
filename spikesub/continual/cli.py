"""The ``spikesub continual`` command: one continual-learning method on one benchmark.

``register(subparsers)`` adds the subcommand to the ``spikesub`` parser and ``run_cli(args)``
runs it. ``python -m spikesub.continual.cli ...`` runs the same command on its own, with the
same error handling as ``spikesub``: a bad option, a missing or corrupt data file, or a
resume whose settings differ from the saved run prints one line on stderr and exits with
status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spikesub.scripting import add_job_arguments, apply_job_arguments, run_command

__all__ = ["main", "parse_option", "parse_thresholds", "register", "run_cli"]

_DESCRIPTION = """\
Train a spiking MLP on a sequence of tasks with one continual-learning method and write a run
folder: config.json, checkpoint.pt, accuracy.npz (accuracy matrix R, times), metrics.json
(ACC, BWT, times, subspace dimensions) and figures (accuracy_matrix.png, task_accuracy.png,
subspace_angles.png for HLOP when compared with GPM).

  spikesub continual --method hlop --benchmark digits --quick        a few seconds, no download
  spikesub continual --method gpm --benchmark pmnist --data-dir DIR  permuted MNIST, 10 tasks

Methods: hlop (lateral Hebbian subspaces, orthogonal projection), gpm (gradient projection
memory), ewc (elastic weight consolidation), finetune (no protection), multitask (joint
training on all tasks, the upper reference). Unset options take the benchmark's defaults
(and --quick's); config.json lists the values used. An interrupted run continues with
--resume --out DIR.
"""


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden must be comma-separated ints, e.g. 800,800; got {text!r}"
        ) from None
    if not sizes:
        raise argparse.ArgumentTypeError("--hidden needs at least one size")
    return sizes


def parse_thresholds(text: str) -> float | list[float]:
    """``"0.97"`` -> 0.97; ``"0.97,0.99,0.99"`` -> one threshold per protected layer."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a threshold is a number in (0, 1), or comma-separated numbers; got {text!r}"
        ) from None
    if not values or not all(0 < v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"thresholds must lie in (0, 1); got {text!r}")
    return values[0] if len(values) == 1 else values


_PYTHON_LITERALS = {"True": True, "False": False, "None": None}


def parse_option(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` -> ``(name, value)``: VALUE read as JSON (``true``, ``0.5``, ``[1, 2]``,
    ``null``), or as Python's ``True``/``False``/``None``, else kept as a string. Whether the
    value suits the option is checked by the strategy, against the option's declared type."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--option must be NAME=VALUE; got {text!r}")
    name, raw = (part.strip() for part in text.split("=", 1))
    if not name:
        raise argparse.ArgumentTypeError(f"--option needs a name before '='; got {text!r}")
    if raw in _PYTHON_LITERALS:
        return name, _PYTHON_LITERALS[raw]
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        value = raw
    if isinstance(value, float) and value != value:
        raise argparse.ArgumentTypeError(f"--option {name}: NaN is not a value; got {raw!r}")
    return name, value


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``continual`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    from spikesub.continual.names import ACTIVITIES, LR_SCHEDULES, METHODS, TRAINING_METHODS
    from spikesub.continual.tasks import BENCHMARKS

    parser = subparsers.add_parser(
        "continual",
        help="continual learning of a spiking MLP: HLOP, GPM, EWC, fine-tuning, multitask",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    main = parser.add_argument_group("run")
    main.add_argument("--method", choices=METHODS, default=None, help="default hlop")
    main.add_argument("--benchmark", choices=tuple(BENCHMARKS), default=None, help="default digits")
    main.add_argument(
        "--data-dir",
        default=None,
        help="folder with the four MNIST IDX files (needed by pmnist and splitmnist)",
    )
    main.add_argument(
        "--out",
        default=None,
        help="run folder (default runs/continual-<method>-<benchmark>-<time>)",
    )
    main.add_argument(
        "--download",
        action="store_true",
        help="download missing MNIST files into --data-dir first (needs internet)",
    )
    main.add_argument("--seed", type=int, default=None, help="default 0")
    main.add_argument("--n-tasks", type=int, default=None, help="train on the first N tasks")
    main.add_argument(
        "--quick",
        action="store_const",
        const=True,
        default=None,
        help="tiny network, few steps, at most 600 samples per task: a smoke test in seconds",
    )
    main.add_argument(
        "--validation",
        type=float,
        default=None,
        help="hold out this fraction of each task's training set and score on it, not on the "
        "test set (for tuning)",
    )
    main.add_argument("--resume", action="store_true", help="continue the run in --out")
    main.add_argument(
        "--stop-after",
        type=int,
        default=None,
        metavar="N",
        help="stop once N tasks are finished (continue later with --resume)",
    )
    main.add_argument("--quiet", action="store_true", help="no progress bars, no summary")
    main.add_argument("--no-plots", action="store_true", help="do not draw the figures")

    train = parser.add_argument_group("training")
    train.add_argument("--training", choices=TRAINING_METHODS, default=None, help="default bptt")
    train.add_argument("--epochs", type=int, default=None, help="passes over each task's data")
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--lr", type=float, default=None, help="SGD learning rate")
    train.add_argument("--momentum", type=float, default=None, help="SGD momentum")
    train.add_argument(
        "--input-lr-scale",
        type=float,
        default=None,
        help="from the second task on, the input layer learns at lr times this (default 1)",
    )
    train.add_argument(
        "--lr-schedule",
        choices=LR_SCHEDULES,
        default=None,
        help="within each task: constant (default) or cosine decay towards 0",
    )
    train.add_argument("--steps", type=int, default=None, help="time steps T per sample")
    train.add_argument("--hidden", type=_hidden, default=None, help="hidden sizes, e.g. 800,800")
    train.add_argument("--beta", type=float, default=None, help="LIF decay per step (0.9)")
    train.add_argument(
        "--network",
        choices=("spikesub", "snntorch"),
        default=None,
        help="spikesub layers (fused kernels, default) or snntorch.Leaky in a loop over time",
    )
    train.add_argument(
        "--max-train", type=int, default=None, help="at most N training samples per task"
    )
    train.add_argument(
        "--device", choices=("cpu", "cuda", "auto"), default=None, help="default cpu"
    )

    opts = parser.add_argument_group("method options")
    opts.add_argument("--ewc-lambda", type=float, default=None, help="EWC penalty strength")
    opts.add_argument(
        "--gpm-threshold",
        type=parse_thresholds,
        default=None,
        help="GPM energy threshold, or one per layer (0.97,0.99,0.99)",
    )
    opts.add_argument(
        "--gpm-activity",
        choices=ACTIVITIES,
        default=None,
        help="what GPM records of a hidden layer's input spikes (default spikes)",
    )
    opts.add_argument(
        "--hlop-activity",
        choices=ACTIVITIES,
        default=None,
        help="what HLOP records of a hidden layer's input spikes: presynaptic traces with the "
        "LIF decay (default) or single steps' spikes",
    )
    opts.add_argument(
        "--hlop-k", type=int, default=None, help="HLOP lateral neurons per layer and task"
    )
    opts.add_argument(
        "--hlop-threshold",
        type=parse_thresholds,
        default=None,
        help="HLOP energy threshold, or one per layer (default 0.98,0.99,0.9 on 2 hidden layers)",
    )
    opts.add_argument(
        "--hlop-epochs", type=int, default=None, help="Hebbian passes per task (over its batches)"
    )
    opts.add_argument(
        "--hlop-record",
        type=int,
        default=None,
        help="examples per task whose activity is recorded for the Hebbian learning (4000)",
    )
    opts.add_argument("--hlop-lr", type=float, default=None, help="Hebbian learning rate")
    opts.add_argument("--hlop-rule", choices=("oja", "gha"), default=None)
    opts.add_argument("--hlop-mode", choices=("rate", "spiking"), default=None)
    opts.add_argument(
        "--hlop-compare-gpm",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also compute GPM bases and save the principal angles to HLOP's (default on)",
    )
    opts.add_argument(
        "--option",
        type=parse_option,
        action="append",
        default=None,
        metavar="NAME=VALUE",
        help="any other strategy option (VALUE parsed as JSON when it can be); repeatable",
    )
    add_job_arguments(parser)
    parser.set_defaults(handler=run_cli)
    return parser


_FIELDS = (
    "method",
    "benchmark",
    "data_dir",
    "seed",
    "n_tasks",
    "quick",
    "validation",
    "training",
    "epochs",
    "batch_size",
    "lr",
    "momentum",
    "lr_schedule",
    "input_lr_scale",
    "steps",
    "hidden",
    "beta",
    "network",
    "max_train",
    "device",
    "ewc_lambda",
    "gpm_threshold",
    "gpm_activity",
    "hlop_activity",
    "hlop_k",
    "hlop_threshold",
    "hlop_epochs",
    "hlop_record",
    "hlop_lr",
    "hlop_rule",
    "hlop_mode",
    "hlop_compare_gpm",
)


def _config_from_args(args: argparse.Namespace):
    from spikesub.continual.runner import JOB, ContinualConfig
    from spikesub.models.errors import RunFolderError
    from spikesub.runs import read_json, saved_job, saved_settings

    given = {name: getattr(args, name) for name in _FIELDS if getattr(args, name) is not None}
    if args.option:
        given["strategy_options"] = dict(args.option)
    if not args.resume:
        return ContinualConfig(**given)
    if not args.out:
        raise RunFolderError("--resume needs --out, the run folder to continue")
    path = Path(args.out) / "config.json"
    if not path.exists():
        raise RunFolderError(f"resume: {path} does not exist; nothing to resume")
    saved = read_json(path)
    if not isinstance(saved, dict) or saved_job(saved) != JOB:
        job = saved_job(saved) if isinstance(saved, dict) else None
        raise RunFolderError(f"{args.out} holds a {job or 'unknown'} run, not a {JOB} run")
    # options not given on the command line keep their saved values
    return ContinualConfig.from_dict({**saved_settings(saved), **given})


def _pct(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{100 * value:.2f} %"


def run_cli(args: argparse.Namespace) -> int:
    """Run ``spikesub continual`` with parsed ``args``; returns the exit status (0)."""
    from spikesub.continual.runner import run_continual

    config = _config_from_args(args)
    apply_job_arguments(args)  # after the runner's import: torch's threads are set too
    result = run_continual(
        config,
        args.out,
        resume=args.resume,
        progress=False if args.quiet else None,
        download=args.download,
        stop_after=args.stop_after,
    )
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
