"""The image loaders and task builders on tiny files made here, in each publisher's format."""

from __future__ import annotations

import io
import pickle
import tarfile

import numpy as np
import pytest

from spikesub import vision_datasets as vd


def _cifar100(folder, n=20):
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for split in ("train", "test"):
            batch = {
                b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                b"fine_labels": list(np.arange(n) * 5 % 100),
            }
            data = pickle.dumps(batch)
            info = tarfile.TarInfo(f"cifar-100-python/{split}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cifar-100-python.tar.gz").write_bytes(buf.getvalue())


def test_cifar100_and_its_ten_splits(tmp_path):
    _cifar100(tmp_path)
    x, y, xt, yt = vd.load_cifar(tmp_path, classes=100)
    assert x.shape == (20, 3, 32, 32) and x.dtype == np.uint8 and y.dtype == np.int64
    tasks = vd.split_cifar100(tmp_path)
    assert [t.classes[0] for t in tasks] == list(range(0, 100, 10))
    assert tasks[0].x_train.shape[1] == 3072
    assert all(set(t.y_train) <= set(t.classes) for t in tasks)


def test_splits_that_do_not_divide_are_refused(tmp_path):
    _cifar100(tmp_path)
    with pytest.raises(ValueError, match="divide"):
        vd.split_cifar100(tmp_path, n_tasks=7)


def test_svhn_mat_files(tmp_path):
    from scipy.io import savemat

    for f in ("train_32x32.mat", "test_32x32.mat"):
        x = np.zeros((32, 32, 3, 4), dtype=np.uint8)
        savemat(tmp_path / f, {"X": x, "y": np.array([[10], [1], [2], [3]])})
    x, y, _, _ = vd.load_svhn(tmp_path)
    assert x.shape == (4, 3, 32, 32) and list(y) == [0, 1, 2, 3]


def test_missing_files_are_named_with_where_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar-10-python.tar.gz from https://"):
        vd.load_cifar(tmp_path, classes=10)
    with pytest.raises(FileNotFoundError, match="mini_imagenet.npz"):
        vd.load_mini_imagenet(tmp_path)


def test_corrupt_files_are_named(tmp_path):
    (tmp_path / "cifar-100-python.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(ValueError, match="corrupt"):
        vd.load_cifar(tmp_path, classes=100)
    np.savez(tmp_path / "notmnist.npz", x_train=np.zeros((2, 5, 5), np.uint8))
    with pytest.raises(ValueError, match="notmnist"):
        vd.load_notmnist(tmp_path)


def test_notmnist_npz(tmp_path):
    arrays = {k: np.zeros((3, 28, 28), np.uint8) for k in ("x_train", "x_test")}
    arrays |= {k: np.array([0, 4, 9]) for k in ("y_train", "y_test")}
    np.savez(tmp_path / "notmnist.npz", **arrays)
    x, y, _, _ = vd.load_notmnist(tmp_path)
    assert x.shape == (3, 1, 28, 28) and list(y) == [0, 4, 9]
