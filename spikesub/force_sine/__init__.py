"""The FORCE sine job (``spikesub force-sine``): Nicola & Clopath (2017), Fig. 2.

:class:`ForceSineConfig` says what to run (the full run by default, :meth:`ForceSineConfig.quick`
and :meth:`ForceSineConfig.matlab` for the presets), :func:`spikesub.force_sine.run.run` trains
the network into a run folder, :func:`plot` draws the folder's figure::

    from spikesub.force_sine import ForceSineConfig, plot
    from spikesub.force_sine.run import run

    run_dir = run(ForceSineConfig.quick(seed=1), "runs/force-sine-quick")
    plot(run_dir)

(``run`` is not exported here: the name is its module's, ``spikesub.force_sine.run``, which
Python binds in this package once the module is imported.)

The configuration imports nothing heavy; the run module loads Numba.
"""

from __future__ import annotations

from spikesub.force_sine.config import MATLAB_NEURONS, QUICK, ForceSineConfig
from spikesub.kernels.lazy_exports import lazy_getattr

_EXPORTS = {
    "build_network": "spikesub.force_sine.network",
    "force_weights": "spikesub.force_sine.network",
    "csr_by_presynaptic": "spikesub.force_sine.network",
    "sine_target": "spikesub.force_sine.measures",
    "relative_rmse": "spikesub.force_sine.measures",
    "oscillation_frequency_hz": "spikesub.force_sine.measures",
    "plot": "spikesub.force_sine.figures",
}

__all__ = ["MATLAB_NEURONS", "QUICK", "ForceSineConfig", *sorted(_EXPORTS)]


__getattr__ = lazy_getattr("spikesub.force_sine", _EXPORTS, globals())


def __dir__() -> list[str]:
    return list(__all__)
