"""Continual-learning benchmarks: sequences of classification tasks.

A benchmark is a list of :class:`Task`. Every task labels its samples with the digit itself
(0..9) and names the labels it uses in ``classes``; the networks have one 10-way output, and
a task's logits are restricted to its ``classes`` (the other outputs are masked out) both in
training and at test time. For the permuted benchmarks ``classes`` is all ten digits, so the
mask does nothing and the head is shared (domain-incremental); for the split benchmarks each
task sees only its two outputs (task-incremental, the task identity is known at test time).

Benchmarks (:data:`BENCHMARKS`):

``"pmnist"``
    Permuted MNIST, 10 tasks. Every task, the first included, applies its own random pixel
    permutation to all of MNIST (as the GPM and HLOP data loaders do); permutation ``t`` is
    drawn from ``(seed, t)``, so each seed defines its own sequence. Needs ``data_dir``.
``"splitmnist"``
    Split MNIST, 5 tasks of the digit pairs (0, 1), (2, 3), ..., (8, 9). Needs ``data_dir``.
``"digits"``
    Permuted digits: scikit-learn's bundled 8x8 digits (1797 images, no download), 5 tasks
    of pixel permutations as for ``"pmnist"``; a seeded, stratified 75 / 25 train/test split.
``"splitdigits"``
    Split digits: the same data in 5 tasks of digit pairs.
``"splitcifar100"``, ``"fivedatasets"``, ``"miniimagenet"``
    The HLOP paper's image benchmarks, built by :mod:`spikesub.vision_datasets` from the
    files in ``data_dir``: 10-split CIFAR-100 (10 tasks of 10 classes), 5-Datasets
    (CIFAR-10, MNIST, SVHN, Fashion-MNIST, notMNIST) and miniImageNet (20 tasks of 5
    classes). Their labels are global (0..99, 0..49 and 0..99), so one readout masked per
    task is the paper's head per task. Their images are normalised per channel as the
    paper's code does, not scaled to ``[0, 1]``.

Inputs of the MNIST and digits benchmarks are ``float32`` in ``[0, 1]`` (MNIST pixel / 255,
digits pixel / 16); every benchmark's images are flattened.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikesub.datasets import (
    MNIST_FILES,
    load_mnist,
    pixel_permutation,
    split_by_classes,
    to_float,
)

__all__ = [
    "BENCHMARKS",
    "IMAGE_SHAPES",
    "N_CLASSES",
    "VISION_BENCHMARKS",
    "Task",
    "class_incremental",
    "load_digits_split",
    "make_benchmark",
]

#: Benchmark names -> number of tasks.
BENCHMARKS: dict[str, int] = {
    "pmnist": 10,
    "splitmnist": 5,
    "digits": 5,
    "splitdigits": 5,
    "splitcifar100": 10,
    "fivedatasets": 5,
    "miniimagenet": 20,
}

#: The image benchmarks of the HLOP paper, read by :mod:`spikesub.vision_datasets`.
VISION_BENCHMARKS: tuple[str, ...] = ("splitcifar100", "fivedatasets", "miniimagenet")

#: Labels of each benchmark: the width of the one readout all its tasks share (masked to
#: each task's classes in the task-incremental scenario).
N_CLASSES: dict[str, int] = {
    "pmnist": 10,
    "splitmnist": 10,
    "digits": 10,
    "splitdigits": 10,
    "splitcifar100": 100,
    "fivedatasets": 50,
    "miniimagenet": 100,
}

#: Image shape ``(channels, height, width)`` of each benchmark's flattened inputs (for the
#: conv nets; a permuted benchmark's images are its permuted pixels laid out the same way).
IMAGE_SHAPES: dict[str, tuple[int, int, int]] = {
    "pmnist": (1, 28, 28),
    "splitmnist": (1, 28, 28),
    "digits": (1, 8, 8),
    "splitdigits": (1, 8, 8),
    "splitcifar100": (3, 32, 32),
    "fivedatasets": (3, 32, 32),
    "miniimagenet": (3, 84, 84),
}

#: The class pairs of the split benchmarks.
SPLIT_CLASSES: tuple[tuple[int, int], ...] = ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9))

_DIGITS_TEST_FRACTION = 0.25

_SPLIT_WORDS = {"train": "training", "test": "test"}


@dataclass(frozen=True, eq=False)
class Task:
    """One task of a benchmark.

    Attributes:
        name: e.g. ``"pmnist-3"`` or ``"splitmnist-(4, 5)"``.
        x_train: ``(n_train, features)`` float32 in ``[0, 1]``.
        y_train: ``(n_train,)`` int64 digit labels.
        x_test: ``(n_test, features)`` float32.
        y_test: ``(n_test,)`` int64.
        classes: the labels this task uses, ascending; its logits are restricted to them.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[int, ...]

    def __post_init__(self) -> None:
        """Refuse a task that cannot be trained or measured: no training or no test samples,
        inputs and labels of different lengths, or labels outside ``classes``."""
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if np.ndim(x) != 2 or np.ndim(y) != 1 or len(x) != len(y):
                raise ValueError(
                    f"task {self.name}: x_{split} must be (n, features) and y_{split} (n,); got "
                    f"shapes {np.shape(x)} and {np.shape(y)}"
                )
            if len(y) == 0:
                raise ValueError(
                    f"task {self.name} has no {_SPLIT_WORDS[split]} samples (classes "
                    f"{self.classes}); "
                    "check the data set, n_tasks, max_train and validation"
                )
            outside = ~np.isin(y, self.classes)
            if outside.any():
                raise ValueError(
                    f"task {self.name}: y_{split}[{int(np.argmax(outside))}] is "
                    f"{int(y[np.argmax(outside)])}, not one of the task's classes {self.classes}"
                )

    @property
    def n_features(self) -> int:
        """Input size."""
        return int(self.x_train.shape[1])

    def __repr__(self) -> str:
        return (
            f"Task({self.name!r}, n_train={len(self.y_train)}, n_test={len(self.y_test)}, "
            f"classes={self.classes})"
        )


