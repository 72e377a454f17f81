"""FORCE training of a spiking network on a 5 Hz sine (Nicola & Clopath 2017, Fig. 2).

2000 Izhikevich neurons with static random weights and readout feedback run for 15 s; the
decoder is trained by recursive least squares from 5 s to 10 s, then the network runs on its
own. Writes ``config.json``, ``metrics.json`` (test relative RMSE over 10-15 s, ...),
``force_sine.npz`` and ``force_sine.png`` into the run folder.

Usage::

    python experiments/force_sine.py --out runs/force-sine
    python experiments/force_sine.py --quick          # 500 neurons, 5 s, a few seconds
    python experiments/force_sine.py --matlab-neurons # settings of the authors' script
    spikesub plot runs/force-sine                     # redraw the figure

Options: as ``spikesub force-sine`` (every setting of the configuration, e.g. --n-neurons,
--duration-ms, --rls-alpha, --backend; and --quick, --matlab-neurons, --seed, --out, --quiet,
--threads, --memory-budget).
"""

from __future__ import annotations

from spikesub.force_sine.cli import main
from spikesub.scripting import run_script

if __name__ == "__main__":
    run_script(main, "force_sine.py")
