"""Sweeps and searches: many runs of a job, each its own run folder, in parallel on Ray.

A sweep file (TOML or YAML) names a job, its base settings and the axes along which trials
differ: a grid of values, seeds, variants, or a search space that Optuna explores on a
validation split. ``spikesub sweep FILE --out DIR`` runs every trial on Ray (a local Ray on
a laptop, a cluster by address), skips the finished ones when run again, and writes a
summary (mean ± std over seeds per setting) with its figures::

    from spikesub.sweep import load_sweep, run_sweep
    outcome = run_sweep(load_sweep("sweeps/quick.toml"), "runs/sweep-quick", cpus=2)
    print(outcome.summary["groups"])

Ray and Optuna are imported only when trials run, so reading and checking a sweep file
needs neither.
"""

from spikesub.sweep.run import SweepOutcome, TrialsFailed, run_sweep
from spikesub.sweep.spec import Sweep, SweepFileError, Trial, load_sweep, parse_sweep

__all__ = [
    "Sweep",
    "SweepFileError",
    "SweepOutcome",
    "Trial",
    "TrialsFailed",
    "load_sweep",
    "parse_sweep",
    "run_sweep",
]
