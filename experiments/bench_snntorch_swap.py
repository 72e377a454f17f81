"""Benchmark: snnTorch's per-step training loop, with its own ``Leaky`` and after
``swap_snntorch_leaky`` (the same loop on spikesub's kernels).

The MLP 784-800-800-10 of ``bench_snn.py``'s ``mlp`` workload (Linear + ``Leaky`` per layer,
``init_hidden=True``, T = 20 steps of a static input, batch 64, cross-entropy on the
time-averaged membrane of the output layer, forward and backward). Both models start from the
same weights and run in one process, taking turns step by step (snnTorch, swapped, snnTorch,
...), so that a machine whose speed drifts slows both alike; the medians and their ratio are
printed, and written with the settings into the run folder (``--out``, default
``runs/bench-snntorch-swap-<time>``). Usage::

    python experiments/bench_snntorch_swap.py --rounds 30 --threads 1

The job ``bench_snntorch_swap`` (:mod:`spikesub.bench.snntorch_swap`): every option is a
setting of its configuration, so ``run_job("bench_snntorch_swap", {...})`` and sweep files run
it too (never two at once: ``--max-parallel 1``).
"""

from __future__ import annotations

from spikesub.bench.snntorch_swap.cli import main
from spikesub.scripting import run_script

if __name__ == "__main__":
    run_script(main, "bench_snntorch_swap.py")
