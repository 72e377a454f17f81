"""Readout.save / Readout.load: one .npz that numpy reads without pickle, the same readout back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spikesub.models.errors import SavedModelError
from spikesub.readouts import FORCEReadout, Readout, RidgeReadout, ThreeFactorReadout


@pytest.mark.parametrize("cls", [RidgeReadout, FORCEReadout, ThreeFactorReadout])
def test_a_saved_readout_loads_as_it_was(tmp_path, cls):
    rng = np.random.default_rng(0)
    traces, targets = rng.random((200, 6)), rng.random((200, 2))
    readout = cls(6, 2)
    readout.fit_online(traces, targets)
    path = readout.save(tmp_path / "readout")
    assert path.name == "readout.npz"
    with np.load(path, allow_pickle=False) as data:
        assert json.loads(str(data["meta"]))["config"]["type"] == cls.__name__
    loaded = Readout.load(path)
    assert type(loaded) is cls and loaded.config() == readout.config()
    np.testing.assert_array_equal(loaded.weights, readout.weights)
    np.testing.assert_array_equal(loaded.predict(traces), readout.predict(traces))
    # learning goes on from the same state
    np.testing.assert_array_equal(
        loaded.fit_online(traces[:20], targets[:20]), readout.fit_online(traces[:20], targets[:20])
    )


def test_bad_readout_files_are_refused_naming_the_file(tmp_path):
    with pytest.raises(SavedModelError, match="missing.npz: no such file"):
        Readout.load(tmp_path / "missing.npz")
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(2))
    with pytest.raises(SavedModelError, match="other.npz: not a readable saved readout"):
        Readout.load(other)
    path = RidgeReadout(3, 1).save(tmp_path / "r.npz")
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(path.read_bytes()[:100])
    with pytest.raises(SavedModelError, match="damaged.npz"):
        Readout.load(damaged)
