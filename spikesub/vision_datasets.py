"""Image data sets of the HLOP paper's benchmarks, and their continual-learning task lists.

Loaders (each returns ``(x_train, y_train, x_test, y_test)``: uint8 images ``(n, C, H, W)``
and int64 labels) read the files in the layout their publishers distribute:

=================  ==========================================================================
CIFAR-10 / -100    ``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz`` (pickled batches)
SVHN               ``train_32x32.mat``, ``test_32x32.mat`` (label 10 is the digit 0)
Fashion-MNIST      the four IDX files (``train-images-idx3-ubyte.gz`` ...)
notMNIST           ``notmnist.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test``
                   (the A-J letters at 28x28, as the HLOP and GPM code builds them)
miniImageNet       ``mini_imagenet.npz`` with the same four arrays, 84x84 RGB (the 100
                   classes of Vinyals et al.'s split, as GPM's ``miniimagenet.py`` builds them)
=================  ==========================================================================

``download=True`` fetches what has a public address (CIFAR, SVHN, Fashion-MNIST) through a
temporary file renamed into place once its MD5 checks out; without it, or offline, a missing
or corrupt file raises one message naming the file, where to put it and where to get it.

Task builders follow the paper's code (adapted from GPM's): :func:`split_cifar100` is 10 tasks
of 10 consecutive classes (0-9, 10-19, ...), :func:`five_datasets` the tasks CIFAR-10, MNIST,
SVHN, Fashion-MNIST, notMNIST in that order, the 28x28 sets padded to 32x32 and repeated
over 3 channels; every set normalised with the per-channel means and deviations of that code.
"""

from __future__ import annotations

import os
import pickle
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from spikesub.continual.tasks import Task
from spikesub.datasets import MNIST_FILES, _hash_for, load_mnist

__all__ = [
    "DATASETS",
    "five_datasets",
    "load_cifar",
    "load_fashion_mnist",
    "load_notmnist",
    "load_mini_imagenet",
    "load_svhn",
    "split_cifar100",
]

# name -> {file: (url, md5)}
DATASETS: dict[str, dict[str, tuple[str | None, str | None]]] = {
    "cifar10": {
        "cifar-10-python.tar.gz": (
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
            "c58f30108f718f92721af3b95e74349a",
        )
    },
    "cifar100": {
        "cifar-100-python.tar.gz": (
            "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
            "eb9058c3a382ffc7106e4002c42a8d85",
        )
    },
    "svhn": {
        "train_32x32.mat": (
            "http://ufldl.stanford.edu/housenumbers/train_32x32.mat",
            "e26dedcc434d2e4c54c9b2d4a06d8373",
        ),
        "test_32x32.mat": (
            "http://ufldl.stanford.edu/housenumbers/test_32x32.mat",
            "eb5a983be6a315427106f1b164d9cef3",
        ),
    },
    "fashion_mnist": {
        f"{stem}.gz": (
            f"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/{stem}.gz",
            md5,
        )
        for stem, md5 in zip(
            MNIST_FILES.values(),
            (
                "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "25c81989df183df01b3e8a0aad5dffbe",
                "bef4ecab320f06d8554ea6380940ec79",
                "bb300cfdad3c16e7a12a480ee83cd310",
            ),
            strict=True,
        )
    },
    "notmnist": {"notmnist.npz": (None, None)},
    "mini_imagenet": {"mini_imagenet.npz": (None, None)},
}

_WHERE = {
    "notmnist": "build it from notMNIST_small (http://yaroslavvb.com/upload/notMNIST/) as the "
    "HLOP/GPM code does: letters A-J as labels 0-9, 28x28 uint8",
    "mini_imagenet": "build it from the miniImageNet split of Vinyals et al. (as GPM's "
    "miniimagenet.py does): 84x84x3 uint8 images, labels 0-99",
}

# per-channel (mean, std) of the paper's code, on images scaled to [0, 1]
NORMALISATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "cifar10": ((125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255)),
    "cifar100": ((125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255)),
    "mnist": ((0.1,), (0.2752,)),
    "svhn": ((0.4377, 0.4438, 0.4728), (0.198, 0.201, 0.197)),
    "fashion_mnist": ((0.2190,), (0.3318,)),
    "notmnist": ((0.4254,), (0.4501,)),
}


