"""The "what and when" prediction job (``spikesub whatwhen``).

A heterogeneous Izhikevich reservoir receives one of several cues; after a cue-specific delay
an outcome of identity A (with a cue-specific probability) or B happens. Readouts learn from
the reservoir's filtered spikes to predict *when* the outcome comes (a bump at its time) and
*what* it will be (the probability of each identity, held over the wait). The three-factor
rule (:class:`spikesub.ThreeFactorReadout`) is compared with FORCE, with and without resets at
the switches, and with ridge regression, on the same reservoir and the same trials.

:class:`WhatWhenConfig` says what to run, :func:`spikesub.whatwhen.run.run` runs it into a
run folder (resumable after every block), :func:`plot` draws the folder's figures::

    from spikesub.whatwhen import WhatWhenConfig, plot
    from spikesub.whatwhen.run import run

    run_dir = run(WhatWhenConfig.quick(), "runs/whatwhen-quick")
    plot(run_dir)

(``run`` is taken from its module: ``spikesub.whatwhen.run`` names the module once it has
been imported.)
"""

from __future__ import annotations

from spikesub.kernels.lazy_exports import lazy_getattr

# Each name loads its module on first use: the run imports Numba, the figures matplotlib,
# and ``spikesub --help`` needs neither.
_EXPORTS: dict[str, str] = {
    "METHODS": "spikesub.whatwhen.config",
    "WhatWhenConfig": "spikesub.whatwhen.config",
    "WhatWhenDivergedError": "spikesub.whatwhen.runner",
    "compute_metrics": "spikesub.whatwhen.metrics",
    "measure_trial": "spikesub.whatwhen.metrics",
    "linear_fit": "spikesub.whatwhen.metrics",
    "peak": "spikesub.whatwhen.metrics",
    "principal_angles_deg": "spikesub.whatwhen.metrics",
    "random_subspace_angles_deg": "spikesub.whatwhen.metrics",
    "trailing_mean": "spikesub.whatwhen.metrics",
    "trials_to_recover": "spikesub.whatwhen.metrics",
    "OUTPUT_NAMES": "spikesub.whatwhen.paradigm",
    "Schedule": "spikesub.whatwhen.paradigm",
    "Switch": "spikesub.whatwhen.paradigm",
    "Trial": "spikesub.whatwhen.paradigm",
    "TrialTiming": "spikesub.whatwhen.paradigm",
    "make_schedule": "spikesub.whatwhen.paradigm",
    "trial_targets": "spikesub.whatwhen.paradigm",
    "CueReservoir": "spikesub.whatwhen.reservoir_traces",
    "ReservoirParams": "spikesub.whatwhen.reservoir_traces",
    "TrialActivity": "spikesub.whatwhen.reservoir_traces",
    "filter_spikes": "spikesub.whatwhen.reservoir_traces",
    "plot": "spikesub.whatwhen.figures",
    "save_docs_figures": "spikesub.whatwhen.figures",
}

__all__ = sorted(name for name in _EXPORTS if name != "save_docs_figures")


__getattr__ = lazy_getattr("spikesub.whatwhen", _EXPORTS, globals())


def __dir__() -> list[str]:
    return list(__all__)
