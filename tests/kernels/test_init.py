"""The kernels package: exports, and one signature per kernel across its three versions."""

from __future__ import annotations

import inspect

import pytest

import spikesub.kernels as kernels

FAMILIES = [
    "izhikevich2003_update",
    "izhikevich2007_update",
    "izhikevich_reset",
    "izhikevich2003_step",
    "izhikevich2007_step",
    "lif_update",
    "exponential_synapse_update",
    "double_exponential_synapse_update",
    "trace_update",
    "csr_propagate",
    "dense_propagate",
]


def _parameters(fn):
    fn = getattr(fn, "py_func", fn)  # Numba dispatchers keep the Python function
    return list(inspect.signature(fn).parameters)


def test_all_names_are_exported():
    assert len(set(kernels.__all__)) == len(kernels.__all__)
    for name in kernels.__all__:
        assert getattr(kernels, name) is not None, name


@pytest.mark.parametrize("family", FAMILIES)
def test_three_versions_share_one_signature(family):
    versions = [getattr(kernels, f"{family}_{backend}") for backend in ("numpy", "numba", "cuda")]
    numpy_params = _parameters(versions[0])
    for fn in versions[1:]:
        assert _parameters(fn) == numpy_params


def test_step_signatures_put_c_d_after_b():
    params = _parameters(kernels.izhikevich2003_step_numpy)
    assert params == [
        "v", "u", "current", "a", "b", "c", "d", "dt_ms", "n_substeps", "v_peak", "spiked",
    ]  # fmt: skip
    params = _parameters(kernels.izhikevich2007_step_numpy)
    assert params[params.index("b") + 1 : params.index("b") + 3] == ["c", "d"]


def test_partitioned_kernel_and_range_function_signatures():
    assert _parameters(kernels.csr_propagate_partitioned_numba) == [
        "spike_idx", "n_spikes", "indptr", "indices", "weights", "splits", "out",
    ]  # fmt: skip
    assert _parameters(kernels.csr_propagate_range_numba) == [
        "spike_idx", "n_spikes", "indptr", "indices", "weights", "splits", "part", "out",
    ]  # fmt: skip


def test_mode_constants():
    assert (kernels.LIF_RESET_ZERO, kernels.LIF_RESET_SUBTRACT) == (0, 1)
    assert (kernels.TRACE_ADDITIVE, kernels.TRACE_NEAREST) == (0, 1)
