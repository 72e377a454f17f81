"""Sizes are checked before allocating: random networks, reservoir runs, the what-and-when
experiment and plots of run folders refuse what would exceed the memory budget, at once.

Every refusal here happens under a small budget set by a fixture; nothing large is allocated.
"""

from __future__ import annotations

import io
import zipfile
from types import SimpleNamespace

import numpy as np
import pytest

from spikesub.models.errors import MemoryBudgetError
from spikesub.models.memory import memory_budget
from spikesub.models.network import connectivity
from spikesub.models.network.connectivity import (
    csr_bytes,
    expected_synapses,
    izhikevich_2003_weights,
    random_connectivity,
)
from spikesub.models.network.monitors import SpikeTrains
from spikesub.models.network.reservoir import IzhikevichReservoir, _run_buffer_bytes
from spikesub.plot import plot_run, raster
from spikesub.runs import save_spikes

SMALL_BUDGET = "64M"


@pytest.fixture
def small_budget():
    """A 64 MiB budget for the test; the previous setting comes back afterwards."""
    with memory_budget(SMALL_BUDGET):
        yield 64 << 20


@pytest.fixture
def no_counting_pass(monkeypatch):
    """Make the connection builders' compiled passes fail the test if they are ever called."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a counting pass ran before the size was checked")

    for name in ("_bernoulli_rows", "_in_degree_count", "_in_degree_fill"):
        monkeypatch.setattr(connectivity, name, forbidden)


# ----------------------------------------------------------------------------------------------
# random connectivity


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        (dict(n_pre=10_000_200, n_post=10_000_200, p=0.5), "p=0.5"),
        (dict(n_pre=100_000, n_post=100_000, p=1.0), "p=1"),
        (dict(n_pre=2_000_000, n_post=2_000_000, in_degree=1_000_000), "in_degree=1,000,000"),
        (dict(n_pre=10**12, n_post=1, p=1e-12), "n_pre=1,000,000,000,000"),
    ],
)
def test_oversized_networks_are_refused_before_counting(
    small_budget, no_counting_pass, kwargs, named
):
    with pytest.raises(MemoryBudgetError) as info:
        random_connectivity(**kwargs, seed=0)
    message = str(info.value)
    assert message.startswith("random_connectivity(")
    assert named in message and "synapses" in message
    assert info.value.n_bytes > small_budget


def test_in_degree_above_n_pre_is_a_parameter_error(no_counting_pass):
    with pytest.raises(ValueError, match=r"in_degree must be in \[0, 1000\]") as info:
        random_connectivity(1000, 1000, in_degree=1_000_000)
    assert not isinstance(info.value, MemoryBudgetError)
    with pytest.raises(ValueError, match=r"in_degree must be in \[0, 999\].*no autapses"):
        random_connectivity(1000, 1000, in_degree=1000, allow_autapses=False)


def test_the_budget_threshold_is_the_estimate():
    with memory_budget(1), pytest.raises(MemoryBudgetError) as info:
        random_connectivity(300, 200, p=0.2, seed=1)
    estimate = info.value.n_bytes
    with memory_budget(estimate):
        conn = random_connectivity(300, 200, p=0.2, seed=1)
    assert conn.nnz > 0
    with memory_budget(estimate - 1), pytest.raises(MemoryBudgetError):
        random_connectivity(300, 200, p=0.2, seed=1)


@pytest.mark.parametrize("p", [0.01, 0.3, 0.999, 1.0])
@pytest.mark.parametrize("allow_autapses", [True, False])
def test_expected_synapses_bounds_the_drawn_count(p, allow_autapses):
    for seed in range(3):
        conn = random_connectivity(250, 250, p=p, allow_autapses=allow_autapses, seed=seed)
        bound = expected_synapses(250, 250, p=p, allow_autapses=allow_autapses)
        assert conn.nnz <= bound
        pairs = 250 * 250 - (0 if allow_autapses else 250)
        assert bound <= pairs
        assert abs(conn.nnz - pairs * p) <= 6 * np.sqrt(pairs * p * (1 - p)) + 1


def test_expected_synapses_of_a_fixed_in_degree_is_exact():
    conn = random_connectivity(120, 90, in_degree=17, seed=4)
    assert conn.nnz == expected_synapses(120, 90, in_degree=17) == 90 * 17


def test_csr_bytes_is_the_size_of_the_result():
    conn = random_connectivity(150, 80, p=0.3, seed=2)
    actual = conn.indptr.nbytes + conn.indices.nbytes + conn.weights.nbytes
    assert csr_bytes(conn.n_pre, conn.nnz) == actual


def test_izhikevich_weights_refused_before_anything_is_drawn(small_budget, no_counting_pass):
    # a stand-in population: a real one of 10 million neurons would itself take memory
    population = SimpleNamespace(n=10_000_200, excitatory=np.zeros(0, bool))
    with pytest.raises(MemoryBudgetError, match=r"Izhikevich \(2003\).*N=10,000,200.*p=0\.5"):
        izhikevich_2003_weights(population, p=0.5, seed=0)
    with pytest.raises(MemoryBudgetError, match="in_degree=1,000,000"):
        izhikevich_2003_weights(population, in_degree=1_000_000, seed=0)


def test_izhikevich_weights_leave_bad_arguments_to_their_own_messages(small_budget):
    population = SimpleNamespace(n=100, excitatory=np.ones(100, bool))
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        izhikevich_2003_weights(population, p=1.5)
    with pytest.raises(ValueError, match="in_degree must be in"):
        izhikevich_2003_weights(population, in_degree=101)


# ----------------------------------------------------------------------------------------------
# reservoir runs


@pytest.fixture(scope="module")
def small_reservoir():
    return IzhikevichReservoir.izhikevich_2003(40, 10, dt_ms=0.5, backend="numpy", seed=3)


@pytest.mark.parametrize(
    ("dt_ms", "duration_ms"), [(1e-7, 1000.0), (0.1, 1e12)], ids=["tiny-dt", "huge-duration"]
)
def test_run_refuses_absurd_recording_buffers(small_budget, dt_ms, duration_ms):
    reservoir = IzhikevichReservoir.izhikevich_2003(40, 10, dt_ms=dt_ms, backend="numpy")
    with pytest.raises(MemoryBudgetError) as info:
        reservoir.run(duration_ms, record_state=("v",), progress=False)
    message = str(info.value)
    assert f"duration_ms={duration_ms:g}" in message and f"dt_ms={dt_ms:g}" in message
    assert reservoir.step == 0  # nothing ran


def test_run_buffer_estimate_is_what_run_allocates(small_reservoir):
    small_reservoir.reset_state()
    result = small_reservoir.run(
        20.0, record_state=("v", "u"), record_indices=[0, 7, 9], record_every=3, progress=False
    )
    n_steps = result.population_counts.shape[0]
    n_samples = result.state["v"].shape[0]
    allocated = result.population_counts.nbytes + result.state["v"].nbytes
    allocated += result.state["u"].nbytes
    estimate = _run_buffer_bytes(n_steps, n_samples, 3, small_reservoir.dtype, None, 50)
    assert estimate == allocated


def test_run_buffer_estimate_counts_the_copy_of_a_current_array():
    n_steps, n = 100, 50
    base = _run_buffer_bytes(n_steps, 0, 0, np.float32, None, n)
    as_float64 = np.zeros((n_steps, n))
    assert _run_buffer_bytes(n_steps, 0, 0, np.float32, as_float64, n) == base
    as_float32 = np.zeros((n_steps, n), np.float32)
    copy = np.asarray(as_float32, dtype=np.float64).nbytes
    assert _run_buffer_bytes(n_steps, 0, 0, np.float32, as_float32, n) == base + copy
    constant = np.zeros(n, np.float32)  # one value per neuron: nothing per step
    assert _run_buffer_bytes(n_steps, 0, 0, np.float32, constant, n) == base


def test_run_within_the_budget_still_runs(small_reservoir, small_budget):
    small_reservoir.reset_state()
    result = small_reservoir.run(10.0, record_state=("v",), progress=False)
    assert result.population_counts.shape == (20,)


# ----------------------------------------------------------------------------------------------
# the what-and-when experiment


def test_whatwhen_refuses_an_oversized_network_before_building_it(
    tmp_path, small_budget, no_counting_pass
):
    from spikesub.whatwhen.config import WhatWhenConfig
    from spikesub.whatwhen.run import run as run_whatwhen

    config = WhatWhenConfig.quick(n_neurons=100_000_000)
    with pytest.raises(MemoryBudgetError) as info:
        run_whatwhen(config, tmp_path / "run", progress=False)
    message = str(info.value)
    assert "n_neurons=100,000,000" in message
    assert "readouts' N x N matrices" in message and "synapses" in message
    assert not (tmp_path / "run" / "config.json").exists()


def test_whatwhen_estimate_covers_the_readouts_it_builds():
    from spikesub.readouts import FORCEReadout, RidgeReadout
    from spikesub.whatwhen.config import WhatWhenConfig
    from spikesub.whatwhen.sizes import whatwhen_parts

    n = 60
    config = WhatWhenConfig.quick(n_neurons=n)
    force = FORCEReadout(n, 3, backend="numpy")
    ridge = RidgeReadout(n, 3)
    built = 2 * force.P.nbytes + 2 * ridge._gram.nbytes  # two FORCE readouts, gram and its copy
    assert whatwhen_parts(config)["readouts' N x N matrices"] >= built


def test_whatwhen_default_size_fits_a_small_budget():
    from spikesub.whatwhen.config import WhatWhenConfig
    from spikesub.whatwhen.sizes import check_whatwhen_memory

    with memory_budget("512M"):
        total = check_whatwhen_memory(WhatWhenConfig())
    assert 0 < total < 512 << 20


# ----------------------------------------------------------------------------------------------
# plots of run folders


def test_plot_run_refuses_a_folder_claiming_1e12_neurons(tmp_path, small_budget):
    spikes = SpikeTrains(
        np.array([1.0, 2.0]), np.array([0, 5], np.int32), n_neurons=10**12, duration_ms=100.0
    )
    save_spikes(tmp_path / "spikes.npz", spikes)
    with pytest.raises(MemoryBudgetError, match=r"raster plot \(n_neurons=1,000,000,000,000"):
        plot_run(tmp_path)
    assert not (tmp_path / "raster.png").exists()


def test_plot_run_refuses_an_absurd_duration(tmp_path, small_budget):
    spikes = SpikeTrains(np.array([1.0]), np.array([0], np.int32), n_neurons=10, duration_ms=1e15)
    save_spikes(tmp_path / "spikes.npz", spikes)
    with pytest.raises(MemoryBudgetError, match=r"duration_ms=1e\+15"):
        plot_run(tmp_path)


def test_raster_refuses_a_spike_far_in_the_future(small_budget):
    with pytest.raises(MemoryBudgetError, match="bins"):
        raster(np.array([0.0, 1e14]), np.array([0, 1]), 2)


def _npy_header_only(shape, dtype) -> bytes:
    """The bytes of an ``.npy`` header declaring ``shape`` and ``dtype``, without the data."""
    buffer = io.BytesIO()
    header = {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def test_plot_run_refuses_npz_arrays_from_their_headers(tmp_path, small_budget):
    with zipfile.ZipFile(tmp_path / "state.npz", "w") as archive:
        archive.writestr("times_ms.npy", _npy_header_only((10**12,), np.float64) + b"\0" * 64)
        archive.writestr("indices.npy", _npy_header_only((1,), np.int64) + b"\0" * 8)
    with pytest.raises(MemoryBudgetError, match=r"state.npz.*headers declare"):
        plot_run(tmp_path)


def test_plot_run_refuses_a_compressed_npz_that_unpacks_too_far(tmp_path):
    zeros = np.zeros(4 << 20)  # 32 MiB of zeros, a few KiB compressed
    np.savez_compressed(tmp_path / "state.npz", times_ms=zeros, indices=np.zeros(1, np.int64))
    assert (tmp_path / "state.npz").stat().st_size < 1 << 20
    with memory_budget("16M"), pytest.raises(MemoryBudgetError, match="state.npz"):
        plot_run(tmp_path)


def test_plot_run_refuses_a_file_that_is_not_an_npz(tmp_path):
    (tmp_path / "spikes.npz").write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match=r"spikes.npz is not a readable .npz"):
        plot_run(tmp_path)
