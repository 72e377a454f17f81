"""``spikesub whatwhen`` (and ``experiments/whatwhen.py``): options from
:class:`~spikesub.whatwhen.config.WhatWhenConfig`, plus the run's."""

from __future__ import annotations

import argparse
import time
from typing import Any

from spikesub.scripting import (
    add_run_arguments,
    apply_job_arguments,
    config_from_options,
    run_command,
)
from spikesub.whatwhen.config import METHOD_LABELS, METHODS, QUICK_SETTINGS, WhatWhenConfig

__all__ = ["add_arguments", "config_from_args", "main", "register", "run_cli", "summary_lines"]

DESCRIPTION = """\
The "what and when" prediction experiment: a heterogeneous Izhikevich reservoir receives one
of four cues; after a cue-specific delay an outcome of identity A (cue-specific probability)
or B happens. Readouts learn to predict when (a bump at the outcome time) and what (the
probability of each identity). The three-factor rule is compared with FORCE (with and
without resets at the switches) and ridge regression on the same reservoir and trials; one
cue's delay and another's probability switch midway. Writes config.json, metrics.json,
arrays.npz, examples.npz and figures into the run folder. An interrupted run continues with
--resume --out DIR."""

GROUPS = {
    "simulation": ("seed", "backend"),
    "reservoir (heterogeneous Izhikevich neurons, each cue driving its own subset)": (
        "n_neurons",
        "excitatory_fraction",
        "connection_p",
        "w_exc_pa",
        "w_inh_pa",
        "tau_syn_ms",
        "tau_adapt_ms",
        "adapt_jump_pa",
        "bias_pa",
        "noise_std_pa",
        "cue_fraction",
        "cue_drive_pa",
        "sim_dt_ms",
        "trace_tau_ms",
    ),
    "paradigm (cues, delays, outcome probabilities, switches)": (
        "delays_ms",
        "probabilities",
        "n_blocks",
        "trials_per_block",
        "onset_ms",
        "tail_ms",
        "trial_ms",
        "bump_sigma_ms",
        "what_start_ms",
        "gate_tail_sigmas",
        "delay_switch_block",
        "delay_switch_cue",
        "delay_switch_ms",
        "probability_switch_block",
        "probability_switch_cue",
        "probability_switch_value",
    ),
    "three-factor readout": (
        "tf_learning_rate",
        "tf_consolidation_rate",
        "tf_consolidate_every",
        "tf_when_normalised",
        "tf_when_rate",
        "tf_when_highpass_ms",
        "tf_tau_eligibility_ms",
        "tf_attention",
        "tf_attention_rate",
        "tf_attention_floor",
        "tf_attention_ref",
    ),
    "FORCE and ridge readouts": ("force_alpha", "force_update_every", "ridge"),
    "measures": (
        "timing_tolerance",
        "probability_tolerance",
        "recovery_run",
        "eval_blocks",
        "random_angle_draws",
    ),
}


def _quick_help() -> str:
    preset = ", ".join(
        f"{name.replace('_', '-')} {value}"
        for name, value in QUICK_SETTINGS.items()
        if name != "quick_run"
    )
    return f"the shorter run, 1-2 minutes: {preset} (options given override it)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The configuration's options, then the run's: ``--quick``, ``--out``, ``--resume``,
    ``--quiet``, ``--threads``, ``--memory-budget``."""
    WhatWhenConfig.add_arguments(parser, groups=GROUPS)
    run = parser.add_argument_group("run")
    run.add_argument("--quick", action="store_true", help=_quick_help())
    add_run_arguments(
        run, out_default="runs/whatwhen-<time>", resume_help="the blocks it finished are kept"
    )


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


def config_from_args(args: argparse.Namespace) -> WhatWhenConfig:
    """The configuration the options describe: the options given, on top of ``--quick``'s
    preset when it is given, on top of the run folder's saved settings with ``--resume``
    (else the defaults)."""
    return config_from_options(WhatWhenConfig, args, QUICK_SETTINGS)


def _fmt(value: Any, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def summary_lines(metrics: dict[str, Any]) -> list[str]:
    """A few lines that say what came out (one per method, then the random reference)."""
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
    """Run the experiment for parsed options and draw its figures; returns the exit status.
    Errors propagate to the caller's error path (:func:`spikesub.scripting.run_command`)."""
    from spikesub.runs import read_json
    from spikesub.whatwhen.figures import plot
    from spikesub.whatwhen.run import run

    started = time.perf_counter()
    apply_job_arguments(args)
    config = config_from_args(args)
    run_dir = run(config, args.out, progress=False if args.quiet else None, resume=args.resume)
    figures = plot(run_dir)
    if not args.quiet:
        for line in summary_lines(read_json(run_dir / "metrics.json")):
            print(line)
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
