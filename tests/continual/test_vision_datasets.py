"""The image loaders and task builders on tiny files made here, in each publisher's format."""

from __future__ import annotations

import hashlib
import pickle
import zipfile

import numpy as np
import pytest
from vision_files import (  # tests/continual/vision_files.py
    notmnist_zip,
    write_cifar,
    write_five_datasets,
    write_mini_imagenet,
    write_notmnist,
    write_svhn,
)

from spikesub import vision_datasets as vd


def test_cifar100_and_its_ten_splits(tmp_path):
    write_cifar(tmp_path, classes=100, n=200)
    x, y, xt, yt = vd.load_cifar(tmp_path, classes=100)
    assert x.shape == (200, 3, 32, 32) and x.dtype == np.uint8 and y.dtype == np.int64
    tasks = vd.split_cifar100(tmp_path)
    assert [t.classes for t in tasks] == [tuple(range(c, c + 10)) for c in range(0, 100, 10)]
    assert tasks[0].x_train.shape[1] == 3072
    assert all(set(t.y_train) == set(t.classes) for t in tasks)
    # normalised per channel with the paper's CIFAR mean and deviation
    first = x[y == 0][0].astype(np.float32) / 255
    mean, std = vd.NORMALISATION["cifar100"]
    expected = (first - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(tasks[0].x_train[0], expected.ravel(), rtol=1e-5, atol=1e-6)


def test_splits_that_do_not_divide_are_refused(tmp_path):
    write_cifar(tmp_path, classes=100)
    with pytest.raises(ValueError, match="divide"):
        vd.split_cifar100(tmp_path, n_tasks=7)
    with pytest.raises(ValueError, match="divide"):
        vd.split_mini_imagenet(tmp_path, n_tasks=30)


def test_cifar10_batches(tmp_path):
    write_cifar(tmp_path, classes=10, n=20)
    x, y, xt, yt = vd.load_cifar(tmp_path, classes=10)
    assert x.shape == (20, 3, 32, 32) and xt.shape == (20, 3, 32, 32)
    assert set(y) == set(range(10))


def test_svhn_mat_files(tmp_path):
    write_svhn(tmp_path, n=4)
    x, y, _, _ = vd.load_svhn(tmp_path)
    assert x.shape == (4, 3, 32, 32) and list(y) == [1, 2, 3, 4]


def test_notmnist_zip_of_pickles(tmp_path):
    write_notmnist(tmp_path, n=3)
    x, y, xt, yt = vd.load_notmnist(tmp_path)
    assert x.shape == (3, 1, 28, 28) and x.dtype == np.uint8 and list(y) == [0, 1, 2]


def test_mini_imagenet_pickles_and_the_papers_class_order(tmp_path):
    write_mini_imagenet(tmp_path, n=100)
    x, y, _, _ = vd.load_mini_imagenet(tmp_path)
    assert x.shape == (100, 3, 84, 84) and list(y) == list(range(100))
    tasks = vd.split_mini_imagenet(tmp_path)
    assert len(tasks) == 20 and all(len(t.classes) == 5 for t in tasks)
    # the classes of task t are group t of RandomState(2022).permutation(100)
    order = np.random.RandomState(2022).permutation(100)
    assert tasks[3].classes == tuple(sorted(order[15:20]))
    assert sorted(c for t in tasks for c in t.classes) == list(range(100))
    assert tasks[0].x_train.shape[1] == 3 * 84 * 84


def test_five_datasets_pads_repeats_and_offsets_labels(tmp_path):
    write_five_datasets(tmp_path, n=20)
    tasks = vd.five_datasets(tmp_path)
    assert [t.name for t in tasks] == ["cifar10", "mnist", "svhn", "fashion_mnist", "notmnist"]
    assert all(t.x_train.shape[1] == 3 * 32 * 32 for t in tasks)
    assert [t.classes[0] for t in tasks] == [0, 10, 20, 30, 40]
    # MNIST: a 2-pixel zero border (normalised) and three equal channels
    image = tasks[1].x_train[0].reshape(3, 32, 32)
    mean, std = vd.NORMALISATION["mnist"]
    assert np.allclose(image[:, :2, :], (0 - mean[0]) / std[0])
    assert np.array_equal(image[0], image[1]) and np.array_equal(image[1], image[2])


def test_notmnist_at_32_pixels_is_not_padded(tmp_path):
    root = tmp_path / "five"
    write_five_datasets(root, n=20)
    write_notmnist(root / "notmnist", n=20, size=32)
    tasks = vd.five_datasets(root)
    assert tasks[4].x_train.shape[1] == 3 * 32 * 32


def test_missing_files_are_named_with_where_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar-10-python.tar.gz from https://"):
        vd.load_cifar(tmp_path, classes=10)
    with pytest.raises(FileNotFoundError, match="notmnist.zip from https://"):
        vd.load_notmnist(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"train\.pkl .*GPM's README"):
        vd.load_mini_imagenet(tmp_path)


def test_corrupt_files_are_named(tmp_path):
    (tmp_path / "cifar-100-python.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(vd.CorruptDataError, match="corrupt"):
        vd.load_cifar(tmp_path, classes=100)
    with zipfile.ZipFile(tmp_path / "notmnist.zip", "w") as archive:
        archive.writestr("notmnist_train.pkl", b"garbage")
    with pytest.raises(vd.CorruptDataError, match="notmnist.zip"):
        vd.load_notmnist(tmp_path)
    (tmp_path / "train.pkl").write_bytes(pickle.dumps({"images": np.zeros((2, 5, 5, 3))}))
    (tmp_path / "test.pkl").write_bytes(b"")
    with pytest.raises(vd.CorruptDataError, match="train.pkl"):
        vd.load_mini_imagenet(tmp_path)


class _Payload:
    def __reduce__(self):
        return (print, ("this would run",))


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    (tmp_path / "train.pkl").write_bytes(pickle.dumps({"images": _Payload(), "labels": [0]}))
    (tmp_path / "test.pkl").write_bytes(pickle.dumps({"images": _Payload(), "labels": [0]}))
    with pytest.raises(vd.CorruptDataError, match="refusing to load builtins.print"):
        vd.load_mini_imagenet(tmp_path)


def test_download_checks_the_md5_and_renames_into_place(tmp_path, monkeypatch):
    source = tmp_path / "server" / "notmnist.zip"
    source.parent.mkdir()
    source.write_bytes(notmnist_zip(n=10))
    md5 = hashlib.md5(source.read_bytes()).hexdigest()
    url = source.as_uri()
    monkeypatch.setitem(vd.DATASETS, "notmnist", {"notmnist.zip": (url, md5)})
    x, y, _, _ = vd.load_notmnist(tmp_path / "data", download=True)
    assert x.shape == (10, 1, 28, 28)
    assert (tmp_path / "data" / "notmnist.zip").read_bytes() == source.read_bytes()
    # a wrong checksum leaves nothing behind, not even the temporary file
    monkeypatch.setitem(vd.DATASETS, "notmnist", {"notmnist.zip": (url, "0" * 32)})
    with pytest.raises(FileNotFoundError, match="does not match"):
        vd.load_notmnist(tmp_path / "other", download=True)
    assert list((tmp_path / "other").iterdir()) == []


def test_download_falls_back_to_a_mirror(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "notmnist.zip").write_bytes(notmnist_zip(n=10))
    md5 = hashlib.md5((mirror / "notmnist.zip").read_bytes()).hexdigest()
    gone = (tmp_path / "gone" / "notmnist.zip").as_uri()
    monkeypatch.setitem(vd.DATASETS, "notmnist", {"notmnist.zip": (gone, md5)})
    monkeypatch.setitem(vd.MIRRORS, "notmnist", (mirror.as_uri() + "/",))
    x, _, _, _ = vd.load_notmnist(tmp_path / "data", download=True)
    assert x.shape == (10, 1, 28, 28)
