"""Array kernels of spikesub: plain functions over arrays, one per backend.

Each kernel ``NAME`` exists as ``NAME_numpy`` (vectorised NumPy reference),
``NAME_numba`` (compiled CPU, parallel over neurons where it pays) and
``NAME_cuda`` (launches a Numba CUDA kernel; accepts NumPy arrays, device arrays
or objects with ``__cuda_array_interface__``). All share one signature, update
their array arguments in place and return None. Arithmetic is float64 inside,
stored in the state dtype (float32 or float64), so the NumPy and Numba versions
agree bit for bit.

Nothing is imported with the package: each name loads its module on first use (so that
``spikesub.kernels.errors`` or ``spikesub.kernels.backends`` cost no Numba import). Every
module that runs parallel loops imports :mod:`spikesub.kernels.threads` first, which loads TBB
before Numba starts its thread pool.
"""

from __future__ import annotations

from spikesub.kernels.lazy_exports import lazy_getattr

_EXPORTS: dict[str, str] = {
    "BACKEND_CHOICES": "spikesub.kernels.backends",
    "BACKENDS": "spikesub.kernels.backends",
    "BackendUnavailableError": "spikesub.kernels.backends",
    "cuda_available": "spikesub.kernels.backends",
    "cuda_simulator_enabled": "spikesub.kernels.backends",
    "gpu_present": "spikesub.kernels.backends",
    "resolve_backend": "spikesub.kernels.backends",
    "izhikevich2003_scalar": "spikesub.kernels.izhikevich",
    "izhikevich2003_scalar_cuda": "spikesub.kernels.izhikevich",
    "izhikevich2003_scalar_numba": "spikesub.kernels.izhikevich",
    "izhikevich2003_step_cuda": "spikesub.kernels.izhikevich",
    "izhikevich2003_step_numba": "spikesub.kernels.izhikevich",
    "izhikevich2003_step_numpy": "spikesub.kernels.izhikevich",
    "izhikevich2003_update_cuda": "spikesub.kernels.izhikevich",
    "izhikevich2003_update_numba": "spikesub.kernels.izhikevich",
    "izhikevich2003_update_numpy": "spikesub.kernels.izhikevich",
    "izhikevich2007_scalar": "spikesub.kernels.izhikevich",
    "izhikevich2007_scalar_cuda": "spikesub.kernels.izhikevich",
    "izhikevich2007_scalar_numba": "spikesub.kernels.izhikevich",
    "izhikevich2007_step_cuda": "spikesub.kernels.izhikevich",
    "izhikevich2007_step_numba": "spikesub.kernels.izhikevich",
    "izhikevich2007_step_numpy": "spikesub.kernels.izhikevich",
    "izhikevich2007_update_cuda": "spikesub.kernels.izhikevich",
    "izhikevich2007_update_numba": "spikesub.kernels.izhikevich",
    "izhikevich2007_update_numpy": "spikesub.kernels.izhikevich",
    "izhikevich_reset_cuda": "spikesub.kernels.izhikevich",
    "izhikevich_reset_numba": "spikesub.kernels.izhikevich",
    "izhikevich_reset_numpy": "spikesub.kernels.izhikevich",
    "LIF_RESET_SUBTRACT": "spikesub.kernels.lif",
    "LIF_RESET_ZERO": "spikesub.kernels.lif",
    "lif_update_cuda": "spikesub.kernels.lif",
    "lif_update_numba": "spikesub.kernels.lif",
    "lif_update_numpy": "spikesub.kernels.lif",
    "csr_partition": "spikesub.kernels.propagation",
    "csr_partition_bounds": "spikesub.kernels.propagation",
    "csr_propagate_cuda": "spikesub.kernels.propagation",
    "csr_propagate_numba": "spikesub.kernels.propagation",
    "csr_propagate_numpy": "spikesub.kernels.propagation",
    "csr_propagate_partitioned_numba": "spikesub.kernels.propagation",
    "csr_propagate_range_numba": "spikesub.kernels.propagation",
    "dense_propagate_cuda": "spikesub.kernels.propagation",
    "dense_propagate_numba": "spikesub.kernels.propagation",
    "dense_propagate_numpy": "spikesub.kernels.propagation",
    "key_cuda": "spikesub.kernels.rng",
    "key_numba": "spikesub.kernels.rng",
    "key_numpy": "spikesub.kernels.rng",
    "normal_cuda": "spikesub.kernels.rng",
    "normal_from_key_cuda": "spikesub.kernels.rng",
    "normal_from_key_numba": "spikesub.kernels.rng",
    "normal_numba": "spikesub.kernels.rng",
    "normal_numpy": "spikesub.kernels.rng",
    "uniform_cuda": "spikesub.kernels.rng",
    "uniform_from_key_cuda": "spikesub.kernels.rng",
    "uniform_from_key_numba": "spikesub.kernels.rng",
    "uniform_numba": "spikesub.kernels.rng",
    "uniform_numpy": "spikesub.kernels.rng",
    "double_exponential_synapse_update_cuda": "spikesub.kernels.synapses",
    "double_exponential_synapse_update_numba": "spikesub.kernels.synapses",
    "double_exponential_synapse_update_numpy": "spikesub.kernels.synapses",
    "exponential_synapse_update_cuda": "spikesub.kernels.synapses",
    "exponential_synapse_update_numba": "spikesub.kernels.synapses",
    "exponential_synapse_update_numpy": "spikesub.kernels.synapses",
    "automatic_threads": "spikesub.kernels.threads",
    "available_cores": "spikesub.kernels.threads",
    "describe_threads": "spikesub.kernels.threads",
    "numba_threads": "spikesub.kernels.threads",
    "resolve_threads": "spikesub.kernels.threads",
    "thread_info": "spikesub.kernels.threads",
    "TRACE_ADDITIVE": "spikesub.kernels.traces",
    "TRACE_NEAREST": "spikesub.kernels.traces",
    "trace_update_cuda": "spikesub.kernels.traces",
    "trace_update_numba": "spikesub.kernels.traces",
    "trace_update_numpy": "spikesub.kernels.traces",
    "run_network_cuda": "spikesub.kernels.network",
    "run_network_numba": "spikesub.kernels.network",
    "run_network_numpy": "spikesub.kernels.network",
    "RESET_SUBTRACT": "spikesub.kernels.lif_sequence",
    "RESET_ZERO": "spikesub.kernels.lif_sequence",
    "SURROGATE_IDS": "spikesub.kernels.lif_sequence",
    "lif_sequence_backward_cuda": "spikesub.kernels.lif_sequence",
    "lif_sequence_backward_numba": "spikesub.kernels.lif_sequence",
    "lif_sequence_backward_numpy": "spikesub.kernels.lif_sequence",
    "lif_sequence_forward_cuda": "spikesub.kernels.lif_sequence",
    "lif_sequence_forward_numba": "spikesub.kernels.lif_sequence",
    "lif_sequence_forward_numpy": "spikesub.kernels.lif_sequence",
    "event_matmul_csr_numba": "spikesub.kernels.event_matmul",
    "event_matmul_cuda": "spikesub.kernels.event_matmul",
    "event_matmul_numba": "spikesub.kernels.event_matmul",
    "event_matmul_numpy": "spikesub.kernels.event_matmul",
    "event_outer_csr_numba": "spikesub.kernels.event_matmul",
    "event_outer_cuda": "spikesub.kernels.event_matmul",
    "event_outer_numba": "spikesub.kernels.event_matmul",
    "event_outer_numpy": "spikesub.kernels.event_matmul",
    "nonzeros_by_row_numba": "spikesub.kernels.event_matmul",
    "nonzeros_by_row_numpy": "spikesub.kernels.event_matmul",
    "rls_run_numba": "spikesub.kernels.plasticity",
    "rls_run_numpy": "spikesub.kernels.plasticity",
    "rls_update_forgetting_numba": "spikesub.kernels.plasticity",
    "rls_update_forgetting_numpy": "spikesub.kernels.plasticity",
    "rls_update_numba": "spikesub.kernels.plasticity",
    "rls_update_numpy": "spikesub.kernels.plasticity",
    "rls_update_parallel_numba": "spikesub.kernels.plasticity",
    "three_factor_run_numba": "spikesub.kernels.plasticity",
    "three_factor_run_numpy": "spikesub.kernels.plasticity",
    "force_loop_numba": "spikesub.kernels.force_loop",
    "force_loop_numpy": "spikesub.kernels.force_loop",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr("spikesub.kernels", _EXPORTS, globals())


def __dir__() -> list[str]:
    return list(__all__)
