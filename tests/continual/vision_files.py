"""Tiny data files in each image set's published format, for the loader and benchmark tests.

Every writer puts ``n`` random images per split into ``folder`` with labels cycling over the
set's classes, so each class is in both splits once ``n`` is at least the class count.
"""

from __future__ import annotations

import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from spikesub.datasets import MNIST_FILES, write_idx


def _labels(n: int, classes: int) -> np.ndarray:
    return np.arange(n) % classes


def write_cifar(folder: Path, classes: int = 100, n: int = 100, seed: int = 0) -> None:
    """``cifar-10-python.tar.gz`` (five training batches and a test batch) or
    ``cifar-100-python.tar.gz`` (``train`` and ``test``, fine labels)."""
    rng = np.random.default_rng(seed)
    if classes == 10:
        members = {f"data_batch_{i}": n // 5 for i in range(1, 6)} | {"test_batch": n}
        top, key = "cifar-10-batches-py", b"labels"
    else:
        members = {"train": n, "test": n}
        top, key = "cifar-100-python", b"fine_labels"
    buf = io.BytesIO()
    seen = 0  # the training batches continue each other's label cycle
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for member, count in members.items():
            start = 0 if member in ("test", "test_batch") else seen
            batch = {
                b"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
                key: [int(v) % classes for v in range(start, start + count)],
            }
            seen += 0 if member in ("test", "test_batch") else count
            data = pickle.dumps(batch)
            info = tarfile.TarInfo(f"{top}/{member}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"cifar-{classes}-python.tar.gz").write_bytes(buf.getvalue())


def write_svhn(folder: Path, n: int = 20, seed: int = 0) -> None:
    """``train_32x32.mat`` and ``test_32x32.mat``: ``X`` (32, 32, 3, n), ``y`` 1..10."""
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for f in ("train_32x32.mat", "test_32x32.mat"):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = (_labels(n, 10) % 10 + 1).reshape(-1, 1)  # the digit 0 is label 10
        savemat(folder / f, {"X": x, "y": y})


def write_idx_set(folder: Path, n: int = 20, seed: int = 0) -> None:
    """The four IDX files of MNIST or Fashion-MNIST, 28x28."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "x_train": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        "y_train": _labels(n, 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        "y_test": _labels(n, 10).astype(np.uint8),
    }
    for role, stem in MNIST_FILES.items():
        write_idx(folder / f"{stem}.gz", arrays[role])


def notmnist_zip(n: int = 20, size: int = 28, seed: int = 0) -> bytes:
    """``notmnist.zip``: ``notmnist_train.pkl`` and ``notmnist_test.pkl``, each a dict of
    ``features`` (n, 1, size, size) and ``labels``."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for split in ("train", "test"):
            data = {
                "features": rng.integers(0, 256, (n, 1, size, size)).astype(np.uint8),
                "labels": _labels(n, 10).astype(np.uint8),
            }
            archive.writestr(f"notmnist_{split}.pkl", pickle.dumps(data, protocol=2))
    return buf.getvalue()


def write_notmnist(folder: Path, n: int = 20, size: int = 28, seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notmnist.zip").write_bytes(notmnist_zip(n, size, seed))


def write_mini_imagenet(folder: Path, n: int = 100, seed: int = 0) -> None:
    """``train.pkl`` and ``test.pkl``: dicts of ``images`` (n, 84, 84, 3) and ``labels``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        data = {
            "images": rng.integers(0, 256, (n, 84, 84, 3), dtype=np.uint8),
            "labels": [int(v) for v in _labels(n, 100)],
        }
        (folder / f"{split}.pkl").write_bytes(pickle.dumps(data))


def write_five_datasets(root: Path, n: int = 20) -> None:
    """The five sub-folders of 5-Datasets, each with its set's files."""
    write_cifar(root / "cifar10", classes=10, n=n)
    write_idx_set(root / "mnist", n=n, seed=1)
    write_svhn(root / "svhn", n=n)
    write_idx_set(root / "fashion_mnist", n=n, seed=2)
    write_notmnist(root / "notmnist", n=n)
