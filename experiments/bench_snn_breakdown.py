"""Where the time of spikesub's MLP training step goes, kernel by kernel.

The MLP of ``experiments/bench_snn.py`` (784-800-800-10 spiking layers, T = 20 steps of a
static input, batch 64, SGD, cross-entropy on the time-averaged output membrane) is trained
for ``--train-steps`` steps on MNIST (or ``--synthetic`` images), so that its spike densities
are those of training, not of the initial weights. Then every kernel of one training step is
called on its own, with the shapes and spikes of that step, ``--repeats`` times:

* forward: the first Linear (once, on the static images), the LIF kernels of the three
  layers, the compaction of the hidden spikes into rows of nonzeros, and the event-driven
  products of layers 2 and 3;
* backward: the LIF kernels in reverse, the dense input gradients of layers 3 and 2, the
  event-driven weight gradients of layers 3 and 2 and the dense one of layer 1;
* the SGD update.

Each kernel's median wall time and median CPU time of the calling thread are reported,
beside the median of whole training steps timed in the training loop; the difference is the
rest (autograd, allocation, input checks, loss, small products). Called on their own, the
kernels find their data in the caches; a second table (one thread) times the same kernels
inside training steps, where their arrays are new each step (:func:`in_training`). With one
thread (the default) the CPU times are what the kernels cost, whatever else runs on the
machine; with ``--threads 2`` the wall times show how the kernels scale (the CPU times then
count the calling thread only).

Usage::

    python experiments/bench_snn_breakdown.py                 # one thread, MNIST
    python experiments/bench_snn_breakdown.py --threads 2

The job ``bench_snn_breakdown`` (:mod:`spikesub.bench.snn_breakdown`): every option is a
setting of its configuration, so ``run_job("bench_snn_breakdown", {...})`` and sweep files run
it too (never two at once: ``--max-parallel 1``). Writes ``config.json``, ``metrics.json`` and
``breakdown.md`` into ``--out``.
"""

from __future__ import annotations

from spikesub.bench.snn_breakdown.cli import main
from spikesub.scripting import run_script

if __name__ == "__main__":
    run_script(main, "bench_snn_breakdown.py")
