"""Image data sets of the HLOP paper's benchmarks, and their continual-learning task lists.

Loaders (each returns ``(x_train, y_train, x_test, y_test)``: uint8 images ``(n, C, H, W)``
and int64 labels) read the files in the layout their publishers distribute:

=================  ==========================================================================
CIFAR-10 / -100    ``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz`` (pickled batches)
SVHN               ``train_32x32.mat``, ``test_32x32.mat`` (label 10 is the digit 0)
Fashion-MNIST      the four IDX files (``train-images-idx3-ubyte.gz`` ...)
notMNIST           ``notmnist.zip`` holding ``notmnist_train.pkl`` and ``notmnist_test.pkl``,
                   dicts of ``features`` (letter images) and ``labels`` (A-J as 0-9): the
                   file the HLOP and GPM code downloads
miniImageNet       ``train.pkl`` and ``test.pkl``, dicts of ``images`` ``(n, 84, 84, 3)`` uint8
                   and ``labels`` 0..99: the files of Vinyals et al.'s split that GPM's and
                   HLOP's ``miniimagenet.py`` read from ``<data_dir>/miniimagenet``
=================  ==========================================================================

``download=True`` fetches what has a public address (CIFAR, SVHN, Fashion-MNIST, notMNIST)
through a temporary file renamed into place once its MD5 checks out (notMNIST's address
publishes none, so its file is only checked by reading it); without it, or offline, a
missing or corrupt file raises one message naming the file, where to put it and where to get
it. miniImageNet has no stable public address: the message says how to build its files.
The pickled files are read by an unpickler that accepts only NumPy arrays and plain Python
containers, so a file from elsewhere cannot run code.

Task builders follow the paper's code (adapted from GPM's): :func:`split_cifar100` is 10 tasks
of 10 consecutive classes (0-9, 10-19, ...), :func:`five_datasets` the tasks CIFAR-10, MNIST,
SVHN, Fashion-MNIST, notMNIST in that order, the smaller images zero-padded to 32x32 and
repeated over 3 channels, :func:`split_mini_imagenet` 20 tasks of 5 classes in the order of
a permutation of the 100 classes drawn with NumPy's legacy generator seeded 2022 (the seed
the paper's scripts fix); every set normalised with the per-channel means and deviations of
that code.
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

from spikesub.continual.tasks import Task
from spikesub.datasets import MNIST_FILES, _hash_for, load_mnist

__all__ = [
    "DATASETS",
    "CorruptDataError",
    "five_datasets",
    "load_cifar",
    "load_fashion_mnist",
    "load_notmnist",
    "load_mini_imagenet",
    "load_svhn",
    "split_cifar100",
    "split_mini_imagenet",
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
    "notmnist": {
        "notmnist.zip": (
            "https://github.com/nkundiushuti/notmnist_convert/blob/master/notmnist.zip?raw=true",
            None,
        )
    },
    "mini_imagenet": {"train.pkl": (None, None), "test.pkl": (None, None)},
}

MIRRORS: dict[str, tuple[str, ...]] = {
    "fashion_mnist": ("https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",),
}
"""Base addresses tried after a file's own, in order (only Fashion-MNIST publishes its files
in a second place; MNIST's mirrors are in :mod:`spikesub.datasets`)."""

_WHERE = {
    "mini_imagenet": "build it from the miniImageNet split of Vinyals et al. as GPM's "
    "README describes (https://github.com/sahagobinda/GPM): a pickled dict of 'images' "
    "(n, 84, 84, 3) uint8 and 'labels' 0-99",
}

# per-channel (mean, std) of the paper's code, on images scaled to [0, 1]; MNIST's and
# Fashion-MNIST's include the padding to 32x32
NORMALISATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "cifar10": ((125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255)),
    "cifar100": ((125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255)),
    "mnist": ((0.1,), (0.2752,)),
    "svhn": ((0.4377, 0.4438, 0.4728), (0.198, 0.201, 0.197)),
    "fashion_mnist": ((0.2190,), (0.3318,)),
    "notmnist": ((0.4254,), (0.4501,)),
    "mini_imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}

MINI_IMAGENET_CLASS_SEED = 2022
"""Seed of the class order of :func:`split_mini_imagenet` (the paper's scripts fix it)."""

_SAFE_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
}


