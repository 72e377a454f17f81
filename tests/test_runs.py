"""Run folders: atomic writes, JSON and npz round trips, spike files, folder names."""

from __future__ import annotations

import json
import os
import re
import stat

import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

from spikesub import runs
from spikesub.models.network.monitors import SpikeTrains
from spikesub.runs import (
    atomic_write_bytes,
    load_npz,
    load_spikes,
    make_run_dir,
    read_json,
    save_figure,
    save_spikes,
    write_json,
    write_npz,
)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def boom(*args, **kwargs):
    raise OSError("disk on fire")


# ----------------------------------------------------------------------------- atomic writes


def test_atomic_write_bytes_writes_and_replaces(tmp_path):
    path = tmp_path / "a.bin"
    assert atomic_write_bytes(path, b"first") == path
    atomic_write_bytes(str(path), b"second, longer")
    assert path.read_bytes() == b"second, longer"
    assert leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_atomic_write_gives_ordinary_permissions(tmp_path):
    path = tmp_path / "a.bin"
    atomic_write_bytes(path, b"x")
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


@pytest.mark.parametrize("broken", ["replace", "fsync"])
def test_failed_write_keeps_previous_file(tmp_path, monkeypatch, broken):
    path = tmp_path / "metrics.json"
    write_json(path, {"a": 1})
    before = path.read_bytes()
    monkeypatch.setattr(os, broken, boom)
    with pytest.raises(OSError, match="disk on fire"):
        write_json(path, {"a": 2, "b": list(range(1000))})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert read_json(path) == {"a": 1}
    assert leftovers(tmp_path) == []


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_npz(tmp_path / "x.npz", a=np.arange(3))
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_rejects_text(tmp_path):
    with pytest.raises(TypeError, match="data"):
        atomic_write_bytes(tmp_path / "a", "text")


# ----------------------------------------------------------------------------- JSON


def test_json_round_trip_with_nan_and_numpy(tmp_path):
    path = tmp_path / "m.json"
    obj = {
        "b": float("nan"),
        "a": np.float32(1.5),
        "inf": float("-inf"),
        "n": np.int64(7),
        "flag": np.bool_(True),
        "arr": np.array([[1.0, np.nan], [np.inf, 2.0]]),
        "ints": np.arange(3, dtype=np.int16),
        "nested": {"x": [np.float64(0.25), None, "s", (1, 2)], 3: "int key"},
        "path": tmp_path / "p",
    }
    write_json(path, obj)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert text.endswith("\n")
    back = read_json(path)
    assert back == {
        "a": 1.5,
        "arr": [[1.0, None], [None, 2.0]],
        "b": None,
        "flag": True,
        "inf": None,
        "ints": [0, 1, 2],
        "n": 7,
        "nested": {"3": "int key", "x": [0.25, None, "s", [1, 2]]},
        "path": str(tmp_path / "p"),
    }
    assert type(back["n"]) is int and type(back["flag"]) is bool
    # sorted keys, indent 2
    assert list(json.loads(text)) == sorted(back)
    assert text.splitlines()[1].startswith('  "a": 1.5')
    assert leftovers(tmp_path) == []


def test_json_rejects_unknown_objects(tmp_path):
    with pytest.raises(TypeError, match="object"):
        write_json(tmp_path / "x.json", {"a": object()})
    assert not (tmp_path / "x.json").exists()


# ----------------------------------------------------------------------------- npz


def test_npz_round_trip(tmp_path):
    path = tmp_path / "arrays.npz"
    arrays = {
        "f32": np.linspace(0, 1, 7, dtype=np.float32),
        "i8": np.arange(-3, 3, dtype=np.int8),
        "b": np.array([True, False]),
        "scalar": np.asarray(2.5),
        "matrix": np.arange(12.0).reshape(3, 4),
    }
    write_npz(path, **arrays)
    back = load_npz(path)
    assert set(back) == set(arrays)
    for key, value in arrays.items():
        assert back[key].dtype == value.dtype
        np.testing.assert_array_equal(back[key], value)
    assert leftovers(tmp_path) == []


