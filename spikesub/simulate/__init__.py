"""The reservoir simulation job (``spikesub simulate``).

:class:`SimulationConfig` says what to simulate (the Izhikevich 2003 network at any size);
:func:`spikesub.simulate.run.run` simulates it into a run folder (resumable: checkpoints every
30 s and on Ctrl-C); :func:`spikesub.simulate.figures.plot` draws the folder's figures::

    from spikesub.simulate import SimulationConfig
    from spikesub.simulate.run import run

    run_dir = run(SimulationConfig(n_exc=8000, n_inh=2000, p=0.1), "runs/10k")

The package imports only the configuration (nothing heavy); the run loads Numba. ``run`` is
not re-exported here: the name is the module's (``spikesub.simulate.run``), and a function
of the same name in the package would be hidden by it once the module is imported.
"""

from __future__ import annotations

from spikesub.simulate.config import SimulationConfig

__all__ = ["SimulationConfig"]
