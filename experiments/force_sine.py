"""FORCE training of a spiking network on a 5 Hz sine (Nicola & Clopath 2017, Fig. 2).

2000 Izhikevich neurons with static random weights and readout feedback run for 15 s; the
decoder is trained by recursive least squares from 5 s to 10 s, then the network runs on its
own. Writes ``config.json``, ``metrics.json`` (test relative RMSE over 10-15 s, ...),
``force_sine.npz`` and ``force_sine.png`` into the run folder.

Usage::

    python experiments/force_sine.py --out runs/force-sine
    python experiments/force_sine.py --quick          # 500 neurons, 5 s, a few seconds
    python experiments/force_sine.py --matlab-neurons # settings of the authors' script
"""

from __future__ import annotations

import argparse

from spikesub.force_sine import MATLAB_NEURONS, run_force_sine
from spikesub.scripting import add_job_arguments, apply_job_arguments, run_script


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None, help="run folder (default runs/force-sine-<time>)")
    parser.add_argument(
        "--quick", action="store_true", help="500 neurons, 1 s + 2 s training + 2 s test"
    )
    parser.add_argument("--seed", type=int, default=0, help="network seed (default 0)")
    parser.add_argument(
        "--matlab-neurons",
        action="store_true",
        help="neuron and weight settings of the authors' MATLAB script IZFORCESINE "
        "(b = -2 nS, v_t = -19.2 mV, no row balancing)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_job_arguments(parser)
    args = parser.parse_args(argv)
    apply_job_arguments(args)
    extra = MATLAB_NEURONS if args.matlab_neurons else {}
    metrics = run_force_sine(
        args.out, quick=args.quick, seed=args.seed, progress=not args.quiet, **extra
    )
    if not args.quiet:
        print(
            f"test relative RMSE {metrics['test_rel_rmse']:.4f}, "
            f"train RMSE (last second) {metrics['train_rmse']:.4f}, "
            f"mean rate {metrics['mean_rate_hz']:.1f} Hz, wall {metrics['wall_s']:.1f} s "
            f"-> {metrics['run_dir']}"
        )
    return 0


if __name__ == "__main__":
    run_script(main, "force_sine.py")
