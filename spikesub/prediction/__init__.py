"""The "what and when" prediction experiment.

A heterogeneous Izhikevich reservoir receives one of several cues; after a cue-specific delay
an outcome of identity A (with a cue-specific probability) or B happens. Readouts learn from
the reservoir's filtered spikes to predict *when* the outcome comes (a bump at its time) and
*what* it will be (the probability of each identity, held over the wait). The three-factor
rule (:class:`spikesub.ThreeFactorReadout`) is compared with FORCE, with and without resets at
the switches, and with ridge regression, on the same reservoir and the same trials.

    from spikesub.prediction import WhatWhenConfig, run_whatwhen, plot_whatwhen

    metrics = run_whatwhen(WhatWhenConfig.quick(), out="runs/whatwhen-quick")
    plot_whatwhen("runs/whatwhen-quick")
"""

from __future__ import annotations

import importlib as _importlib

# Each name loads its module on first use: the experiment imports Numba, the figures
# matplotlib, and ``spikesub --help`` needs neither.
_EXPORTS: dict[str, str] = {
    "METHODS": "spikesub.prediction.experiment",
    "WhatWhenConfig": "spikesub.prediction.experiment",
    "WhatWhenDivergedError": "spikesub.prediction.experiment",
    "compute_metrics": "spikesub.prediction.experiment",
    "measure_trial": "spikesub.prediction.experiment",
    "run_whatwhen": "spikesub.prediction.experiment",
    "linear_fit": "spikesub.prediction.metrics",
    "peak": "spikesub.prediction.metrics",
    "principal_angles_deg": "spikesub.prediction.metrics",
    "random_subspace_angles_deg": "spikesub.prediction.metrics",
    "trailing_mean": "spikesub.prediction.metrics",
    "trials_to_recover": "spikesub.prediction.metrics",
    "OUTPUT_NAMES": "spikesub.prediction.paradigm",
    "Schedule": "spikesub.prediction.paradigm",
    "Switch": "spikesub.prediction.paradigm",
    "Trial": "spikesub.prediction.paradigm",
    "TrialTiming": "spikesub.prediction.paradigm",
    "make_schedule": "spikesub.prediction.paradigm",
    "trial_targets": "spikesub.prediction.paradigm",
    "CueReservoir": "spikesub.prediction.reservoir_traces",
    "ReservoirParams": "spikesub.prediction.reservoir_traces",
    "TrialActivity": "spikesub.prediction.reservoir_traces",
    "filter_spikes": "spikesub.prediction.reservoir_traces",
    "plot_whatwhen": "spikesub.prediction.figures",
    "save_docs_figures": "spikesub.prediction.figures",
}

__all__ = sorted(name for name in _EXPORTS if name != "save_docs_figures")


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'spikesub.prediction' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
