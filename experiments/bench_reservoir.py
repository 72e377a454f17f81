"""Benchmark: the Izhikevich (2003) reservoir in spikesub against Brian2, at several sizes.

The network of Izhikevich (2003) scaled to ``N`` neurons (80 % excitatory): connection
probability 0.1 up to 10 000 neurons, a fixed in-degree of 1000 above, weights scaled by
``1000 / K`` so every size gets the mean input of the original network; thalamic noise of
standard deviation 5 (excitatory) / 2 (inhibitory) held for 1 ms; delta synapses; dt = 0.1 ms.
spikesub (Numba CPU, and CUDA when asked for; float64 arithmetic, and float32 with
``--precisions float64,float32``) and Brian2 (Cython in runtime mode, one thread; C++ standalone
with OpenMP on spikesub's thread count) simulate the same neurons and the same weights; only
the noise samples differ (each simulator draws its own). With ``--nest``, NEST 3 (model
``izhikevich``, spikesub's thread count) runs it too (``spikesub.nest_reference``; it delivers
a spike one step later, so its rates differ a little).

Compilation is timed apart: spikesub compiles during a 10 ms warm-up run (then the state is
reset), Brian2's runtime mode during a zero-length run, Brian2's standalone mode with ``make``
(``compile s``; its ``build s`` is the Python side: objects, code generation, arrays written).
``wall s`` is the simulation alone (standalone: timed inside the C++ program around the
network's run); ``CPU s`` is the CPU time during it (all threads), a check on machines shared
with other work. ``Brian2 / spikesub`` divides the fastest Brian2 row with the same thread
count (named in ``vs``) by the spikesub row's wall time; ``rate diff %`` is against that row.

The machine's limit (``experiments/machine_limit.py``, measured here on each thread count
unless ``--no-machine-limit``): ``bound s`` is the lower bound on the wall time of the row's
work (neuron updates, synaptic events, the CSR walk's memory traffic) from the rates this
machine reaches for each kind of work alone; ``of bound`` is ``bound s / wall s``.

Usage::

    python experiments/bench_reservoir.py --sizes 1000,10000 --durations 1,10
    python experiments/bench_reservoir.py --sizes 100000 --durations 1 --resume
    python experiments/bench_reservoir.py --sizes 10000 --durations 10 --threads 2 --resume

The job ``bench_reservoir`` (:mod:`spikesub.bench.reservoir`): every option is a setting of
its configuration, so ``run_job("bench_reservoir", {...})`` and sweep files run it too (never
two at once: ``--max-parallel 1``). Writes ``config.json``, ``metrics.json`` (one row per size,
duration, simulator and thread count, and the machine's limits) and ``bench.md`` (the table)
into ``--out``. With ``--resume``,
rows already in ``metrics.json`` are kept and their runs skipped, so several invocations (other
sizes, other thread counts) add up to one table.
"""

from __future__ import annotations

from spikesub.bench.reservoir.cli import main
from spikesub.scripting import run_script

if __name__ == "__main__":
    run_script(main, "bench_reservoir.py")
