"""Array kernels of spikesub: plain functions over arrays, one per backend.

Each kernel ``NAME`` exists as ``NAME_numpy`` (vectorised NumPy reference),
``NAME_numba`` (compiled CPU, parallel over neurons where it pays) and
``NAME_cuda`` (launches a Numba CUDA kernel; accepts NumPy arrays, device arrays
or objects with ``__cuda_array_interface__``). All share one signature, update
their array arguments in place and return None. Arithmetic is float64 inside,
stored in the state dtype (float32 or float64), so the NumPy and Numba versions
agree bit for bit.
"""

from __future__ import annotations

from spikesub.kernels.backends import (
    BACKEND_CHOICES,
    BACKENDS,
    BackendUnavailableError,
    cuda_available,
    cuda_simulator_enabled,
    gpu_present,
    resolve_backend,
)
from spikesub.kernels.izhikevich import (
    izhikevich2003_scalar,
    izhikevich2003_scalar_cuda,
    izhikevich2003_scalar_numba,
    izhikevich2003_step_cuda,
    izhikevich2003_step_numba,
    izhikevich2003_step_numpy,
    izhikevich2003_update_cuda,
    izhikevich2003_update_numba,
    izhikevich2003_update_numpy,
    izhikevich2007_scalar,
    izhikevich2007_scalar_cuda,
    izhikevich2007_scalar_numba,
    izhikevich2007_step_cuda,
    izhikevich2007_step_numba,
    izhikevich2007_step_numpy,
    izhikevich2007_update_cuda,
    izhikevich2007_update_numba,
    izhikevich2007_update_numpy,
    izhikevich_reset_cuda,
    izhikevich_reset_numba,
    izhikevich_reset_numpy,
)
from spikesub.kernels.lif import (
    LIF_RESET_SUBTRACT,
    LIF_RESET_ZERO,
    lif_update_cuda,
    lif_update_numba,
    lif_update_numpy,
)
from spikesub.kernels.propagation import (
    csr_partition,
    csr_partition_bounds,
    csr_propagate_cuda,
    csr_propagate_numba,
    csr_propagate_numpy,
    csr_propagate_partitioned_numba,
    csr_propagate_range_numba,
    dense_propagate_cuda,
    dense_propagate_numba,
    dense_propagate_numpy,
)
from spikesub.kernels.rng import (
    key_cuda,
    key_numba,
    key_numpy,
    normal_cuda,
    normal_from_key_cuda,
    normal_from_key_numba,
    normal_numba,
    normal_numpy,
    uniform_cuda,
    uniform_from_key_cuda,
    uniform_from_key_numba,
    uniform_numba,
    uniform_numpy,
)
from spikesub.kernels.synapses import (
    double_exponential_synapse_update_cuda,
    double_exponential_synapse_update_numba,
    double_exponential_synapse_update_numpy,
    exponential_synapse_update_cuda,
    exponential_synapse_update_numba,
    exponential_synapse_update_numpy,
)

# Importing threads loads TBB, if installed, before Numba starts its pool (see threads.py).
from spikesub.kernels.threads import (
    automatic_threads,
    available_cores,
    describe_threads,
    numba_threads,
    resolve_threads,
    thread_info,
)
from spikesub.kernels.traces import (
    TRACE_ADDITIVE,
    TRACE_NEAREST,
    trace_update_cuda,
    trace_update_numba,
    trace_update_numpy,
)

