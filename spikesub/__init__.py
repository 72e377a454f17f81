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

from spikesub.kernels.lazy_exports import lazy_getattr

__version__ = "0.1.0"

# Every public name and the module it comes from. Nothing is imported with the package:
# each name loads its module on first use, so ``import spikesub`` and ``spikesub --help`` stay
# fast (Numba, matplotlib and torch take from a tenth of a second to seconds to import).
_EXPORTS: dict[str, str] = {
    "BACKENDS": "spikesub.kernels.backends",
    "BACKEND_CHOICES": "spikesub.kernels.backends",
    "BackendUnavailableError": "spikesub.kernels.backends",
    "cuda_available": "spikesub.kernels.backends",
    "gpu_present": "spikesub.kernels.backends",
    "resolve_backend": "spikesub.kernels.backends",
    "SparseWeights": "spikesub.models.network.connectivity",
    "dale_weights": "spikesub.models.network.connectivity",
    "izhikevich_2003_weights": "spikesub.models.network.connectivity",
    "random_connectivity": "spikesub.models.network.connectivity",
    "scale_weights": "spikesub.models.network.connectivity",
    "MemoryBudgetError": "spikesub.models.errors",
    "NonFiniteStateError": "spikesub.models.errors",
    "RunFolderError": "spikesub.models.errors",
    "SavedModelError": "spikesub.models.errors",
    "SpikesubError": "spikesub.models.errors",
    "CurrentInput": "spikesub.models.network.inputs",
    "PoissonInput": "spikesub.models.network.inputs",
    "rate_code": "spikesub.models.network.inputs",
    "SimulationResult": "spikesub.models.network.monitors",
    "SpikeTrains": "spikesub.models.network.monitors",
    "IZHIKEVICH_PRESETS": "spikesub.models.network.neurons",
    "IzhikevichPopulation": "spikesub.models.network.neurons",
    "LIFPopulation": "spikesub.models.network.neurons",
    "InhibitoryHomeostasis": "spikesub.models.network.homeostasis",
    "lognormal_targets": "spikesub.models.network.homeostasis",
    "IzhikevichReservoir": "spikesub.models.network.reservoir",
    "PlasticNetwork": "spikesub.models.network.plasticity",
    "PlasticRun": "spikesub.models.network.plasticity",
    "RewardSTDP": "spikesub.models.network.plasticity",
    "STDP": "spikesub.models.network.plasticity",
    "LIFReservoir": "spikesub.models.network.reservoir",
    "SpikingReservoir": "spikesub.models.network.reservoir",
    "FORCEReadout": "spikesub.readouts",
    "RidgeReadout": "spikesub.readouts",
    "ThreeFactorReadout": "spikesub.readouts",
    "SimulationConfig": "spikesub.simulate.config",
    "run_job": "spikesub.jobs",
    "set_threads": "spikesub.scripting",
    "set_memory_budget": "spikesub.models.memory",
    # spiking layers for PyTorch
    "LIF": "spikesub.models.snn",
    "LeakyStep": "spikesub.models.snn",
    "SpikingConv2d": "spikesub.models.snn",
    "SpikingLinear": "spikesub.models.snn",
    "from_snntorch_leaky": "spikesub.models.snn",
    "lif_sequence": "spikesub.models.snn",
    "register_surrogate": "spikesub.models.snn",
    "swap_snntorch_leaky": "spikesub.models.snn",
    "to_batch_first": "spikesub.models.snn.layers",
    "to_time_first": "spikesub.models.snn.layers",
    # event datasets (N-MNIST, SHD, DVS Gesture) through tonic
    "event_loader": "spikesub.events",
    "load_event_dataset": "spikesub.events",
}
# Submodules reachable as attributes (``ss.plot``, ``ss.encoders``, ...).
_SUBMODULES: dict[str, str] = {
    "analysis": "spikesub.analysis",
    "config": "spikesub.config",
    "datasets": "spikesub.datasets",
    "events": "spikesub.events",
    "jobs": "spikesub.jobs",
    "encoders": "spikesub.models.snn.encoders",
    "kernels": "spikesub.kernels",
    "models": "spikesub.models",
    "nir": "spikesub.nir",
    "plot": "spikesub.plot",
    "readouts": "spikesub.readouts",
    "runs": "spikesub.runs",
    "simulate": "spikesub.simulate",
}

__all__ = sorted([*_EXPORTS, *_SUBMODULES])


__getattr__ = lazy_getattr("spikesub", _EXPORTS, globals(), _SUBMODULES)


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