def _fetch(url: str, dest: Path, md5: str | None) -> None:
    """Download ``url`` to ``dest`` through a temporary file, renamed once the MD5 matches."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        _, digest = _hash_for(md5)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
        if md5 is not None and digest.hexdigest() != md5:
            raise ValueError(f"{url}: MD5 {digest.hexdigest()} does not match {md5}")
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _files(name: str, folder: str | os.PathLike[str], download: bool) -> dict[str, Path]:
    """The data set's files in ``folder``, fetched first with ``download``; missing ones are
    named in a FileNotFoundError with where to get them."""
    folder = Path(folder)
    paths = {f: folder / f for f in DATASETS[name]}
    missing = [f for f, p in paths.items() if not p.is_file()]
    if missing and download:
        folder.mkdir(parents=True, exist_ok=True)
        for f in missing:
            url, md5 = DATASETS[name][f]
            if url is None:
                continue
            try:
                _fetch(url, paths[f], md5)
            except OSError as exc:
                raise FileNotFoundError(
                    f"{name}: could not download {url} into {paths[f]} ({exc}); copy the file "
                    "there by hand"
                ) from None
        missing = [f for f, p in paths.items() if not p.is_file()]
    if missing:
        where = [
            f"{f} from {DATASETS[name][f][0]}" if DATASETS[name][f][0] else f"{f} ({_WHERE[name]})"
            for f in missing
        ]
        hint = (
            "; or pass download=True (--download) on a machine with internet"
            if any(DATASETS[name][f][0] for f in missing)
            else ""
        )
        raise FileNotFoundError(f"{name} files missing in {folder}: {', '.join(where)}{hint}")
    return paths


def _corrupt(name: str, path: Path, exc: Exception) -> ValueError:
    return ValueError(
        f"{name}: {path} is corrupt or not in the expected format ({exc}); delete it and "
        "download it again"
    )


def load_cifar(
    folder: str | os.PathLike[str], *, classes: int = 100, download: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CIFAR-10 (``classes=10``) or CIFAR-100 (fine labels) from the python tarball."""
    if classes not in (10, 100):
        raise ValueError(f"classes must be 10 or 100; got {classes!r}")
    name = f"cifar{classes}"
    (path,) = _files(name, folder, download).values()
    members = (
        ([f"data_batch_{i}" for i in range(1, 6)], ["test_batch"])
        if classes == 10
        else (["train"], ["test"])
    )
    key = b"labels" if classes == 10 else b"fine_labels"
    try:
        with tarfile.open(path, "r:gz") as tar:
            by_name = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            out = []
            for split in members:
                xs, ys = [], []
                for member in split:
                    if member not in by_name:
                        raise ValueError(f"the archive has no {member}")
                    batch = pickle.loads(tar.extractfile(by_name[member]).read(), encoding="bytes")
                    xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
                    ys.append(np.asarray(batch[key], dtype=np.int64))
                out += [np.concatenate(xs), np.concatenate(ys)]
    except (
        tarfile.TarError,
        OSError,
        EOFError,
        pickle.UnpicklingError,
        KeyError,
        ValueError,
    ) as exc:
        raise _corrupt(name, path, exc) from None
    return tuple(out)  # type: ignore[return-value]


def load_svhn(folder, *, download: bool = False):
    """SVHN cropped digits (``*_32x32.mat``); the label 10 of the digit 0 becomes 0."""
    from scipy.io import loadmat

    paths = _files("svhn", folder, download)
    out = []
    for f in ("train_32x32.mat", "test_32x32.mat"):
        try:
            mat = loadmat(paths[f])
            x = np.ascontiguousarray(np.asarray(mat["X"], dtype=np.uint8).transpose(3, 2, 0, 1))
            y = np.asarray(mat["y"], dtype=np.int64).reshape(-1) % 10
        except Exception as exc:  # scipy raises many kinds on a bad file
            raise _corrupt("svhn", paths[f], exc) from None
        out += [x, y]
    return tuple(out)


def load_fashion_mnist(folder, *, download: bool = False):
    """Fashion-MNIST from its four IDX files, images ``(n, 1, 28, 28)``."""
    _files("fashion_mnist", folder, download)
    data = load_mnist(folder)
    return (data.x_train[:, None], data.y_train.astype(np.int64),
            data.x_test[:, None], data.y_test.astype(np.int64))  # fmt: skip


