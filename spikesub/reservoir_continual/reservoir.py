"""The one fixed spiking reservoir every task and method of a run shares, and its traces.

A LIF reservoir (``tau = 20`` ms, threshold 1, reset 0, 2 ms refractory; sparse Gaussian
recurrent weights, ``p = 0.1``, scaled to a spectral radius; exponential synapses), every
neuron with a bias current ``bias + bias_spread * U(-1, 1)``, driven through a dense random
encoder (:func:`spikesub.rc.model.random_encoder`) from all tasks' input channels. The
readout reads the reservoir's spike traces (time constant ``tau_trace_ms``) once per input
sample, through :class:`spikesub.rc.model.SpikingReservoirModel`. The reservoir never
learns: only the readout does.
"""

from __future__ import annotations

import numpy as np

from spikesub.models.network.connectivity import random_connectivity
from spikesub.models.network.neurons import LIFPopulation
from spikesub.models.network.reservoir import LIFReservoir
from spikesub.rc.model import SpikingReservoirModel, random_encoder
from spikesub.reservoir_continual.tasks import Trials

__all__ = ["build_reservoir", "record"]


def build_reservoir(
    n_neurons: int,
    n_channels: int,
    *,
    seed: int,
    spectral_radius: float = 0.3,
    input_scaling: float = 1.0,
    bias: float = 0.9,
    bias_spread: float = 0.3,
    tau_syn_ms: float = 5.0,
    tau_trace_ms: float = 10.0,
    sample_ms: float = 5.0,
    dt_ms: float = 0.5,
    backend: str = "numba",
) -> SpikingReservoirModel:
    """The reservoir (weights, biases and encoder drawn from ``seed``) and its trace reader."""
    rng = np.random.default_rng([seed, 7])
    seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=4)]
    population = LIFPopulation(
        n_neurons, tau_ms=20.0, v_rest=0.0, v_th=1.0, v_reset=0.0, refractory_ms=2.0
    )
    connectivity = random_connectivity(n_neurons, n_neurons, p=0.1, seed=seeds[0])
    gauss = np.random.default_rng(seeds[1]).standard_normal(connectivity.nnz)
    weights = connectivity.with_weights(gauss.astype(np.float32))
    weights = weights.scaled_to_spectral_radius(spectral_radius)
    currents = bias + bias_spread * rng.uniform(-1.0, 1.0, n_neurons)
    reservoir = LIFReservoir(
        population, weights, bias_current=currents, synapse="exponential",
        tau_syn_ms=tau_syn_ms, dt_ms=dt_ms, backend=backend, seed=seeds[2],
    )  # fmt: skip
    encoder = random_encoder(n_neurons, n_channels, scaling=input_scaling, seed=seeds[3])
    return SpikingReservoirModel(reservoir, encoder, sample_ms=sample_ms, tau_ms=tau_trace_ms)


def record(model: SpikingReservoirModel, trials: Trials) -> np.ndarray:
    """The reservoir's traces during ``trials``: ``(n_trials, trial_samples, n_features)``
    float64, row ``s`` of a trial read after its sample ``s`` (the reservoir runs on from
    trial to trial, as it would in a stream)."""
    traces = model.run(trials.signal)
    return traces.reshape(len(trials.labels), trials.trial_samples, -1)