def load_digits_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as ``(x_train, y_train, x_test, y_test)``.

    A stratified split with 25 % of each class in the test set, drawn from ``seed``; images
    are ``(n, 64)`` float32 in ``[0, 1]`` (pixel / 16), labels int64.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (np.asarray(data.data, dtype=np.float64) / 16.0).astype(np.float32)
    y = np.asarray(data.target, dtype=np.int64)
    rng = np.random.default_rng([int(seed), 7919])
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        n_test = int(round(_DIGITS_TEST_FRACTION * len(members)))
        test[rng.choice(members, size=n_test, replace=False)] = True
    return x[~test], y[~test], x[test], y[test]


def _permutation_seed(seed: int, task: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(task), 104729])


def _permuted_tasks(prefix, x_train, y_train, x_test, y_test, n_tasks, seed) -> list[Task]:
    tasks = []
    classes = tuple(range(10))
    for t in range(n_tasks):
        order = pixel_permutation(x_train.shape[1], _permutation_seed(seed, t))
        tasks.append(
            Task(
                name=f"{prefix}-{t}",
                x_train=np.ascontiguousarray(x_train[:, order]),
                y_train=y_train.copy(),
                x_test=np.ascontiguousarray(x_test[:, order]),
                y_test=y_test.copy(),
                classes=classes,
            )
        )
    return tasks


def _check_classes_present(task_name: str, labels: np.ndarray, pair: tuple[int, ...]) -> None:
    """Refuse a split task whose training set lacks one of its classes (a data folder with
    no sample of a digit): it would train a two-way task on one class."""
    for label in pair:
        if not np.any(labels == label):
            raise ValueError(
                f"task {task_name} has no training samples of class {label} (its classes are "
                f"{pair}); the training set holds {len(labels)} samples of its classes: check "
                "the data set"
            )


