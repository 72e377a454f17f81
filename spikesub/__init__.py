"""spikesub: spiking neural networks, from fast reservoirs to continual learning.

The public API::

    import spikesub as ss

    reservoir = ss.IzhikevichReservoir.izhikevich_2003(800, 200, seed=1)
    result = reservoir.run(1000.0, record_state=("v",))
    ss.plot.raster(result.spikes.times_ms, result.spikes.indices, result.n_neurons,
                   excitatory=result.excitatory, path="raster.png")

Kernels live in :mod:`spikesub.kernels` (NumPy, Numba CPU, Numba CUDA), stateful models in
:mod:`spikesub.models`, spike-train metrics in :mod:`spikesub.analysis`, figures in
:mod:`spikesub.plot` (imported on first use), run folders in :mod:`spikesub.runs`, spiking
PyTorch layers in :mod:`spikesub.models.snn` (``ss.LIF``, ``ss.SpikingLinear``, ...; torch is
imported on first use).
"""

from __future__ import annotations

import importlib
from typing import Any

from spikesub import analysis, datasets, runs
from spikesub.kernels.backends import (
    BACKEND_CHOICES,
    BACKENDS,
    BackendUnavailableError,
    cuda_available,
    gpu_present,
    resolve_backend,
)
from spikesub.models.connectivity import (
    SparseWeights,
    dale_weights,
    izhikevich_2003_weights,
    random_connectivity,
    scale_weights,
)
from spikesub.models.errors import NonFiniteStateError, SpikesubError
from spikesub.models.inputs import CurrentInput, PoissonInput
from spikesub.models.monitors import SimulationResult, SpikeTrains
from spikesub.models.neurons import IZHIKEVICH_PRESETS, IzhikevichPopulation, LIFPopulation
from spikesub.models.reservoir import IzhikevichReservoir
from spikesub.readouts import FORCEReadout, RidgeReadout, ThreeFactorReadout
from spikesub.simulate import SimulationConfig, build_reservoir, simulate

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "BACKEND_CHOICES",
    "BackendUnavailableError",
    "CurrentInput",
    "FORCEReadout",
    "IZHIKEVICH_PRESETS",
    "IzhikevichPopulation",
    "IzhikevichReservoir",
    "LIFPopulation",
    "NonFiniteStateError",
    "PoissonInput",
    "RidgeReadout",
    "SimulationConfig",
    "SimulationResult",
    "SparseWeights",
    "SpikeTrains",
    "SpikesubError",
    "ThreeFactorReadout",
    "analysis",
    "build_reservoir",
    "cuda_available",
    "dale_weights",
    "datasets",
    "encoders",
    "gpu_present",
    "izhikevich_2003_weights",
    "plot",
    "random_connectivity",
    "resolve_backend",
    "runs",
    "scale_weights",
    "simulate",
]


# Spiking layers for PyTorch: torch takes seconds to import, so they load on first use.
_SNN_NAMES = (
    "LIF",
    "LeakyStep",
    "SpikingConv2d",
    "SpikingLinear",
    "from_snntorch_leaky",
    "lif_sequence",
    "register_surrogate",
    "swap_snntorch_leaky",
)
__all__ += list(_SNN_NAMES)


def __getattr__(name: str) -> Any:
    # matplotlib and torch take a moment to import: load those modules when first used
    if name == "plot":
        return importlib.import_module("spikesub.plot")
    if name == "encoders":
        return importlib.import_module("spikesub.models.encoders")
    if name in _SNN_NAMES:
        return getattr(importlib.import_module("spikesub.models.snn"), name)
    raise AttributeError(f"module 'spikesub' has no attribute {name!r}")
