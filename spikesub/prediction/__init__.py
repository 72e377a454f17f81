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

from typing import Any

from spikesub.prediction.experiment import (
    METHODS,
    WhatWhenConfig,
    WhatWhenDivergedError,
    compute_metrics,
    measure_trial,
    run_whatwhen,
)
from spikesub.prediction.metrics import (
    linear_fit,
    peak,
    principal_angles_deg,
    random_subspace_angles_deg,
    trailing_mean,
    trials_to_recover,
)
from spikesub.prediction.paradigm import (
    OUTPUT_NAMES,
    Schedule,
    Switch,
    Trial,
    TrialTiming,
    make_schedule,
    trial_targets,
)
from spikesub.prediction.reservoir_traces import (
    CueReservoir,
    ReservoirParams,
    TrialActivity,
    filter_spikes,
)

__all__ = [
    "METHODS",
    "OUTPUT_NAMES",
    "CueReservoir",
    "ReservoirParams",
    "Schedule",
    "Switch",
    "Trial",
    "TrialActivity",
    "TrialTiming",
    "WhatWhenConfig",
    "WhatWhenDivergedError",
    "compute_metrics",
    "filter_spikes",
    "linear_fit",
    "make_schedule",
    "measure_trial",
    "peak",
    "plot_whatwhen",
    "principal_angles_deg",
    "random_subspace_angles_deg",
    "run_whatwhen",
    "trailing_mean",
    "trial_targets",
    "trials_to_recover",
]


def __getattr__(name: str) -> Any:
    # figures import matplotlib: load them on first use
    if name in ("plot_whatwhen", "save_docs_figures"):
        from spikesub.prediction import figures

        return getattr(figures, name)
    raise AttributeError(f"module 'spikesub.prediction' has no attribute {name!r}")