def _split_tasks(prefix, x_train, y_train, x_test, y_test, n_tasks) -> list[Task]:
    tasks = []
    for pair in SPLIT_CLASSES[:n_tasks]:
        xtr, ytr = split_by_classes(x_train, y_train, pair)
        xte, yte = split_by_classes(x_test, y_test, pair)
        _check_classes_present(f"{prefix}-{pair[0]}{pair[1]}", ytr, pair)
        tasks.append(
            Task(
                name=f"{prefix}-{pair[0]}{pair[1]}",
                x_train=xtr,
                y_train=ytr,
                x_test=xte,
                y_test=yte,
                classes=pair,
            )
        )
    return tasks


def _check_n_tasks(name: str, n_tasks: int | None) -> int:
    total = BENCHMARKS[name]
    if n_tasks is None:
        return total
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, (int, np.integer)):
        raise TypeError(f"n_tasks must be an int in 1..{total} or None; got {n_tasks!r}")
    if not 1 <= n_tasks <= total:
        raise ValueError(f"n_tasks must be in 1..{total} for {name}; got {n_tasks}")
    return int(n_tasks)


def _holdout(tasks: list[Task], fraction: float, seed: int) -> list[Task]:
    """Replace each task's test set by a held-out part of its training set."""
    out = []
    for t, task in enumerate(tasks):
        n = len(task.y_train)
        rng = np.random.default_rng([int(seed), t, 15485863])
        order = rng.permutation(n)
        n_val = max(1, int(round(fraction * n)))
        if n_val >= n:
            raise ValueError(
                f"validation fraction {fraction} leaves no training samples in task {task.name}"
            )
        val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
        out.append(
            Task(
                name=task.name,
                x_train=task.x_train[train],
                y_train=task.y_train[train],
                x_test=task.x_train[val],
                y_test=task.y_train[val],
                classes=task.classes,
            )
        )
    return out


def make_benchmark(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    n_tasks: int | None = None,
    validation: float = 0.0,
    download: bool = False,
) -> list[Task]:
    """Build the tasks of a benchmark (see the module docstring for the list).

    Args:
        name: one of :data:`BENCHMARKS`.
        data_dir: folder with the four MNIST IDX files (``*.gz`` or raw) for ``"pmnist"``
            and ``"splitmnist"``; the data set's folder for the image benchmarks (see
            :func:`vision_benchmark`); ignored for the digits.
        seed: draws the pixel permutations and the digits train/test split.
        n_tasks: keep only the first ``n_tasks`` tasks (default: all).
        validation: when > 0, hold out this fraction (< 1) of every task's training set,
            seeded, and use it as the task's test set; the real test set is then not used
            (for choosing hyperparameters).
        download: fetch missing files into ``data_dir`` first (needs internet; see
            :func:`spikesub.datasets.download_mnist` and :mod:`spikesub.vision_datasets`).

    Returns:
        the tasks, in training order.

    Raises:
        ValueError: unknown name, ``n_tasks`` or ``validation`` out of range, MNIST benchmark
            without ``data_dir``, a corrupt MNIST file (the message names it), or a task with
            no training or test samples, or (split benchmarks) none of one of its classes
            (the message names the task and the class).
        FileNotFoundError: MNIST files missing; the message names them and how to get them.
    """
    if name not in BENCHMARKS:
        raise ValueError(f"benchmark must be one of {tuple(BENCHMARKS)}; got {name!r}")
    count = _check_n_tasks(name, n_tasks)
    if isinstance(validation, bool) or not isinstance(validation, (int, float)):
        raise TypeError(f"validation must be a fraction in [0, 1); got {validation!r}")
    if not 0.0 <= validation < 1.0:
        raise ValueError(f"validation must be a fraction in [0, 1); got {validation}")
    if name in VISION_BENCHMARKS:
        tasks = vision_benchmark(name, data_dir, download=download)[:count]
    elif name in ("pmnist", "splitmnist"):
        if data_dir is None:
            raise ValueError(
                f"benchmark {name} needs the MNIST files: give data_dir (--data-dir DIR), a "
                "folder with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz"
            )
        folder = Path(data_dir)
        if not folder.is_dir() and not download:
            raise FileNotFoundError(
                f"MNIST data folder {folder} does not exist (it must hold "
                "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; --download fetches them)"
            )
        folder.mkdir(parents=True, exist_ok=True)
        missing = [
            stem
            for stem in MNIST_FILES.values()
            if not (folder / stem).is_file() and not (folder / f"{stem}.gz").is_file()
        ]
        if missing and not download:
            raise FileNotFoundError(
                f"MNIST files missing in {folder}: {', '.join(missing)} (each as NAME.gz or "
                "NAME); download them with --download (download=True) on a machine with "
                "internet, or copy the four standard MNIST files into that folder"
            )
        tasks = _mnist_tasks(name, folder, count, seed, download)
    else:
        tasks = _digits_tasks(name, count, seed)
    if validation > 0:
        tasks = _holdout(tasks, float(validation), seed)
    return tasks


