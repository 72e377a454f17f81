"""The ``whatwhen`` sub-command: run the "what and when" experiment, write its run folder."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from spikesub.scripting import add_job_arguments, apply_job_arguments, run_command

DESCRIPTION = """\
The "what and when" prediction experiment: a heterogeneous Izhikevich reservoir receives one
of four cues; after a cue-specific delay an outcome of identity A (cue-specific probability)
or B happens. Readouts learn to predict when (a bump at the outcome time) and what (the
probability of each identity). The three-factor rule is compared with FORCE (with and
without resets at the switches) and ridge regression on the same reservoir and trials; one
cue's delay and another's probability switch midway. Writes config.json, metrics.json,
arrays.npz, examples.npz and figures into the run folder."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``spikesub whatwhen`` and ``experiments/whatwhen.py``."""
    parser.add_argument(
        "--out", default=None, help="run folder to write (default runs/whatwhen-<time>)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="small network and short schedule (under a minute)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of network, trials and noise")
    parser.add_argument(
        "--n-neurons", type=int, default=None, help="reservoir size (default 1000; quick: 400)"
    )
    parser.add_argument(
        "--backend",
        default="auto",
        help="reservoir backend: auto (CUDA if a GPU is present, else numba), numpy, numba, cuda",
    )
    parser.add_argument(
        "--attention",
        action="store_true",
        help="scale the three-factor rule's 'when' gate by each cue's recent timing surprise "
        "(associability, Pearce & Hall 1980)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in --out after its last finished block",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    add_job_arguments(parser)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``whatwhen`` sub-command to a ``spikesub`` sub-parser set; returns its parser."""
    parser = subparsers.add_parser(
        "whatwhen",
        help="the what-and-when prediction experiment (three-factor rule vs FORCE)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser


def config_from_args(args: argparse.Namespace):
    """The :class:`WhatWhenConfig` the options describe."""
    from spikesub.prediction.experiment import WhatWhenConfig

    overrides: dict[str, Any] = {"seed": args.seed, "backend": args.backend}
    if args.n_neurons is not None:
        overrides["n_neurons"] = args.n_neurons
    if getattr(args, "attention", False):
        overrides["tf_attention"] = True
    return WhatWhenConfig.quick(**overrides) if args.quick else WhatWhenConfig(**overrides)


def _fmt(value: Any, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def summary_lines(metrics: dict[str, Any]) -> list[str]:
    """A few lines that say what came out (one per method, then the targets)."""
    from spikesub.prediction.experiment import METHOD_LABELS, METHODS

    lines = []
    for m in [m for m in METHODS if m in metrics["methods"]]:
        res = metrics["methods"][m]
        timing = res.get("timing_max_abs_error_pct")
        prob = res["probability"]
        rec = ", ".join(
            f"{r['kind']}: "
            + (str(r["trials_to_recover"]) if r["trials_to_recover"] is not None else "never")
            for r in res["recovery"]
        )
        lines.append(
            f"{METHOD_LABELS.get(m, m):>18}: timing error <= {_fmt(timing, '.1f')}% of delay, "
            f"magnitude~p slope {_fmt(prob['slope'])} r {_fmt(prob['correlation'], '.3f')}, "
            f"recovery ({rec}), what/when angle {_fmt(res['angles']['final_deg'], '.1f')} deg"
        )
    ref = metrics["random_reference_angle_deg"]["min_deg"]
    lines.append(f"{'random weights':>18}: angle {ref:.1f} deg")
    return lines


def run_cli(args: argparse.Namespace) -> int:
    """Run the experiment for parsed options; returns the exit status. Errors propagate to
    the caller's error path (:func:`spikesub.scripting.run_command`)."""
    from spikesub.prediction.experiment import run_whatwhen
    from spikesub.prediction.figures import plot_whatwhen

    started = time.perf_counter()
    apply_job_arguments(args)
    config = config_from_args(args)
    metrics = run_whatwhen(
        config, args.out, progress=False if args.quiet else None, resume=args.resume
    )
    figures = plot_whatwhen(metrics["run_dir"])
    if not args.quiet:
        for line in summary_lines(metrics):
            print(line)
        run_dir = Path(metrics["run_dir"])
        print(
            f"run folder: {run_dir} ({len(figures)} figures), {time.perf_counter() - started:.0f} s"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``experiments/whatwhen.py``."""
    parser = argparse.ArgumentParser(
        prog="whatwhen",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run_command(run_cli, parser.parse_args(argv), prog="whatwhen")
