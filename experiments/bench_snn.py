"""Benchmark: training spiking networks with snnTorch, SpikingJelly and spikesub layers.

Two workloads, each trained by every framework in the same run, on the same data, from the
same weights: ``mlp``, the MLP 784-800-800-10 with T = 20 steps of static input on MNIST, and
``ob``, the Open Neuromorphic benchmark's Linear(4096, 4096) + LIF layer over 500 steps. Each
framework and workload runs in a child process of its own; with ``--rounds N`` they take turns.

Usage::

    python experiments/bench_snn.py                       # both workloads, all frameworks
    python experiments/bench_snn.py --frameworks snntorch,spikesub   # without SpikingJelly
    python experiments/bench_snn.py --bench mlp --steps 50
    python experiments/bench_snn.py --bench ob --ob-n 1024 --ob-steps 100 --ob-repeats 3
    python experiments/bench_snn.py --bench mlp --rounds 3       # frameworks take turns

The job ``bench_snn`` (:mod:`spikesub.bench.snn.run` describes the method): every option is a
setting of its configuration, so ``run_job("bench_snn", {...})`` and sweep files run it too
(never two at once: ``--max-parallel 1``). Writes ``config.json``, ``metrics.json`` and
``bench.md`` (the table) into ``--out``; with ``--profile`` also
``profile-<workload>-<framework>.txt``, a torch.profiler table of one more step, which shows
where the time goes (matmuls, LIF kernels, autograd bookkeeping).
"""

from __future__ import annotations

from spikesub.bench.snn.cli import main
from spikesub.scripting import run_script

if __name__ == "__main__":
    run_script(main, "bench_snn.py")
