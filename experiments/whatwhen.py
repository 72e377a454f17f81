"""The "what and when" prediction experiment, as a script.

One heterogeneous Izhikevich reservoir, four cues with their own delays and outcome
probabilities, one cue's delay and another's probability switching midway; the three-factor
rule against FORCE (with and without resets) and ridge regression, on the same trials.

Usage::

    python experiments/whatwhen.py --out runs/whatwhen          # default run, a few minutes
    python experiments/whatwhen.py --quick --out runs/ww-quick  # under a minute
    spikesub plot runs/whatwhen                                  # redraw the figures

Options: --out, --quick, --seed, --n-neurons, --backend, --quiet (as ``spikesub whatwhen``).
"""

from __future__ import annotations

import argparse
import sys

from spikesub.models.errors import SpikesubError
from spikesub.prediction import plot_whatwhen, run_whatwhen
from spikesub.prediction.cli import DESCRIPTION, add_arguments, config_from_args, summary_lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="whatwhen.py",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
        metrics = run_whatwhen(config, args.out, progress=False if args.quiet else None)
        figures = plot_whatwhen(metrics["run_dir"])
    except (ValueError, TypeError, SpikesubError, OSError) as error:
        print(f"whatwhen: error: {error}", file=sys.stderr)
        return 2
    if not args.quiet:
        print("\n".join(summary_lines(metrics)))
        print(f"run folder: {metrics['run_dir']} ({len(figures)} figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