def _load_npz(name: str, folder, shape: tuple[int, ...], n_classes: int):
    (path,) = _files(name, folder, False).values()
    try:
        with np.load(path) as data:
            arrays = [data[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    except (OSError, KeyError, ValueError, EOFError) as exc:
        raise _corrupt(name, path, exc) from None
    out = []
    for x, y in (arrays[:2], arrays[2:]):
        if x.dtype != np.uint8 or x.shape[1:] not in (shape, shape[1:]) or len(x) != len(y):
            raise _corrupt(name, path, ValueError(f"images {x.shape} {x.dtype}, labels {y.shape}"))
        y = y.astype(np.int64)
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            raise _corrupt(name, path, ValueError(f"labels outside 0..{n_classes - 1}"))
        out += [x.reshape(len(x), *shape), y]
    return tuple(out)


def load_notmnist(folder):
    """notMNIST letters A-J (``notmnist.npz``), images ``(n, 1, 28, 28)``."""
    return _load_npz("notmnist", folder, (1, 28, 28), 10)


def load_mini_imagenet(folder):
    """miniImageNet (``mini_imagenet.npz``), images ``(n, 3, 84, 84)``, labels 0..99."""
    return _load_npz("mini_imagenet", folder, (3, 84, 84), 100)


def _normalise(x: np.ndarray, name: str, pad: int = 0, channels: int | None = None) -> np.ndarray:
    mean, std = NORMALISATION[name]
    out = x.astype(np.float32) / 255.0
    if pad:
        out = np.pad(out, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = (out - np.asarray(mean, np.float32)[:, None, None]) / np.asarray(std, np.float32)[
        :, None, None
    ]
    if channels and out.shape[1] == 1:
        out = np.repeat(out, channels, axis=1)
    return out.reshape(len(out), -1)


def split_cifar100(folder, *, n_tasks: int = 10, download: bool = False) -> list[Task]:
    """10-split CIFAR-100: task ``t`` holds classes ``10t .. 10t+9`` (labels kept as they
    are, so one 100-way readout masked per task is the paper's head per task)."""
    if n_tasks < 1 or 100 % n_tasks:
        raise ValueError(f"n_tasks must divide the 100 classes of CIFAR-100; got {n_tasks}")
    xtr, ytr, xte, yte = load_cifar(folder, classes=100, download=download)
    xtr, xte = _normalise(xtr, "cifar100"), _normalise(xte, "cifar100")
    per = 100 // n_tasks
    tasks = []
    for t in range(n_tasks):
        classes = tuple(range(t * per, (t + 1) * per))
        tr, te = np.isin(ytr, classes), np.isin(yte, classes)
        tasks.append(Task(f"cifar100-{t}", xtr[tr], ytr[tr], xte[te], yte[te], classes))
    return tasks


def five_datasets(folder, *, download: bool = False) -> list[Task]:
    """5-Datasets: CIFAR-10, MNIST, SVHN, Fashion-MNIST, notMNIST, each 10 classes, as
    ``(3, 32, 32)`` images; task ``t``'s labels are offset by ``10 t`` (a 50-way readout
    masked per task). ``folder`` holds one sub-folder per set: ``cifar10``, ``mnist``,
    ``svhn``, ``fashion_mnist``, ``notmnist``."""
    root = Path(folder)
    mnist = load_mnist(root / "mnist", download=download)
    sets = [
        ("cifar10", load_cifar(root / "cifar10", classes=10, download=download), 0),
        ("mnist", (mnist.x_train[:, None], mnist.y_train, mnist.x_test[:, None], mnist.y_test), 2),
        ("svhn", load_svhn(root / "svhn", download=download), 0),
        ("fashion_mnist", load_fashion_mnist(root / "fashion_mnist", download=download), 2),
        ("notmnist", load_notmnist(root / "notmnist"), 2),
    ]
    tasks = []
    for t, (name, (xtr, ytr, xte, yte), pad) in enumerate(sets):
        off = 10 * t
        tasks.append(
            Task(
                name,
                _normalise(xtr, name, pad, 3),
                ytr.astype(np.int64) + off,
                _normalise(xte, name, pad, 3),
                yte.astype(np.int64) + off,
                tuple(range(off, off + 10)),
            )  # fmt: skip
        )
    return tasks
