"""The reservoir-computing benchmark: spikesub's spiking reservoirs against an echo-state network.

Memory capacity, NARMA-10 and Mackey-Glass (tau = 17) one and 84 steps ahead, on 1,000-neuron
Izhikevich and LIF reservoirs and ReservoirPy's ESN of 1,000 units (the ``bench`` extra; its
column is skipped when ReservoirPy is missing). Each model gets the same random search (16
settings per task) on a validation split; the chosen settings are scored on a test split
over seeds 0, 1, 2. Writes ``config.json``, ``metrics.json``, ``results.md``, ``rc.npz``,
``rc_memory.png`` and ``rc_predictions.png`` into the run folder.

Usage::

    python experiments/bench_rc.py --out runs/bench-rc
    python experiments/bench_rc.py --quick --out runs/bench-rc-quick   # about half a minute
    spikesub plot runs/bench-rc                                        # redraw the figures

Options: as ``spikesub rc`` (every setting of the configuration, e.g. --n-neurons, --budget,
--seeds, --tasks, --models, --option esn.spectral_radius=0.9; and --quick, --out, --quiet,
--threads, --memory-budget).
"""

from __future__ import annotations

from spikesub.rc.cli import main
from spikesub.scripting import run_script

if __name__ == "__main__":
    run_script(main, "bench_rc.py")
