"""Compare continual-learning methods on one benchmark over several seeds.

Runs every method for every seed with :func:`spikesub.continual.run.run_continual`, one run
folder per pair (``OUT/<method>-seed<seed>``), then writes ``OUT/summary.json``,
``OUT/summary.md`` (ACC and BWT, mean ± std over seeds, and times) and
``OUT/comparison.png``. Finished runs are skipped and interrupted ones resumed, so the same
command continues where it stopped.

    python experiments/continual_compare.py --benchmark pmnist \\
        --data-dir ../shared/data/mnist-10k --seeds 0,1,2 \\
        --methods hlop,gpm,ewc,finetune,multitask --out runs/continual-pmnist

    python experiments/continual_compare.py --benchmark digits --quick --out runs/cc-quick
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from spikesub import SpikesubError
from spikesub.continual.figures import plot_comparison, plot_continual
from spikesub.continual.names import LR_SCHEDULES
from spikesub.continual.run import METHODS, ContinualConfig, summarize_runs
from spikesub.continual.run import run as run_continual
from spikesub.continual.tasks import BENCHMARKS
from spikesub.runs import atomic_write_bytes, read_json, write_json
from spikesub.scripting import add_job_arguments, apply_job_arguments, run_script


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _methods(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown method(s) {unknown}; choose from {METHODS}")
    return names


def _pct(mean: float, std: float) -> str:
    if mean != mean:  # NaN
        return "n/a"
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def summary_markdown(summary: dict) -> str:
    """The summary as a Markdown table (percent; times in seconds, summed over tasks)."""
    lines = [
        f"# Continual learning on {summary['benchmark']}",
        "",
        "| method | seeds | ACC (%) | BWT (%) | training time (s) | overhead ratio |",
        "|---|---|---|---|---|---|",
    ]
    for name in summary["order"]:
        m = summary["methods"][name]
        ratio = m["overhead_ratio_mean"]
        lines.append(
            f"| {name} | {len(m['seeds'])} | {_pct(m['ACC_mean'], m['ACC_std'])} "
            f"| {_pct(m['BWT_mean'], m['BWT_std'])} "
            f"| {m['total_train_s_mean']:.0f} ± {m['total_train_s_std']:.0f} "
            f"| {'n/a' if ratio != ratio else f'{ratio:.2f}'} |"
        )
    for failure in summary.get("failed", []):
        lines.append(
            f"| {failure['method']} (seed {failure['seed']}) | failed: {failure['error']} | | | | |"
        )
    lines += [
        "",
        "ACC: mean final accuracy over all tasks; BWT: mean change of each earlier task's "
        "accuracy from just after it was trained to the end (negative = forgetting); "
        "mean ± sample std over seeds. Training time: SGD plus the strategy's end-of-task "
        "work, all tasks. Overhead ratio: (training + projection + penalty + end-of-task "
        "work) / plain SGD time, mean over tasks.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmark", choices=tuple(BENCHMARKS), default="digits")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (pmnist, splitmnist)")
    parser.add_argument("--seeds", type=_ints, default=[0], help="comma-separated, e.g. 0,1,2")
    parser.add_argument("--methods", type=_methods, default=list(METHODS))
    parser.add_argument("--out", required=True, help="folder for the run folders and summary")
    parser.add_argument("--quick", action="store_true", help="tiny runs (smoke test)")
    parser.add_argument("--training", choices=("bptt", "online"), default="bptt")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None, help="SGD learning rate (all methods)")
    parser.add_argument(
        "--lr-schedule",
        choices=LR_SCHEDULES,
        default=None,
        help="within each task: constant (default) or cosine decay (all methods)",
    )
    parser.add_argument(
        "--validation",
        type=float,
        default=0.0,
        help="hold out this fraction of each task's training set and score on it (tuning)",
    )
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--n-tasks", type=int, default=None)
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")
    parser.add_argument("--quiet", action="store_true")
    add_job_arguments(parser)
    args = parser.parse_args(argv)
    apply_job_arguments(args)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    progress = False if args.quiet else None
    run_dirs = []
    failed: list[dict] = []
    for method in args.methods:
        for seed in args.seeds:
            config = ContinualConfig(
                method=method,
                benchmark=args.benchmark,
                data_dir=args.data_dir,
                seed=seed,
                quick=args.quick,
                training=args.training,
                epochs=args.epochs,
                steps=args.steps,
                n_tasks=args.n_tasks,
                device=args.device,
                lr=args.lr,
                lr_schedule=args.lr_schedule,
                validation=args.validation,
            )
            run_dir = out / f"{method}-seed{seed}"
            run_dirs.append(run_dir)
            metrics_path = run_dir / "metrics.json"
            if metrics_path.exists() and read_json(metrics_path).get("finished"):
                if not args.quiet:
                    print(f"{run_dir}: finished, skipped")
                continue
            resume = (run_dir / "config.json").exists()
            start = time.perf_counter()
            try:
                result = run_continual(config, run_dir, resume=resume, progress=progress)
            except (SpikesubError, ValueError) as error:
                # a diverging method should not cost the others their runs
                failed.append({"method": method, "seed": seed, "error": str(error)})
                print(f"{method} seed {seed}: failed: {error}", file=sys.stderr, flush=True)
                continue
            plot_continual(run_dir)
            if not args.quiet:
                bwt = result["BWT"]
                print(
                    f"{method} seed {seed}: ACC {100 * result['ACC']:.2f} %, BWT "
                    f"{'n/a' if bwt != bwt else f'{100 * bwt:.2f} %'}, "
                    f"{time.perf_counter() - start:.0f} s{' (resumed)' if resume else ''}",
                    flush=True,
                )
    summary = summarize_runs(run_dirs)
    summary["failed"] = failed
    write_json(out / "summary.json", summary)
    atomic_write_bytes(out / "summary.md", summary_markdown(summary).encode("utf-8"))
    if summary["order"]:
        plot_comparison(out)
    if not args.quiet:
        print(summary_markdown(summary))
    return 0


if __name__ == "__main__":
    run_script(main, "continual_compare.py")
