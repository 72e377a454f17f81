"""Continual-learning benchmarks: permuted and split tasks from digits and from MNIST IDX files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from spikesub.continual.tasks import BENCHMARKS, Task, load_digits_split, make_benchmark


def test_digits_split_is_stratified_disjoint_and_seeded():
    x_train, y_train, x_test, y_test = load_digits_split(seed=0)
    assert x_train.dtype == np.float32 and x_train.shape[1] == 64
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert len(y_train) + len(y_test) == 1797
    assert y_train.dtype == np.int64
    # stratified: every class has about 25 % of its samples in the test set
    for c in range(10):
        frac = np.sum(y_test == c) / (np.sum(y_test == c) + np.sum(y_train == c))
        assert abs(frac - 0.25) < 0.01
    # disjoint: no test image appears in the training set
    train_rows = {row.tobytes() for row in x_train}
    overlap = sum(row.tobytes() in train_rows for row in x_test)
    assert overlap < 5  # the data set has a handful of duplicate images, no more
    again = load_digits_split(seed=0)
    other = load_digits_split(seed=1)
    assert np.array_equal(again[3], y_test) and np.array_equal(again[2], x_test)
    assert not np.array_equal(other[2], x_test)


def test_permuted_digits_tasks_are_pixel_permutations_of_one_data_set():
    tasks = make_benchmark("digits", seed=3)
    assert len(tasks) == BENCHMARKS["digits"] == 5
    base = tasks[0]
    for task in tasks:
        assert isinstance(task, Task)
        assert task.classes == tuple(range(10))
        assert task.x_train.shape == base.x_train.shape and task.x_train.dtype == np.float32
        assert np.array_equal(task.y_train, base.y_train)
        # same images, pixels reordered: each row's sorted values agree
        assert np.array_equal(np.sort(task.x_train, axis=1), np.sort(base.x_train, axis=1))
    # one permutation per task, applied to train and test alike
    both = np.vstack([base.x_train, base.x_test])
    for task in tasks[1:]:
        assert not np.array_equal(task.x_train, base.x_train)
        perm = _recover_permutation(both, np.vstack([task.x_train, task.x_test]))
        assert np.array_equal(task.x_test, base.x_test[:, perm])
        assert np.array_equal(task.x_train, base.x_train[:, perm])
    # every task is permuted, the first included (GPM/HLOP convention)
    plain = load_digits_split(seed=3)[0]
    assert not np.array_equal(base.x_train, plain)
    assert np.array_equal(np.sort(base.x_train, axis=1), np.sort(plain, axis=1))


def _recover_permutation(a, b):
    """A column order ``p`` with ``b == a[:, p]`` (KeyError when there is none)."""
    cols_a = {a[:, j].tobytes(): j for j in range(a.shape[1])}
    return np.array([cols_a[b[:, j].tobytes()] for j in range(b.shape[1])])


def test_same_seed_same_tasks_other_seed_other_permutations():
    a = make_benchmark("digits", seed=0, n_tasks=2)
    b = make_benchmark("digits", seed=0, n_tasks=2)
    c = make_benchmark("digits", seed=1, n_tasks=2)
    assert np.array_equal(a[1].x_train, b[1].x_train)
    assert not np.array_equal(a[1].x_test[:, :10], c[1].x_test[:, :10])


def test_split_digits_has_two_classes_per_task():
    tasks = make_benchmark("splitdigits", seed=0)
    assert [t.classes for t in tasks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    x_train, y_train, _, y_test = load_digits_split(seed=0)
    assert sum(len(t.y_train) for t in tasks) == len(y_train)
    assert sum(len(t.y_test) for t in tasks) == len(y_test)
    for task in tasks:
        assert set(np.unique(task.y_train)) == set(task.classes)
        assert set(np.unique(task.y_test)) == set(task.classes)


def test_n_tasks_and_validation_holdout():
    tasks = make_benchmark("splitdigits", n_tasks=2)
    assert [t.classes for t in tasks] == [(0, 1), (2, 3)]
    full = make_benchmark("digits", n_tasks=1)[0]
    val = make_benchmark("digits", n_tasks=1, validation=0.2)[0]
    n = len(full.y_train)
    assert len(val.y_test) == round(0.2 * n)
    assert len(val.y_train) + len(val.y_test) == n
    # the held-out samples come from the training set, not the test set
    train_rows = {row.tobytes() for row in full.x_train}
    assert all(row.tobytes() in train_rows for row in val.x_test)
    held = {row.tobytes() for row in val.x_test}
    assert not any(row.tobytes() in held for row in val.x_train[:200])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(name="cifar"), ValueError, "benchmark must be one of"),
        (dict(name="digits", n_tasks=0), ValueError, "n_tasks must be in 1..5"),
        (dict(name="pmnist", n_tasks=11, data_dir="x"), ValueError, "n_tasks must be in 1..10"),
        (dict(name="digits", validation=1.0), ValueError, "validation"),
        (dict(name="digits", n_tasks=2.0), TypeError, "n_tasks"),
        (dict(name="pmnist"), ValueError, "--data-dir"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    name = kwargs.pop("name")
    with pytest.raises(error, match=match):
        make_benchmark(name, **kwargs)


def test_permuted_mnist_from_idx_files(write_tiny_mnist, tmp_path):
    arrays = write_tiny_mnist(tmp_path / "mnist")
    tasks = make_benchmark("pmnist", data_dir=tmp_path / "mnist", seed=0)
    assert len(tasks) == 10
    flat = arrays["x_train"].reshape(60, 784).astype(np.float32) / 255
    for task in tasks:
        assert task.x_train.shape == (60, 784) and task.x_test.shape == (20, 784)
        assert task.x_train.dtype == np.float32 and task.y_train.dtype == np.int64
        assert np.allclose(np.sort(task.x_train, axis=1), np.sort(flat, axis=1))
        assert np.array_equal(task.y_test, arrays["y_test"])
    assert not np.array_equal(tasks[0].x_train, tasks[1].x_train)


def test_split_mnist_from_idx_files(write_tiny_mnist, tmp_path):
    write_tiny_mnist(tmp_path)
    tasks = make_benchmark("splitmnist", data_dir=tmp_path, n_tasks=3)
    assert [t.classes for t in tasks] == [(0, 1), (2, 3), (4, 5)]
    for task in tasks:
        assert len(task.y_train) == 12 and len(task.y_test) == 4
        assert set(np.unique(task.y_train)) == set(task.classes)


def test_missing_mnist_files_are_named(write_tiny_mnist, tmp_path):
    write_tiny_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte") as info:
        make_benchmark("pmnist", data_dir=tmp_path)
    assert "--download" in str(info.value)
    assert "train-images" not in str(info.value).split("(")[0]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_benchmark("splitmnist", data_dir=tmp_path / "nowhere")


def test_corrupt_idx_files_are_rejected_with_the_file_name(write_tiny_mnist, tmp_path):
    write_tiny_mnist(tmp_path)
    labels = tmp_path / "train-labels-idx1-ubyte.gz"
    raw = gzip.decompress(labels.read_bytes())
    labels.write_bytes(gzip.compress(b"\x01\x02" + raw[2:]))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz: bad IDX magic"):
        make_benchmark("pmnist", data_dir=tmp_path)
    labels.write_bytes(gzip.compress(raw[:-7]))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz: IDX file truncated"):
        make_benchmark("pmnist", data_dir=tmp_path)