def test_npz_refuses_object_arrays(tmp_path):
    with pytest.raises(TypeError, match="'bad'"):
        write_npz(tmp_path / "x.npz", bad=np.array([{}, []], dtype=object))


# ----------------------------------------------------------------------------- spikes


def test_spikes_round_trip(tmp_path):
    spikes = SpikeTrains(
        times_ms=np.array([0.1, 0.5, 2.0]),
        indices=np.array([3, 0, 3], dtype=np.int32),
        n_neurons=5,
        t_start_ms=100.0,
        duration_ms=250.0,
    )
    exc = np.array([True, True, True, False, False])
    path = tmp_path / "spikes.npz"
    save_spikes(path, spikes, excitatory=exc)
    assert set(load_npz(path)) == {
        "times_ms",
        "indices",
        "n_neurons",
        "t_start_ms",
        "duration_ms",
        "excitatory",
    }
    back, back_exc = load_spikes(path)
    assert isinstance(back, SpikeTrains)
    np.testing.assert_array_equal(back.times_ms, spikes.times_ms)
    np.testing.assert_array_equal(back.indices, spikes.indices)
    assert back.indices.dtype == np.int32
    assert (back.n_neurons, back.t_start_ms, back.duration_ms) == (5, 100.0, 250.0)
    assert type(back.n_neurons) is int
    np.testing.assert_array_equal(back_exc, exc)
    np.testing.assert_array_equal(back.counts(), [1, 0, 0, 2, 0])

    save_spikes(path, spikes)
    _, no_exc = load_spikes(path)
    assert no_exc is None


def test_save_spikes_validates(tmp_path):
    spikes = SpikeTrains(np.array([1.0]), np.array([7]), n_neurons=3)
    with pytest.raises(ValueError, match="indices"):
        save_spikes(tmp_path / "s.npz", spikes)
    ok = SpikeTrains(np.array([1.0]), np.array([1]), n_neurons=3)
    with pytest.raises(ValueError, match="excitatory"):
        save_spikes(tmp_path / "s.npz", ok, excitatory=np.ones(4, bool))
    with pytest.raises(TypeError, match="spikes"):
        save_spikes(tmp_path / "s.npz", (np.array([1.0]), np.array([1])))
    write_npz(tmp_path / "other.npz", a=np.arange(2))
    with pytest.raises(ValueError, match="missing keys"):
        load_spikes(tmp_path / "other.npz")


# ----------------------------------------------------------------------------- figures


def test_save_figure_png_readable(tmp_path):
    fig = Figure(figsize=(4.0, 3.0))
    fig.add_subplot().plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "f.png", dpi=50)
    image = matplotlib.image.imread(path)
    assert image.shape[:2] == (150, 200)
    assert leftovers(tmp_path) == []
    with pytest.raises(ValueError, match="dpi"):
        save_figure(fig, tmp_path / "g.png", dpi=0)


# ----------------------------------------------------------------------------- run folders


def test_make_run_dir_with_out(tmp_path):
    out = tmp_path / "a" / "b" / "run1"
    assert make_run_dir(out) == out and out.is_dir()
    (out / "keep.txt").write_text("x")
    assert make_run_dir(str(out)) == out  # existing folder is fine
    assert (out / "keep.txt").read_text() == "x"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="out"):
        make_run_dir(tmp_path / "file")


def test_make_run_dir_generated_names_are_unique(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    first = make_run_dir(None, prefix="sim", root=root)
    assert first.parent == root and first.is_dir()
    assert re.fullmatch(r"sim-\d{8}-\d{6}", first.name)

    monkeypatch.setattr(runs.time, "strftime", lambda fmt: "20240102-030405")
    names = [make_run_dir(None, prefix="sim", root=root).name for _ in range(3)]
    assert names == ["sim-20240102-030405", "sim-20240102-030405-2", "sim-20240102-030405-3"]
    with pytest.raises(ValueError, match="prefix"):
        make_run_dir(None, prefix="a/b", root=root)
