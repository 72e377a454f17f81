"""Memory estimate of the what-and-when experiment, checked before its network is built.

In bytes, for ``N = n_neurons``:

* synapses: :func:`~spikesub.models.network.connectivity.expected_synapses` at ``connection_p``
  (no autapses) times 12 (an int32 target, the unit weight and the signed weight while they are
  drawn), plus the row pointers;
* neurons: :data:`BYTES_PER_NEURON` for the population's parameters, the reservoir's state and
  drive, and the cue encoders;
* readouts: :data:`SQUARE_MATRICES` float64 ``(N, N)`` matrices: the ``P`` of the two FORCE
  readouts, the copy of ``P`` a FORCE update keeps to roll back, the ridge readout's Gram matrix,
  its copy for the solve and the ``X^T X`` of a block;
* one trial: :data:`BYTES_PER_TRACE_VALUE` per readout step and neuron (the spike-count
  histogram in int64, the float32 traces, the float64 copies the readouts take);
* results: the weights of every readout after every block, float32 ``(blocks, 3, N)`` each.
"""

from __future__ import annotations

from typing import Any

from spikesub.models.memory import check_allocation
from spikesub.models.network.connectivity import csr_bytes, expected_synapses

__all__ = ["BYTES_PER_NEURON", "BYTES_PER_TRACE_VALUE", "SQUARE_MATRICES", "check_whatwhen_memory"]

BYTES_PER_NEURON = 40 * 8
"""About 40 float64 values per neuron: the population's parameters and initial state, the
reservoir's state, bias and noise, the draws that build them, and one encoder row per cue."""

SQUARE_MATRICES = 6
"""``(N, N)`` float64 matrices of the readouts alive at once (see the module docstring)."""

BYTES_PER_TRACE_VALUE = 8 + 4 + 3 * 8
"""Bytes per readout step and neuron of one trial (see the module docstring)."""

_N_METHODS = 4  # three-factor, FORCE, FORCE with reset, ridge
_N_OUTPUTS = 3  # "when", and "what" for two cue identities


def _longest_trial_steps(config: Any) -> int:
    """Readout steps of the longest trial the schedule can hold."""
    delays = list(config.delays_ms)
    if config.delay_switch_block is not None:
        delays.append(config.delay_switch_ms)
    return max(config.timing().n_steps(delay) for delay in delays)


def whatwhen_parts(config: Any) -> dict[str, float]:
    """The estimated bytes of the experiment of ``config``, by part (see the module docstring)."""
    n = int(config.n_neurons)
    synapses = expected_synapses(n, n, p=config.connection_p, allow_autapses=False)
    return {
        "synapses": csr_bytes(n, synapses) + 4.0 * synapses,
        "neurons": float(BYTES_PER_NEURON) * n,
        "readouts' N x N matrices": float(SQUARE_MATRICES) * 8.0 * (n + 1) ** 2,
        "one trial's traces": float(BYTES_PER_TRACE_VALUE) * _longest_trial_steps(config) * n,
        "weights per block": 4.0 * _N_METHODS * config.n_blocks * _N_OUTPUTS * n,
    }


def check_whatwhen_memory(config: Any) -> float:
    """Refuse (MemoryBudgetError) an experiment over the memory budget before it builds anything.

    Args:
        config: a validated :class:`~spikesub.whatwhen.config.WhatWhenConfig`.

    Returns:
        the estimate in bytes (within the budget).
    """
    parts = whatwhen_parts(config)
    total = sum(parts.values())
    check_allocation(
        f"what-and-when experiment with n_neurons={config.n_neurons:,} and "
        f"connection_p={config.connection_p:g}",
        total,
        parts=parts,
    )
    return total
