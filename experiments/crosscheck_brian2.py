"""Cross-check: the Izhikevich (2003) network in spikesub and in Brian2, same input.

800 excitatory + 200 inhibitory neurons, Izhikevich's parameters and weights (all to all),
dt = 0.1 ms, 1 s; both simulators get the same thalamic input current (5 N(0,1) excitatory,
2 N(0,1) inhibitory, drawn once per ms) as a (steps, neurons) array. For each state precision
of spikesub (float64, float32), prints how the per-neuron spike counts and the spike trains
compare with Brian2's (float64, Cython), and writes ``config.json``, ``metrics.json``,
``counts.npz`` and ``counts.png`` (spikesub against Brian2, one dot per neuron) into
``--out``.

Usage::

    python experiments/crosscheck_brian2.py --seeds 1,2,3 --out runs/crosscheck-brian2

The job ``crosscheck_brian2`` (:mod:`spikesub.bench.crosscheck_brian2`): every option but
``--out``, ``--quiet``, ``--threads`` and ``--memory-budget`` is a setting of its
configuration, so ``run_job("crosscheck_brian2", {...})`` and sweep files run it too.
"""

from __future__ import annotations

from spikesub.bench.crosscheck_brian2.cli import main
from spikesub.scripting import run_script

if __name__ == "__main__":
    run_script(main, "crosscheck_brian2.py")
