"""Which layer's later changes cost an old task its accuracy?

Trains one continual-learning method on a benchmark, keeps the weights just after task
``--task`` and at the end, and scores that task with every mix of the two: each protected
layer either as it was just after the task or as it is at the end. The mix with no final
layer is the accuracy just after the task (R[k, k]), the one with all of them the final
accuracy (R[T, k]); the others tell which layers, alone and together, did the forgetting
(for instance a first layer whose change is harmless alone but shifts what the second layer
sees, so that the second layer's own changes now hurt).

    python experiments/continual_forgetting_by_layer.py --method hlop --benchmark pmnist \\
        --data-dir ../shared/data/mnist-10k --validation 0.1 --out runs/forgetting-hlop

Writes ``OUT/run`` (the run folder of the training, resumable), ``OUT/after_task.pt`` (the
weights just after the task), ``OUT/metrics.json`` (accuracy of every mix) and
``OUT/forgetting.md`` (the table).
"""

from __future__ import annotations

import argparse
import io
import itertools
from pathlib import Path

import torch

from spikesub.continual.config import parse_energy_thresholds
from spikesub.continual.metrics import evaluate
from spikesub.continual.run import (
    ACTIVITIES,
    METHODS,
    ContinualConfig,
    benchmark_tasks,
    build_model,
    load_checkpoint,
)
from spikesub.continual.run import (
    run as run_continual,
)
from spikesub.runs import atomic_write_bytes, write_json
from spikesub.scripting import add_job_arguments, apply_job_arguments, run_script


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--method", default="hlop", choices=[m for m in METHODS if m != "multitask"])
    p.add_argument("--benchmark", default="pmnist")
    p.add_argument("--data-dir", default=None, help="MNIST folder (pmnist, splitmnist)")
    p.add_argument("--download", action="store_true", help="fetch missing MNIST files first")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--task", type=int, default=0, help="the old task to examine (from 0)")
    p.add_argument("--validation", type=float, default=0.0, help="score on a held-out split")
    p.add_argument(
        "--energy-threshold",
        type=parse_energy_thresholds,
        default=None,
        help="GPM / HLOP energy threshold, or one per layer, e.g. 0.98,0.9,0.9 (default: theirs)",
    )
    p.add_argument(
        "--activity",
        choices=ACTIVITIES,
        default=None,
        help="what GPM / HLOP record of the hidden spikes (default: theirs)",
    )
    p.add_argument("--quick", action="store_true", help="tiny runs (smoke test)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--quiet", action="store_true")
    add_job_arguments(p)
    args = p.parse_args(argv)
    if args.task < 0:
        p.error(f"--task must be >= 0; got {args.task}")
    return args


def layer_mixes(after: dict, final: dict, names: list[str]):
    """Yield ``(final_layers, state_dict)``: every subset of ``names`` taken from ``final``,
    the rest of the weights from ``after``."""
    for choice in itertools.product((False, True), repeat=len(names)):
        chosen = tuple(n for n, c in zip(names, choice, strict=True) if c)
        state = dict(after)
        state.update({f"{n}.weight": final[f"{n}.weight"] for n in chosen})
        yield chosen, state


_CONFIG_NAMES = {"energy_threshold": "threshold", "activity": "activity"}
"""This script's options by the names of ContinualConfig's ``<method>_<name>`` settings."""


def _method_options(method: str, **given) -> dict:
    """``{"<method>_<setting>": value}`` for the options given (GPM and HLOP only)."""
    given = {name: value for name, value in given.items() if value is not None}
    if given and method not in ("gpm", "hlop"):
        names = ", ".join(f"--{name.replace('_', '-')}" for name in given)
        raise ValueError(f"{names} is an option of gpm and hlop, not of {method}")
    return {f"{method}_{_CONFIG_NAMES[name]}": value for name, value in given.items()}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    apply_job_arguments(args)
    config = ContinualConfig(
        method=args.method,
        benchmark=args.benchmark,
        data_dir=args.data_dir,
        seed=args.seed,
        validation=args.validation,
        quick=args.quick,
        **_method_options(
            args.method, energy_threshold=args.energy_threshold, activity=args.activity
        ),
    )
    tasks = benchmark_tasks(config, download=args.download)
    if args.task >= len(tasks) - 1:
        raise ValueError(f"--task must be below the last task ({len(tasks) - 1}); got {args.task}")
    args.out.mkdir(parents=True, exist_ok=True)
    run_dir = args.out / "run"
    snapshot = args.out / "after_task.pt"
    progress = False if args.quiet else None
    if not snapshot.exists():
        resume = (run_dir / "checkpoint.pt").exists()
        run_continual(config, run_dir, resume=resume, progress=progress, stop_after=args.task + 1)
        state = load_checkpoint(run_dir)
        if int(state["task"]) != args.task:
            raise ValueError(f"{run_dir} is past task {args.task}: start with a new --out")
        buffer = io.BytesIO()
        torch.save(state["model"], buffer)
        atomic_write_bytes(snapshot, buffer.getvalue())
    result = run_continual(config, run_dir, resume=True, progress=progress)
    after = torch.load(snapshot, weights_only=True)
    final = load_checkpoint(run_dir)["model"]

    model = build_model(config, tasks[0].n_features)
    names = [k[: -len(".weight")] for k in after if k.endswith(".weight")]
    rows = []
    for chosen, state in layer_mixes(after, final, names):
        model.load_state_dict(state)
        acc = float(evaluate(model, [tasks[args.task]])[0])
        rows.append({"final_layers": list(chosen), "accuracy": acc})
    lines = [
        f"# Task {args.task} of {config.benchmark}, {config.method}, seed {config.seed}",
        "",
        "| layers at their final weights | accuracy (%) |",
        "|---|---:|",
        *(
            f"| {', '.join(r['final_layers']) or 'none'} | {100 * r['accuracy']:.2f} |"
            for r in rows
        ),
    ]
    write_json(
        args.out / "metrics.json",
        {
            "config": config.to_dict(),
            "task": args.task,
            "layers": names,
            "mixes": rows,
            "ACC": result["ACC"],
            "BWT": result["BWT"],
        },
    )
    atomic_write_bytes(args.out / "forgetting.md", ("\n".join(lines) + "\n").encode())
    if not args.quiet:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    run_script(main, "continual_forgetting_by_layer.py")