class _DataUnpickler(pickle.Unpickler):
    """An unpickler for data files: NumPy arrays, scalars and plain containers only."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _SAFE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
        return super().find_class(module, name)


def _unpickle(data: bytes, encoding: str = "bytes"):
    """A data file's pickle (Python 2 pickles of arrays need ``encoding="latin1"``)."""
    return _DataUnpickler(io.BytesIO(data), encoding=encoding).load()


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


def _download(name: str, file: str, dest: Path) -> None:
    """Fetch ``file`` of data set ``name`` from its address, then from each mirror in turn
    until one delivers a copy whose MD5 matches; nothing is written when none does."""
    url, md5 = DATASETS[name][file]
    if url is None:
        return
    urls = [url, *(base + file for base in MIRRORS.get(name, ()))]
    failures = []
    for candidate in urls:
        try:
            _fetch(candidate, dest, md5)
            return
        except (OSError, ValueError) as exc:  # unreachable, or a copy with the wrong MD5
            failures.append(f"{candidate}: {exc}")
    raise FileNotFoundError(
        f"{name}: could not download {file} into {dest} ({'; '.join(failures)}); copy the "
        "file there by hand"
    )


def _files(name: str, folder: str | os.PathLike[str], download: bool) -> dict[str, Path]:
    """The data set's files in ``folder``, fetched first with ``download``; missing ones are
    named in a FileNotFoundError with where to get them."""
    folder = Path(folder)
    paths = {f: folder / f for f in DATASETS[name]}
    missing = [f for f, p in paths.items() if not p.is_file()]
    if missing and download:
        folder.mkdir(parents=True, exist_ok=True)
        for f in missing:
            _download(name, f, paths[f])
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


class CorruptDataError(ValueError):
    """A data file that is not in its publisher's format (the message names it)."""


def _corrupt(name: str, path: Path, exc: Exception) -> CorruptDataError:
    return CorruptDataError(
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
                    batch = _unpickle(tar.extractfile(by_name[member]).read())
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


def _images_and_labels(name: str, path: Path, x, y, n_classes: int, channels_last: bool):
    """Checked ``(uint8 (n, C, H, W), int64 (n,))`` from a pickle's image and label arrays
    (``(n, H, W)``, ``(n, 1, H, W)``, or ``(n, H, W, C)`` with ``channels_last``)."""
    x, y = np.asarray(x), np.asarray(y).reshape(-1)
    if x.ndim == 4 and channels_last:
        x = x.transpose(0, 3, 1, 2)
    elif x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or len(x) != len(y) or not np.issubdtype(y.dtype, np.integer):
        raise _corrupt(name, path, ValueError(f"images {x.shape}, labels {y.shape} {y.dtype}"))
    if x.dtype != np.uint8:
        if x.size and (x.min() < 0 or x.max() > 255):
            raise _corrupt(name, path, ValueError("pixel values outside 0..255"))
        x = x.astype(np.uint8)
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise _corrupt(name, path, ValueError(f"labels outside 0..{n_classes - 1}"))
    return np.ascontiguousarray(x), y


def load_notmnist(folder, *, download: bool = False):
    """notMNIST letters A-J from ``notmnist.zip`` (two pickled dicts of ``features`` and
    ``labels``), images ``(n, 1, H, W)``."""
    (path,) = _files("notmnist", folder, download).values()
    out = []
    try:
        with zipfile.ZipFile(path) as archive:
            by_name = {Path(n).name: n for n in archive.namelist()}
            for split in ("notmnist_train.pkl", "notmnist_test.pkl"):
                if split not in by_name:
                    raise ValueError(f"the archive has no {split}")
                data = _unpickle(archive.read(by_name[split]), encoding="latin1")
                out += _images_and_labels(
                    "notmnist", path, data["features"], data["labels"], 10, False
                )
    except CorruptDataError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, pickle.UnpicklingError, KeyError,
            TypeError, ValueError) as exc:  # fmt: skip
        raise _corrupt("notmnist", path, exc) from None
    return tuple(out)


def load_mini_imagenet(folder):
    """miniImageNet from ``train.pkl`` and ``test.pkl`` (dicts of ``images`` ``(n, 84, 84,
    3)`` and ``labels``), images ``(n, 3, 84, 84)``, labels 0..99."""
    paths = _files("mini_imagenet", folder, False)
    out = []
    for f in ("train.pkl", "test.pkl"):
        try:
            data = _unpickle(paths[f].read_bytes(), encoding="latin1")
            x, y = _images_and_labels(
                "mini_imagenet", paths[f], data["images"], data["labels"], 100, True
            )
        except CorruptDataError:
            raise
        except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError,
                ValueError) as exc:  # fmt: skip
            raise _corrupt("mini_imagenet", paths[f], exc) from None
        if x.shape[1:] != (3, 84, 84):
            raise _corrupt("mini_imagenet", paths[f], ValueError(f"images {x.shape}, not 84x84x3"))
        out += [x, y]
    return tuple(out)


