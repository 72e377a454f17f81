"""The reservoir simulation job (``spikesub simulate``).

:class:`SimulationConfig` says what to simulate (the Izhikevich 2003 network at any size),
:func:`run` simulates it into a run folder (resumable: checkpoints every 30 s and on Ctrl-C),
:func:`plot` draws the folder's figures::

    from spikesub.simulate import SimulationConfig, run
    run_dir = run(SimulationConfig(n_exc=8000, n_inh=2000, p=0.1), "runs/10k")

The configuration imports nothing heavy; the run function loads Numba on first use.
"""

from __future__ import annotations

import importlib as _importlib

from spikesub.simulate.config import SimulationConfig

_EXPORTS = {
    "run": "spikesub.simulate.run",
    "build_reservoir": "spikesub.simulate.run",
    "plot": "spikesub.simulate.figures",
}

__all__ = ["SimulationConfig", "build_reservoir", "plot", "run"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'spikesub.simulate' has no attribute {name!r}")
    return getattr(_importlib.import_module(module), name)


def __dir__() -> list[str]:
    return list(__all__)
