"""The event-dataset loaders, on tiny files written in each dataset's own on-disk format."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tonic")
torch = pytest.importorskip("torch")

from spikesub import events as ev  # noqa: E402
from spikesub.models.snn.layers import SpikingLinear  # noqa: E402


def test_nmnist_file_is_read_by_tonic_and_binned_from_time_zero(tmp_path):
    # three events: (x, y, t_us, p)
    ev.write_nmnist_file(
        tmp_path / "NMNIST" / "Train" / "7" / "00001.bin",
        x=[0, 33, 5],
        y=[1, 2, 33],
        t_us=[1500, 2500, 4999],
        p=[1, 0, 1],
    )
    data = ev.load_event_dataset("nmnist", tmp_path, dt_ms=1.0)
    assert len(data) == 1
    frames, label = data[0]
    assert label == 7 and frames.dtype == torch.float32
    assert frames.shape == (5, 2, 34, 34)  # bins 0-4: the last event is at 4.999 ms
    assert frames.sum() == 3
    assert frames[1, 1, 1, 0] == 1 and frames[2, 0, 2, 33] == 1 and frames[4, 1, 33, 5] == 1


def test_our_binning_equals_tonics_to_frame_from_time_zero(tmp_path):
    import tonic

    ev.write_synthetic_dataset("nmnist", tmp_path, per_class=1, seed=3)
    data = ev.load_event_dataset("nmnist", tmp_path, dt_ms=2.0)
    events, _ = data.events(4)
    to_frame = tonic.transforms.ToFrame(
        sensor_size=(34, 34, 2), time_window=2000, start_time=0, include_incomplete=True
    )
    theirs = to_frame(events.copy()).astype(np.float32)
    ours = data[4][0].numpy()
    n = min(len(theirs), len(ours))
    assert abs(len(theirs) - len(ours)) <= 1
    np.testing.assert_array_equal(ours[:n], theirs[:n])
    assert ours[n:].sum() == 0 and theirs[n:].sum() == 0


def test_shd_hdf5_layout_is_read(tmp_path):
    ev.write_shd_file(
        tmp_path / "SHD" / "shd_test.h5",
        times_s=[[0.0, 0.0105, 0.031], [0.002]],
        units=[[0, 699, 3], [10]],
        labels=[13, 2],
    )
    data = ev.load_event_dataset("shd", tmp_path, train=False, dt_ms=10.0, downsample=1)
    assert len(data) == 2
    frames, label = data[0]
    assert label == 13 and frames.shape == (4, 700)
    assert frames[0, 0] == 1 and frames[1, 699] == 1 and frames[3, 3] == 1
    assert data[1][0].shape == (1, 700)
    pooled, _ = ev.load_event_dataset("shd", tmp_path, train=False, dt_ms=10.0, downsample=7)[0]
    assert pooled.shape == (4, 100) and pooled[1, 99] == 1


def test_dvsgesture_layout_is_read_from_the_first_event(tmp_path):
    folder = tmp_path / "DVSGesture" / "ibmGestureTrain" / "user03_led"
    ev.write_dvsgesture_file(folder / "4.npy", x=[0, 127], y=[5, 6], p=[0, 1], t_ms=[1000, 1003])
    data = ev.load_event_dataset("dvsgesture", tmp_path, dt_ms=2.0, downsample=4)
    frames, label = data[0]
    assert label == 4 and frames.shape == (2, 2, 32, 32)
    assert frames[0, 0, 1, 0] == 1 and frames[1, 1, 1, 31] == 1
    assert data.source.users == [3]


def test_pad_collate_and_loader_give_time_first_batches(tmp_path):
    ev.write_synthetic_dataset("shd", tmp_path, per_class=1, seed=1)
    data = ev.load_event_dataset("shd", tmp_path, dt_ms=5.0)
    samples = [data[i] for i in range(3)]
    batch = ev.pad_collate(samples)
    lengths = [s[0].shape[0] for s in samples]
    assert batch.frames.shape == (max(lengths), 3, 700)
    assert batch.lengths.tolist() == lengths
    assert batch.labels.tolist() == [s[1] for s in samples]
    for i, (frames, _) in enumerate(samples):
        assert torch.equal(batch.frames[: lengths[i], i], frames)
        assert batch.frames[lengths[i] :, i].sum() == 0
    first = ev.pad_collate(samples, batch_first=True)
    assert torch.equal(first.frames, batch.frames.transpose(0, 1))
    fixed = ev.load_event_dataset("shd", tmp_path, dt_ms=5.0, t_max_ms=20.0)
    loader = ev.event_loader(fixed, 8, shuffle=True, seed=0)
    seen = 0
    for frames, labels, lens in loader:
        assert frames.shape[0] == 4 and frames.shape[2:] == (700,)
        assert (lens == 4).all()
        seen += len(labels)
    assert seen == len(fixed) == 20


def test_a_loaders_known_steps_catch_a_batch_first_tensor(tmp_path):
    ev.write_synthetic_dataset("shd", tmp_path, per_class=1, seed=1)
    data = ev.load_event_dataset("shd", tmp_path, dt_ms=5.0, t_max_ms=30.0)
    batch = next(iter(ev.event_loader(data, 4, batch_first=True)))
    layer = SpikingLinear(700, 8, steps=data.n_steps)
    with pytest.raises(ValueError, match=r"shape \(4, 6, 700\).*pass batch_first=True"):
        layer(batch.frames)
    assert SpikingLinear(700, 8, steps=6, batch_first=True)(batch.frames).shape == (4, 6, 8)


def test_a_missing_dataset_names_the_folder_and_how_to_download(tmp_path):
    with pytest.raises(ev.DatasetNotFoundError, match=r"NMNIST/Train does not exist.*--download"):
        ev.load_event_dataset("nmnist", tmp_path)
    (tmp_path / "SHD").mkdir()
    with pytest.raises(ev.DatasetNotFoundError, match=r"shd_train.h5 does not exist.*zenkelab"):
        ev.load_event_dataset("shd", tmp_path)
    (tmp_path / "DVSGesture" / "ibmGestureTest").mkdir(parents=True)
    with pytest.raises(ev.DatasetNotFoundError, match="holds no event file"):
        ev.load_event_dataset("dvsgesture", tmp_path, train=False)
    with pytest.raises(ValueError, match="dataset must be one of"):
        ev.load_event_dataset("cifar", tmp_path)


def test_download_goes_through_tonic(tmp_path, monkeypatch):
    import tonic.dataset

    calls = []

    def fake_download(self):
        calls.append((self.url, self.location_on_system))
        ev.write_synthetic_dataset("shd", tmp_path, per_class=1)

    monkeypatch.setattr(tonic.dataset.Dataset, "download", fake_download)
    monkeypatch.setattr(tonic.dataset.Dataset, "_is_file_present", lambda self: False)
    data = ev.load_event_dataset("shd", tmp_path, download=True)
    assert calls and calls[0][0].endswith("shd_train.h5.zip")
    assert len(data) == 20


def test_event_files_of_the_wrong_format_are_named(tmp_path):
    ev.write_synthetic_dataset("nmnist", tmp_path, per_class=1)
    bad = tmp_path / "NMNIST" / "Train" / "3" / "00000.bin"
    bad.write_bytes(b"\x00" * 7)
    data = ev.load_event_dataset("nmnist", tmp_path)
    index = [str(p) for p in data.source.data].index(str(bad))
    with pytest.raises(ev.EventFileError, match=r"00000.bin: 7 bytes .* not an N-MNIST"):
        data[index]
    bad.write_bytes(bytes([200, 3, 0, 0, 1]))  # x = 200 on a 34 x 34 sensor
    with pytest.raises(ev.EventFileError, match=r"00000.bin: an event has x = 200"):
        data[index]

    shd = tmp_path / "SHD" / "shd_train.h5"
    shd.parent.mkdir()
    shd.write_bytes(b"not hdf5 at all")
    with pytest.raises(ev.EventFileError, match=r"shd_train.h5: not an HDF5 file"):
        ev.load_event_dataset("shd", tmp_path)
    import h5py

    with h5py.File(shd, "w") as handle:
        handle["labels"] = np.zeros(2, dtype=np.uint16)
    with pytest.raises(ev.EventFileError, match=r"shd_train.h5: not an SHD file: missing spikes"):
        ev.load_event_dataset("shd", tmp_path)

    npy = tmp_path / "DVSGesture" / "ibmGestureTrain" / "user01_led" / "2.npy"
    npy.parent.mkdir(parents=True)
    npy.write_bytes(b"garbage")
    data = ev.load_event_dataset("dvsgesture", tmp_path)
    with pytest.raises(ev.EventFileError, match=r"2.npy: not a valid DVS Gesture event file"):
        data[0]


def test_binning_arguments_are_checked():
    events = np.zeros(2, dtype=[("x", int), ("t", int), ("p", int)])
    with pytest.raises(ValueError, match="dt_ms"):
        ev.events_to_frames(events, (700, 1, 1), 0.0)
    with pytest.raises(ValueError, match="origin"):
        ev.events_to_frames(events, (700, 1, 1), 1.0, origin="middle")
    assert ev.events_to_frames(events[:0], (700, 1, 1), 1.0).shape == (1, 700)
    assert ev.events_to_frames(events, (700, 1, 1), 1.0, n_steps=3).shape == (3, 700)
    assert ev.frame_shape("dvsgesture", 3) == (2, 43, 43)
