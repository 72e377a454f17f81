"""Benchmark: the 10k reservoir on 1, 2 and automatic threads, on a quiet machine and beside
busy processes.

The Izhikevich (2003) network of 8000 excitatory and 2000 inhibitory neurons, connection
probability 0.1, dt = 0.1 ms, Numba backend, simulated for ``--duration-ms`` (1 s) with each
thread setting of ``--threads`` (``1,2,auto``: ``auto`` is the reservoir's default, the
automatic thread count with its measured fallback to one thread). Every setting runs quiet and
beside ``--busy`` (2) busy-loop processes that the benchmark starts and stops itself (they are
stopped on error and on Ctrl-C too, and end on their own if the benchmark dies).

Settings take turns: each of ``--rounds`` rounds runs every setting once, quiet and loaded,
in an order that rotates from round to round, so a disturbance that comes and goes spreads
over all of them. A round runs in a fresh process per Numba threading layer (``--layers``;
a process has one layer for its lifetime): it builds the networks, runs each for 50 ms to
compile (or load the compiled code), then times the runs (compilation excluded). All
settings produce the same spikes; the benchmark checks that they do.

Usage::

    python experiments/bench_threads.py                        # 1 s, 5 rounds, 2 busy loops
    python experiments/bench_threads.py --layers tbb,omp       # also compare threading layers
    python experiments/bench_threads.py --quick                # a smoke run of a few seconds

The job ``bench_threads`` (:mod:`spikesub.bench.threads`): every option but ``--quick`` is a
setting of its configuration, so ``run_job("bench_threads", {...})`` and sweep files run it
too (never two at once: ``--max-parallel 1``). Writes ``config.json``, ``metrics.json`` (every
timed run, then medians per layer, load and setting), ``bench.md`` (the table, also printed) and
``bench_threads.png`` (the medians as bars, the range of the rounds as error bars) into
``--out``.
"""

from __future__ import annotations

from spikesub.bench.threads.cli import main
from spikesub.scripting import run_script

if __name__ == "__main__":
    run_script(main, "bench_threads.py")