def _normalise(
    x: np.ndarray, name: str, size: int | None = None, channels: int | None = None
) -> np.ndarray:
    """Flat float32 images: scaled to [0, 1], zero-padded to ``size`` x ``size`` (centred),
    normalised with the set's per-channel mean and deviation, grey repeated to
    ``channels``."""
    mean, std = NORMALISATION[name]
    out = x.astype(np.float32) / 255.0
    if size is not None and out.shape[-1] != size:
        h, w = out.shape[-2:]
        if h > size or w > size:
            raise ValueError(f"{name} images are {h}x{w}, larger than {size}x{size}")
        top, left = (size - h) // 2, (size - w) // 2
        out = np.pad(out, ((0, 0), (0, 0), (top, size - h - top), (left, size - w - left)))
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
    if not download:
        _check_five_datasets(root)
    mnist = load_mnist(root / "mnist", download=download)
    sets = [
        ("cifar10", load_cifar(root / "cifar10", classes=10, download=download)),
        ("mnist", (mnist.x_train[:, None], mnist.y_train, mnist.x_test[:, None], mnist.y_test)),
        ("svhn", load_svhn(root / "svhn", download=download)),
        ("fashion_mnist", load_fashion_mnist(root / "fashion_mnist", download=download)),
        ("notmnist", load_notmnist(root / "notmnist", download=download)),
    ]
    tasks = []
    for t, (name, (xtr, ytr, xte, yte)) in enumerate(sets):
        off = 10 * t
        tasks.append(
            Task(
                name,
                _normalise(xtr, name, 32, 3),
                ytr.astype(np.int64) + off,
                _normalise(xte, name, 32, 3),
                yte.astype(np.int64) + off,
                tuple(range(off, off + 10)),
            )  # fmt: skip
        )
    return tasks


FIVE_DATASETS_FOLDERS = ("cifar10", "mnist", "svhn", "fashion_mnist", "notmnist")
"""The sub-folders of a 5-Datasets folder, in task order."""


def _check_five_datasets(root: Path) -> None:
    """One FileNotFoundError naming every missing file of the five sets, before any is read."""
    missing = []
    for name in FIVE_DATASETS_FOLDERS:
        if name == "mnist":
            stems = MNIST_FILES.values()
            gone = [f"{s}.gz" for s in stems if not any((root / name / f).is_file()
                                                      for f in (s, f"{s}.gz"))]  # fmt: skip
        else:
            gone = [f for f in DATASETS[name] if not (root / name / f).is_file()]
        missing += [f"{name}/{f}" for f in gone]
    if missing:
        raise FileNotFoundError(
            f"5-Datasets files missing in {root}: {', '.join(missing)}; pass download=True "
            "(--download) on a machine with internet, or copy each set's files into its "
            "sub-folder"
        )


def split_mini_imagenet(folder, *, n_tasks: int = 20) -> list[Task]:
    """miniImageNet in ``n_tasks`` tasks of ``100 / n_tasks`` classes: the classes in the
    order of ``RandomState(2022).permutation(100)``, split in consecutive groups, as the
    paper's loader does (labels kept global, 0..99, for one readout masked per task);
    images normalised with ImageNet's per-channel mean and deviation."""
    if n_tasks < 1 or 100 % n_tasks:
        raise ValueError(f"n_tasks must divide the 100 classes of miniImageNet; got {n_tasks}")
    xtr, ytr, xte, yte = load_mini_imagenet(folder)
    xtr, xte = _normalise(xtr, "mini_imagenet"), _normalise(xte, "mini_imagenet")
    order = np.random.RandomState(MINI_IMAGENET_CLASS_SEED).permutation(100)
    tasks = []
    for t, group in enumerate(np.split(order, n_tasks)):
        classes = tuple(sorted(int(c) for c in group))
        tr, te = np.isin(ytr, classes), np.isin(yte, classes)
        tasks.append(Task(f"miniimagenet-{t}", xtr[tr], ytr[tr], xte[te], yte[te], classes))
    return tasks
