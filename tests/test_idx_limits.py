"""IDX files cannot blow up: the header is read first, its declared size is checked against the
file's kind and the memory budget, and the payload is unpacked up to that size only.

The gzip bombs here are small: a header declaring a huge array over an empty payload, or a few
mebibytes of zeros that compress to kilobytes; nothing large is allocated.
"""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from test_datasets import write_mnist_folder

from spikesub import datasets
from spikesub.datasets import MNIST_FILES, MNIST_MAX_SAMPLES, load_mnist, read_idx, write_idx
from spikesub.models.errors import MemoryBudgetError
from spikesub.models.memory import memory_budget

MIB = 1 << 20


def header(shape, code=0x08) -> bytes:
    """An IDX header declaring ``shape`` of dtype ``code``, built from the format description."""
    return bytes((0, 0, code, len(shape))) + b"".join(struct.pack(">I", s) for s in shape)


def write_gzip_stream(path, first: bytes, zeros: int) -> None:
    """``first``, then ``zeros`` zero bytes, gzipped, written a mebibyte at a time."""
    block = bytes(MIB)
    with gzip.open(path, "wb") as handle:
        handle.write(first)
        for start in range(0, zeros, MIB):
            handle.write(block[: min(MIB, zeros - start)])


@pytest.fixture
def small_budget():
    with memory_budget("64M"):
        yield 64 << 20


def test_a_header_declaring_a_huge_array_is_refused_before_reading_on(tmp_path, small_budget):
    path = tmp_path / "bomb.gz"
    # 4e12 bytes declared; no payload at all: reading on would report a truncated file instead
    path.write_bytes(gzip.compress(header((100_000, 100_000, 400))))
    with pytest.raises(MemoryBudgetError) as info:
        read_idx(path)
    message = str(info.value)
    assert "bomb.gz" in message and "(100000, 100000, 400)" in message
    assert info.value.n_bytes == 100_000 * 100_000 * 400


def test_the_budget_counts_the_declared_bytes_of_the_dtype(tmp_path):
    path = tmp_path / "f8.idx"
    write_idx(path, np.zeros((64, 32), np.float64))  # 16 KiB of float64
    with memory_budget(64 * 32 * 8):
        assert read_idx(path).shape == (64, 32)
    with memory_budget(64 * 32 * 8 - 1), pytest.raises(MemoryBudgetError, match="float64"):
        read_idx(path)


def test_a_gzip_bomb_is_never_unpacked_past_its_declared_size(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    declared = 10 * 28 * 28
    write_gzip_stream(path, header((10, 28, 28)), 48 * MIB)  # 48 MiB unpacked
    assert path.stat().st_size < MIB // 4
    with pytest.raises(ValueError, match="extra bytes") as info:
        read_idx(path)
    # only a mebibyte past the declared size was counted, never all of it
    assert f"the file holds more than {declared + MIB}" in str(info.value)
    assert not isinstance(info.value, MemoryBudgetError)


def test_a_stream_shorter_than_declared_is_truncated(tmp_path):
    path = tmp_path / "short.gz"
    write_gzip_stream(path, header((3, 1000)), 2500)
    with pytest.raises(ValueError, match=r"truncated.*\(3, 1000\).*3000 data bytes.*holds 2500"):
        read_idx(path)


@pytest.mark.parametrize(
    ("kind", "shape", "match"),
    [
        ("images", (MNIST_MAX_SAMPLES + 1, 28, 28), "more than the 1,000,000"),
        ("labels", (MNIST_MAX_SAMPLES + 1,), "more than the 1,000,000 an MNIST file may hold"),
        ("images", (5, 28, 27), r"images of shape \(n, 28, 28\) uint8.*\(5, 28, 27\)"),
        ("labels", (5, 2), r"labels of shape \(n,\) uint8.*\(5, 2\)"),
    ],
)
def test_kind_limits_are_checked_from_the_header(tmp_path, kind, shape, match):
    path = tmp_path / "file.gz"
    path.write_bytes(gzip.compress(header(shape)))  # no payload: refused before it is read
    with pytest.raises(ValueError, match=match) as info:
        read_idx(path, kind=kind)
    assert "truncated" not in str(info.value)


def test_kind_must_be_known(tmp_path):
    path = tmp_path / "x.idx"
    write_idx(path, np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="kind must be"):
        read_idx(path, kind="pixels")
    np.testing.assert_array_equal(read_idx(path, kind="labels"), np.zeros(3, np.uint8))


def test_load_mnist_refuses_a_file_declaring_too_many_images(tmp_path):
    write_mnist_folder(tmp_path)
    stem = MNIST_FILES["x_test"]
    (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(header((50_000_000, 28, 28))))
    with pytest.raises(ValueError, match=f"{stem}.gz.*50,000,000 images.*not MNIST"):
        load_mnist(tmp_path)


def test_load_mnist_under_the_budget_names_the_file(tmp_path):
    write_mnist_folder(tmp_path, n_train=60)
    with memory_budget(20_000), pytest.raises(MemoryBudgetError, match="train-images"):
        load_mnist(tmp_path)  # 60 images are 47,040 bytes


def test_downloads_are_read_the_same_way(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for stem in MNIST_FILES.values():
        shape = (2, 28, 28) if "images" in stem else (2,)
        write_gzip_stream(mirror / f"{stem}.gz", header(shape), 4 * MIB)
    with pytest.raises(datasets.DownloadError, match="extra bytes"):
        datasets.download_mnist(
            tmp_path / "data", mirrors=[mirror.as_uri()], progress=False, checksums=None
        )
    assert list((tmp_path / "data").iterdir()) == []


@pytest.mark.parametrize("code", [0x0B, 0x0C, 0x0D, 0x0E])
def test_multibyte_values_come_back_native_and_writable(tmp_path, code):
    dtype = datasets.IDX_DTYPES[code].newbyteorder("=")
    values = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    path = tmp_path / "values.gz"
    write_idx(path, values)
    got = read_idx(path)
    assert got.dtype == dtype and got.dtype.isnative
    np.testing.assert_array_equal(got, values)
    got[0, 0, 0] = 1  # writable