__all__ = [
    # threads
    "automatic_threads",
    "available_cores",
    "describe_threads",
    "numba_threads",
    "resolve_threads",
    "thread_info",
    # backends
    "BACKENDS",
    "BACKEND_CHOICES",
    "BackendUnavailableError",
    "cuda_available",
    "cuda_simulator_enabled",
    "gpu_present",
    "resolve_backend",
    # rng
    "key_cuda",
    "key_numba",
    "key_numpy",
    "normal_cuda",
    "normal_from_key_cuda",
    "normal_numba",
    "normal_numpy",
    "normal_from_key_numba",
    "uniform_cuda",
    "uniform_from_key_cuda",
    "uniform_from_key_numba",
    "uniform_numba",
    "uniform_numpy",
    # izhikevich
    "izhikevich2003_scalar",
    "izhikevich2003_scalar_cuda",
    "izhikevich2003_scalar_numba",
    "izhikevich2003_step_cuda",
    "izhikevich2003_step_numba",
    "izhikevich2003_step_numpy",
    "izhikevich2003_update_cuda",
    "izhikevich2003_update_numba",
    "izhikevich2003_update_numpy",
    "izhikevich2007_scalar",
    "izhikevich2007_scalar_cuda",
    "izhikevich2007_scalar_numba",
    "izhikevich2007_step_cuda",
    "izhikevich2007_step_numba",
    "izhikevich2007_step_numpy",
    "izhikevich2007_update_cuda",
    "izhikevich2007_update_numba",
    "izhikevich2007_update_numpy",
    "izhikevich_reset_cuda",
    "izhikevich_reset_numba",
    "izhikevich_reset_numpy",
    # lif
    "LIF_RESET_SUBTRACT",
    "LIF_RESET_ZERO",
    "lif_update_cuda",
    "lif_update_numba",
    "lif_update_numpy",
    # synapses
    "double_exponential_synapse_update_cuda",
    "double_exponential_synapse_update_numba",
    "double_exponential_synapse_update_numpy",
    "exponential_synapse_update_cuda",
    "exponential_synapse_update_numba",
    "exponential_synapse_update_numpy",
    # traces
    "TRACE_ADDITIVE",
    "TRACE_NEAREST",
    "trace_update_cuda",
    "trace_update_numba",
    "trace_update_numpy",
    # propagation
    "csr_partition",
    "csr_partition_bounds",
    "csr_propagate_cuda",
    "csr_propagate_numba",
    "csr_propagate_numpy",
    "csr_propagate_partitioned_numba",
    "csr_propagate_range_numba",
    "dense_propagate_cuda",
    "dense_propagate_numba",
    "dense_propagate_numpy",
]

# ---------------------------------------------------------------------------
# Network kernels (spikesub.kernels.network): fused multi-step simulation loops.
# ---------------------------------------------------------------------------
from spikesub.kernels.network import (  # noqa: E402
    run_network_cuda,
    run_network_numba,
    run_network_numpy,
)

__all__ += ["run_network_cuda", "run_network_numba", "run_network_numpy"]

# Fused multi-step LIF layers (spikesub.kernels.lif_sequence): forward and backward over time.
from spikesub.kernels.lif_sequence import (  # noqa: E402
    RESET_SUBTRACT,
    RESET_ZERO,
    SURROGATE_IDS,
    lif_sequence_backward_cuda,
    lif_sequence_backward_numba,
    lif_sequence_backward_numpy,
    lif_sequence_forward_cuda,
    lif_sequence_forward_numba,
    lif_sequence_forward_numpy,
)

__all__ += [
    "RESET_SUBTRACT",
    "RESET_ZERO",
    "SURROGATE_IDS",
    "lif_sequence_backward_cuda",
    "lif_sequence_backward_numba",
    "lif_sequence_backward_numpy",
    "lif_sequence_forward_cuda",
    "lif_sequence_forward_numba",
    "lif_sequence_forward_numpy",
]

# Event-driven products for spike inputs, and readout plasticity (recursive least squares,
# the three-factor rule).
from spikesub.kernels.event_matmul import (  # noqa: E402
    event_matmul_csr_numba,
    event_matmul_cuda,
    event_matmul_numba,
    event_matmul_numpy,
    event_outer_csr_numba,
    event_outer_cuda,
    event_outer_numba,
    event_outer_numpy,
    nonzeros_by_row_numba,
    nonzeros_by_row_numpy,
)
from spikesub.kernels.plasticity import (  # noqa: E402
    rls_run_numba,
    rls_run_numpy,
    rls_update_forgetting_numba,
    rls_update_forgetting_numpy,
    rls_update_numba,
    rls_update_numpy,
    rls_update_parallel_numba,
    three_factor_run_numba,
    three_factor_run_numpy,
)

__all__ += [
    "event_matmul_csr_numba",
    "event_matmul_cuda",
    "event_matmul_numba",
    "event_matmul_numpy",
    "event_outer_csr_numba",
    "event_outer_cuda",
    "event_outer_numba",
    "event_outer_numpy",
    "nonzeros_by_row_numba",
    "nonzeros_by_row_numpy",
    "rls_run_numba",
    "rls_run_numpy",
    "rls_update_forgetting_numba",
    "rls_update_forgetting_numpy",
    "rls_update_numba",
    "rls_update_numpy",
    "rls_update_parallel_numba",
    "three_factor_run_numba",
    "three_factor_run_numpy",
]

# Closed-loop FORCE simulation (spikesub.kernels.force_loop): network, feedback, RLS readout.
from spikesub.kernels.force_loop import (  # noqa: E402
    force_loop_numba,
    force_loop_numpy,
)

__all__ += ["force_loop_numba", "force_loop_numpy"]
