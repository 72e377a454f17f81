"""IzhikevichReservoir.save / load: one .npz without pickle, bit-for-bit continuation, errors."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from reservoir_cases import assert_same_result, assert_same_state, final_state, net_2007

from spikesub.models.errors import SavedModelError
from spikesub.models.network.reservoir import IzhikevichReservoir


def _izhikevich(backend="numba"):
    return IzhikevichReservoir.izhikevich_2003(80, 20, seed=5, backend=backend, dtype=np.float64)


@pytest.mark.parametrize("factory", ["2003", "2007"])
def test_a_loaded_reservoir_continues_bit_for_bit(tmp_path, factory):
    def build():
        if factory == "2003":
            return _izhikevich(), 100.0
        res, args = net_2007("numba", dtype=np.float64)
        return res, args["duration_ms"] / 2

    whole, half = build()
    reference = whole.run(2 * half, record_state="v")
    first, _ = build()
    first.run(half)
    path = first.save(tmp_path / "reservoir")
    assert path.name == "reservoir.npz"
    loaded = IzhikevichReservoir.load(path)
    assert loaded.step == first.step and loaded.backend == first.backend
    np.testing.assert_array_equal(loaded.weights.to_dense(), first.weights.to_dense())
    assert_same_state(final_state(loaded), final_state(first))
    rest = loaded.run(half, record_state="v")
    # the second half of the uninterrupted run, from the loaded reservoir
    split = reference.spikes.times_ms >= half * 1.0 - 1e-9
    np.testing.assert_array_equal(rest.spikes.times_ms, reference.spikes.times_ms[split])
    np.testing.assert_array_equal(rest.spikes.indices, reference.spikes.indices[split])
    n_half = int(round(half / whole.dt_ms))
    np.testing.assert_array_equal(rest.state["v"], reference.state["v"][n_half:])
    assert_same_state(final_state(loaded), final_state(whole))


def test_the_file_needs_no_pickle_and_says_what_it_is(tmp_path):
    res = _izhikevich()
    path = res.save(tmp_path / "r.npz")
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        assert data["weights.indices"].dtype == np.int32
    assert meta["format"] == "spikesub-reservoir" and meta["version"] == 1
    assert meta["settings"]["seed"] == 5 and meta["backend"] == "numba"
    again = IzhikevichReservoir.load(path, backend="numpy")
    assert again.backend == "numpy"
    assert_same_result(again.run(20.0), _izhikevich("numpy").run(20.0))
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed


def test_bad_files_are_refused_naming_the_file(tmp_path):
    with pytest.raises(SavedModelError, match="no such file"):
        IzhikevichReservoir.load(tmp_path / "missing.npz")
    path = _izhikevich().save(tmp_path / "r.npz")
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(path.read_bytes()[:500])
    with pytest.raises(SavedModelError, match="damaged.npz: not a readable saved reservoir"):
        IzhikevichReservoir.load(damaged)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(SavedModelError, match="other.npz: not a saved reservoir"):
        IzhikevichReservoir.load(other)
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(str(arrays["meta"]))
    arrays["meta"] = np.array(json.dumps({**meta, "version": 99}))
    newer = tmp_path / "newer.npz"
    np.savez(newer, **arrays)
    with pytest.raises(SavedModelError, match="format version 99"):
        IzhikevichReservoir.load(newer)
    arrays["meta"] = np.array(json.dumps(meta))
    arrays["state.v"] = arrays["state.v"][:5]
    broken = tmp_path / "broken.npz"
    np.savez(broken, **arrays)
    with pytest.raises(SavedModelError, match="broken.npz: its contents do not fit together"):
        IzhikevichReservoir.load(broken)
    assert zipfile.is_zipfile(path)