def _mnist_tasks(name: str, folder: Path, count: int, seed: int, download: bool) -> list[Task]:
    mnist = load_mnist(folder, download=download)
    arrays = (to_float(mnist.x_train), mnist.y_train, to_float(mnist.x_test), mnist.y_test)
    if name == "pmnist":
        return _permuted_tasks(name, *arrays, count, seed)
    return _split_tasks(name, *arrays, count)


def _digits_tasks(name: str, count: int, seed: int) -> list[Task]:
    arrays = load_digits_split(seed)
    if name == "digits":
        return _permuted_tasks(name, *arrays, count, seed)
    return _split_tasks(name, *arrays, count)


VISION_LAYOUT: dict[str, str] = {
    "splitcifar100": "cifar-100-python.tar.gz",
    "fivedatasets": "the sub-folders cifar10/, mnist/, svhn/, fashion_mnist/ and notmnist/ "
    "with each set's files",
    "miniimagenet": "miniimagenet/train.pkl and miniimagenet/test.pkl",
}
"""What the data folder of each image benchmark holds."""


def vision_benchmark(
    name: str, data_dir: str | os.PathLike[str] | None, *, download: bool = False
) -> list[Task]:
    """Every task of an image benchmark (:data:`VISION_BENCHMARKS`), as
    :mod:`spikesub.vision_datasets` builds them from the files in ``data_dir``.

    Raises:
        ValueError: no ``data_dir``, or a corrupt file (named).
        FileNotFoundError: files missing; the message names them and where to get them.
    """
    from spikesub import vision_datasets

    if data_dir is None:
        raise ValueError(
            f"benchmark {name} needs its data: give data_dir (--data-dir DIR), a folder with "
            f"{VISION_LAYOUT[name]}"
        )
    if name == "splitcifar100":
        return vision_datasets.split_cifar100(data_dir, download=download)
    if name == "fivedatasets":
        return vision_datasets.five_datasets(data_dir, download=download)
    return vision_datasets.split_mini_imagenet(data_dir)


def class_incremental(tasks: list[Task]) -> list[Task]:
    """The same tasks with one shared head: every task's ``classes`` become the union of all
    tasks' classes, so training and scoring pick among every class of the benchmark (the
    class-incremental scenario; the task identity is not used)."""
    union = tuple(sorted({c for task in tasks for c in task.classes}))
    return [
        Task(
            name=task.name,
            x_train=task.x_train,
            y_train=task.y_train,
            x_test=task.x_test,
            y_test=task.y_test,
            classes=union,
        )  # fmt: skip
        for task in tasks
    ]
