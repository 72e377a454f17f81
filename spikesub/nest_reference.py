"""NEST reference simulations of spikesub reservoirs (optional: ``pip install nest-simulator``).

:func:`run_nest` rebuilds an Izhikevich (2003) reservoir
(:class:`~spikesub.models.network.reservoir.IzhikevichReservoir`) in NEST 3, model ``izhikevich``
(same neurons, initial state, weights, bias and noise statistics), and runs it, for the
benchmark's third column. NEST is imported only when a function of this module is called.

The model is the same up to two details of NEST's ``izhikevich`` (with
``consistent_integration=True``, the forward Euler step of spikesub and Brian2):

* a spike reaches its targets after NEST's minimal delay of one step and is added to ``v`` in
  their next update, where spikesub and Brian2 add it at the end of the step it was fired in,
  before the reset: a neuron that fires in the step it receives a spike keeps that input in
  NEST and loses it to the reset in the others;
* the noise comes from one ``noise_generator`` per population (standard deviation of the
  reservoir, redrawn every ``noise_interval_ms``, independent for every neuron), and NEST's
  current input takes effect one step after it is drawn.

Runs agree with spikesub in statistics (firing rates), not spike for spike.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikesub.models.network.monitors import SpikeTrains

__all__ = ["NestRun", "import_nest", "nest_available", "run_nest"]

_INSTALL_HINT = "pip install nest-simulator"


def import_nest() -> Any:
    """Import and return the ``nest`` module (without its start-up banner).

    Raises:
        ImportError: NEST is not installed; the message says how to install it.
    """
    os.environ.setdefault("PYNEST_QUIET", "1")
    try:
        import nest
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"the NEST reference needs NEST 3: {_INSTALL_HINT}") from exc
    levels = getattr(nest, "VerbosityLevel", None)
    if levels is not None:  # NEST 3.10; older: nest.set_verbosity("M_ERROR")
        nest.verbosity = levels.ERROR
    return nest


def nest_available() -> bool:
    """True when NEST can be imported."""
    try:
        import_nest()
    except ImportError:
        return False
    return True


@dataclass
class NestRun:
    """Outcome of one NEST reference run.

    Attributes:
        spikes: spike trains of the whole network, at the steps they were fired in.
        build_s: wall time in s to create the neurons, generators and recorder and to connect
            them (the synapses from arrays).
        run_s: wall time in s of ``nest.Simulate(duration)``.
        run_cpu_s: CPU time in s of this process during it (all of NEST's threads).
        threads: NEST's ``local_num_threads``.
        n_synapses: recurrent synapses.
        dt_ms: time step in ms.
        duration_ms: simulated time in ms.
    """

    spikes: SpikeTrains
    build_s: float
    run_s: float
    run_cpu_s: float
    threads: int
    n_synapses: int
    dt_ms: float
    duration_ms: float


def _check(reservoir: Any, duration_ms: Any, threads: Any) -> int:
    """Number of steps; refuses what the NEST network cannot reproduce."""
    if getattr(reservoir, "synapse", "delta") != "delta":
        raise ValueError(
            f"synapse must be 'delta' for the NEST reference; got {reservoir.synapse!r}"
        )
    population = reservoir.population
    if "2003" not in str(population.form):
        raise ValueError(f"the NEST reference needs the 2003 form; got {population.form!r}")
    if int(np.max(population.n_substeps)) != 1:
        raise ValueError("n_substeps must be 1 for the NEST reference")
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1; got {threads!r}")
    if isinstance(duration_ms, bool) or not isinstance(duration_ms, (int, float, np.number)):
        raise TypeError(f"duration_ms must be a number of ms; got {type(duration_ms).__name__}")
    dt_ms = float(reservoir.dt_ms)
    n_steps = int(round(float(duration_ms) / dt_ms))
    if not duration_ms > 0 or abs(n_steps * dt_ms - duration_ms) > 1e-9 * max(1.0, duration_ms):
        raise ValueError(f"duration_ms must be a whole number > 0 of steps of {dt_ms}")
    return n_steps


def _noise_groups(noise_std: np.ndarray) -> dict[float, np.ndarray]:
    """Neuron indices by noise standard deviation (one generator each; 0 has none)."""
    return {float(s): np.flatnonzero(noise_std == s) for s in np.unique(noise_std) if s > 0}


def run_nest(
    reservoir: Any, duration_ms: float, *, threads: int = 1, seed: int | None = None
) -> NestRun:
    """Simulate an Izhikevich (2003) reservoir with delta synapses in NEST and time it.

    Args:
        reservoir: an ``IzhikevichReservoir`` of the 2003 form, ``synapse="delta"``, one
            sub-step; its bias is NEST's ``I_e``; no external current.
        duration_ms: simulated time in ms, a whole number > 0 of steps of ``reservoir.dt_ms``.
        threads: NEST's ``local_num_threads``.
        seed: NEST's ``rng_seed`` (1 .. 2**31 - 1); defaults to the reservoir's seed + 1.

    Returns:
        A :class:`NestRun`.

    Raises:
        ImportError: NEST is not installed.
        ValueError: the reservoir is not a one-sub-step 2003-form network with delta synapses,
            or ``duration_ms`` / ``threads`` are out of range.
    """
    n_steps = _check(reservoir, duration_ms, threads)
    nest = import_nest()
    population = reservoir.population
    n = int(reservoir.n_neurons)
    dt_ms = float(reservoir.dt_ms)
    if seed is None:
        seed = int(getattr(reservoir, "seed", 0))
    t0 = time.perf_counter()
    nest.ResetKernel()
    nest.SetKernelStatus(
        {
            "resolution": dt_ms,
            "local_num_threads": int(threads),
            "rng_seed": int(seed) % (2**31 - 2) + 1,
            "print_time": False,
        }
    )
    neurons = nest.Create(
        "izhikevich", n, params={"V_th": float(population.v_peak), "consistent_integration": True}
    )
    neurons.set(
        a=np.asarray(population.a, float),
        b=np.asarray(population.b, float),
        c=np.asarray(population.c, float),
        d=np.asarray(population.d, float),
        V_m=np.asarray(population.v_init, float),
        U_m=np.asarray(population.u_init, float),
        I_e=np.broadcast_to(np.asarray(reservoir.bias_current, float), (n,)).copy(),
    )
    noise_std = np.broadcast_to(np.asarray(reservoir.noise_std, float), (n,))
    for std, members in _noise_groups(noise_std).items():
        generator = nest.Create(
            "noise_generator",
            params={"mean": 0.0, "std": std, "dt": float(reservoir.noise_interval_ms)},
        )
        nest.Connect(generator, neurons[members.tolist()])
    first = neurons[0].global_id
    pre, post = reservoir.weights.pre_post()
    weights = np.asarray(reservoir.weights.weights, dtype=np.float64)
    if weights.size:
        nest.Connect(
            np.asarray(pre, dtype=np.int64) + first,
            np.asarray(post, dtype=np.int64) + first,
            "one_to_one",
            syn_spec={
                "synapse_model": "static_synapse",
                "weight": weights,
                "delay": np.full(weights.size, dt_ms),
            },
        )
    del pre, post
    recorder = nest.Create("spike_recorder")
    nest.Connect(neurons, recorder)
    build_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    c0 = time.process_time()
    nest.Simulate(n_steps * dt_ms)
    run_s = time.perf_counter() - t0
    run_cpu_s = time.process_time() - c0

    events = recorder.get("events")
    # NEST stamps a spike at the end of its step: step n fires at (n + 1) * dt
    steps = np.rint(np.asarray(events["times"], float) / dt_ms).astype(np.int64) - 1
    idx = (np.asarray(events["senders"], np.int64) - first).astype(np.int32)
    order = np.lexsort((idx, steps))
    spikes = SpikeTrains(
        times_ms=steps[order] * dt_ms,
        indices=idx[order],
        n_neurons=n,
        t_start_ms=0.0,
        duration_ms=n_steps * dt_ms,
    )
    return NestRun(
        spikes=spikes,
        build_s=build_s,
        run_s=run_s,
        run_cpu_s=run_cpu_s,
        threads=int(threads),
        n_synapses=int(weights.size),
        dt_ms=dt_ms,
        duration_ms=n_steps * dt_ms,
    )
