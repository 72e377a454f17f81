"""MNIST IDX loader: parsing, validation, downloads from local mirrors, and the task splits."""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import urllib.error

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesub import datasets
from spikesub.datasets import (
    MNIST,
    MNIST_FILES,
    DownloadError,
    download_mnist,
    load_mnist,
    permuted,
    pixel_permutation,
    read_idx,
    split_by_classes,
    to_float,
    write_idx,
)


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    """IDX bytes built by hand from the format description (independent of write_idx)."""
    big_endian = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    header = bytes((0, 0, code, array.ndim)) + b"".join(struct.pack(">I", s) for s in array.shape)
    return header + array.astype(big_endian[code]).tobytes()


def fake_mnist(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    return images, labels


def write_mnist_folder(folder, n_train=12, n_test=5, gz=True, seed=0):
    """The four standard files, written by hand, gzipped or raw."""
    folder.mkdir(parents=True, exist_ok=True)
    x_train, y_train = fake_mnist(n_train, seed)
    x_test, y_test = fake_mnist(n_test, seed + 1)
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    for role, stem in MNIST_FILES.items():
        data = idx_bytes(arrays[role])
        if gz:
            (folder / (stem + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return arrays


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


# ---------------------------------------------------------------------------------------------
# read_idx / write_idx


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip_images_and_labels(tmp_path, gz):
    images, labels = fake_mnist(7, seed=3)
    suffix = ".gz" if gz else ""
    for name, array in (("img", images), ("lbl", labels)):
        data = idx_bytes(array)
        path = tmp_path / (name + suffix)
        path.write_bytes(gzip.compress(data) if gz else data)
        got = read_idx(path)
        assert got.dtype == np.uint8
        assert got.shape == array.shape
        np.testing.assert_array_equal(got, array)
        assert got.flags.writeable


def test_read_idx_detects_gzip_by_magic_bytes(tmp_path):
    images, _ = fake_mnist(3, seed=4)
    path = tmp_path / "no-extension"
    path.write_bytes(gzip.compress(idx_bytes(images)))
    np.testing.assert_array_equal(read_idx(path), images)


@pytest.mark.parametrize(
    ("code", "dtype"),
    [
        (0x08, np.uint8),
        (0x09, np.int8),
        (0x0B, np.int16),
        (0x0C, np.int32),
        (0x0D, np.float32),
        (0x0E, np.float64),
    ],
)
def test_read_idx_standard_dtype_codes_big_endian(tmp_path, code, dtype):
    rng = np.random.default_rng(code)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=(2, 3, 4), endpoint=True).astype(dtype)
    else:
        array = rng.normal(size=(2, 3, 4)).astype(dtype)
    path = tmp_path / "a.idx"
    path.write_bytes(idx_bytes(array, code))
    got = read_idx(path)
    assert got.dtype == np.dtype(dtype)
    assert got.dtype.isnative
    np.testing.assert_array_equal(got, array)
    # write_idx produces exactly the hand-built bytes, and gzip round-trips too
    write_idx(tmp_path / "b.idx", array)
    assert (tmp_path / "b.idx").read_bytes() == idx_bytes(array, code)
    write_idx(tmp_path / "b.idx.gz", array)
    assert gzip.decompress((tmp_path / "b.idx.gz").read_bytes()) == idx_bytes(array, code)
    np.testing.assert_array_equal(read_idx(tmp_path / "b.idx.gz"), array)


def test_read_idx_empty_first_dimension(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(idx_bytes(np.zeros((0, 28, 28), np.uint8)))
    assert read_idx(path).shape == (0, 28, 28)


@given(
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4),
    gz=st.booleans(),
    seed=st.integers(0, 2**31),
)
@settings(max_examples=25, deadline=None)
def test_write_read_property(tmp_path_factory, shape, gz, seed):
    array = np.random.default_rng(seed).integers(0, 256, size=shape).astype(np.uint8)
    path = tmp_path_factory.mktemp("idx") / ("a.gz" if gz else "a")
    write_idx(path, array)
    got = read_idx(path)
    assert got.shape == tuple(shape)
    np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize("first_bytes", [b"\x01\x00\x08\x01", b"\x00\x07\x08\x01", b"PK\x03\x04"])
def test_read_idx_wrong_magic(tmp_path, first_bytes):
    path = tmp_path / "bad-magic"
    path.write_bytes(first_bytes + struct.pack(">I", 2) + b"\x01\x02")
    with pytest.raises(ValueError, match="bad-magic.*magic number") as info:
        read_idx(path)
    assert first_bytes.hex().upper() in str(info.value)


def test_read_idx_unknown_dtype_code(tmp_path):
    path = tmp_path / "code"
    path.write_bytes(b"\x00\x00\x0a\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(ValueError, match=r"code.*unknown dtype code 0x0A.*0x08 uint8"):
        read_idx(path)


def test_read_idx_zero_dimensions(tmp_path):
    path = tmp_path / "zero-dims"
    path.write_bytes(b"\x00\x00\x08\x00")
    with pytest.raises(ValueError, match="zero-dims.*dimensions is 0"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_truncated_payload(tmp_path, gz):
    images, _ = fake_mnist(4, seed=5)
    data = idx_bytes(images)[:-10]
    path = tmp_path / ("short.gz" if gz else "short")
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(ValueError, match=r"short.*truncated.*\(4, 28, 28\).*3136.*3126"):
        read_idx(path)


def test_read_idx_truncated_header_and_tiny_file(tmp_path):
    path = tmp_path / "header"
    path.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">I", 4))
    with pytest.raises(ValueError, match="header.*truncated IDX header"):
        read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="header.*only 2 bytes"):
        read_idx(path)


def test_read_idx_truncated_gzip_stream(tmp_path):
    images, _ = fake_mnist(4, seed=6)
    compressed = gzip.compress(idx_bytes(images))
    path = tmp_path / "cut.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(ValueError, match="cut.gz.*gzip"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_extra_bytes(tmp_path, gz):
    _, labels = fake_mnist(6, seed=7)
    data = idx_bytes(labels) + b"\x00\x01\x02"
    path = tmp_path / ("long.gz" if gz else "long")
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(ValueError, match=r"long.*extra bytes.*\(6,\).*6 data bytes.*holds 9"):
        read_idx(path)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(TypeError, match="array: dtype uint16"):
        write_idx(tmp_path / "x", np.zeros(3, np.uint16))
    with pytest.raises(ValueError, match="ndim"):
        write_idx(tmp_path / "x", np.uint8(3))
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# load_mnist


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_round_trip(tmp_path, gz):
    arrays = write_mnist_folder(tmp_path / "data", gz=gz)
    data = load_mnist(tmp_path / "data")
    assert isinstance(data, MNIST)
    assert data.x_train.dtype == np.uint8 and data.x_train.shape == (12, 28, 28)
    assert data.x_test.dtype == np.uint8 and data.x_test.shape == (5, 28, 28)
    assert data.y_train.dtype == np.int64 and data.y_train.shape == (12,)
    assert data.y_test.dtype == np.int64 and data.y_test.shape == (5,)
    for role in MNIST_FILES:
        np.testing.assert_array_equal(getattr(data, role), arrays[role])
    assert (data.n_train, data.n_test) == (12, 5)
    assert repr(data) == "MNIST(n_train=12, n_test=5)"
    with pytest.raises(AttributeError):
        data.x_train = data.x_test  # frozen


def test_load_mnist_mixed_gz_and_raw(tmp_path):
    arrays = write_mnist_folder(tmp_path, gz=True)
    stem = MNIST_FILES["y_test"]
    (tmp_path / (stem + ".gz")).unlink()
    (tmp_path / stem).write_bytes(idx_bytes(arrays["y_test"]))
    np.testing.assert_array_equal(load_mnist(tmp_path).y_test, arrays["y_test"])


def test_load_mnist_missing_files_message(tmp_path):
    write_mnist_folder(tmp_path, gz=True)
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte" in message
    assert "train-labels-idx1-ubyte" in message
    assert str(tmp_path.resolve()) in message
    assert "download=True" in message
    assert "copy the four standard files" in message
    # the files that are present are not reported missing
    assert "missing in" in message
    missing_part = message.split(": ", 1)[1].split(" (each")[0]
    assert "train-images" not in missing_part and "t10k-labels" not in missing_part


def test_load_mnist_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.*t10k-labels"):
        load_mnist(tmp_path / "does-not-exist")


def test_load_mnist_label_count_mismatch(tmp_path):
    write_mnist_folder(tmp_path, n_train=12, gz=False)
    _, labels = fake_mnist(11, seed=9)
    (tmp_path / MNIST_FILES["y_train"]).write_bytes(idx_bytes(labels))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte: 11 labels for 12 images"):
        load_mnist(tmp_path)


def test_load_mnist_labels_out_of_range(tmp_path):
    write_mnist_folder(tmp_path, n_test=5, gz=False)
    (tmp_path / MNIST_FILES["y_test"]).write_bytes(idx_bytes(np.array([0, 1, 10, 2, 3], np.uint8)))
    with pytest.raises(ValueError, match="t10k-labels.*0..9.*10"):
        load_mnist(tmp_path)


def test_load_mnist_wrong_image_shape(tmp_path):
    write_mnist_folder(tmp_path, n_train=12, gz=False)
    (tmp_path / MNIST_FILES["x_train"]).write_bytes(idx_bytes(np.zeros((12, 28, 27), np.uint8)))
    with pytest.raises(ValueError, match=r"train-images.*\(n, 28, 28\).*\(12, 28, 27\)"):
        load_mnist(tmp_path)


# ---------------------------------------------------------------------------------------------
# downloads (local file:// mirrors and a patched opener only; never the network)


def make_mirror(folder, seed=0):
    """A folder laid out like an MNIST mirror, and the MD5 digests of its files."""
    arrays = write_mnist_folder(folder, n_train=9, n_test=4, gz=True, seed=seed)
    digests = {
        stem + ".gz": hashlib.md5((folder / (stem + ".gz")).read_bytes()).hexdigest()
        for stem in MNIST_FILES.values()
    }
    return arrays, digests


def test_download_from_file_mirror_then_load(tmp_path):
    arrays, digests = make_mirror(tmp_path / "mirror")
    target = tmp_path / "data" / "mnist"
    data = load_mnist(
        target,
        download=True,
        mirrors=[(tmp_path / "mirror").as_uri()],  # no trailing slash: one is added
        progress=False,
        checksums=digests,
    )
    for role in MNIST_FILES:
        np.testing.assert_array_equal(getattr(data, role), arrays[role])
    assert sorted(p.name for p in target.iterdir()) == sorted(
        stem + ".gz" for stem in MNIST_FILES.values()
    )
    for name, digest in digests.items():
        assert hashlib.md5((target / name).read_bytes()).hexdigest() == digest


def test_download_first_mirror_fails_second_works(tmp_path):
    arrays, _ = make_mirror(tmp_path / "good")
    # a mirror with broken copies: the right names, but truncated IDX content
    (tmp_path / "bad").mkdir()
    for stem in MNIST_FILES.values():
        good = gzip.decompress((tmp_path / "good" / (stem + ".gz")).read_bytes())
        (tmp_path / "bad" / (stem + ".gz")).write_bytes(gzip.compress(good[:-1]))
    mirrors = [
        (tmp_path / "absent").as_uri() + "/",
        (tmp_path / "bad").as_uri() + "/",
        (tmp_path / "good").as_uri() + "/",
    ]
    paths = download_mnist(tmp_path / "data", mirrors=mirrors, progress=False, checksums=None)
    assert set(paths) == set(MNIST_FILES)
    for role, path in paths.items():
        np.testing.assert_array_equal(read_idx(path), arrays[role])
    assert leftovers(tmp_path / "data") == []


def test_download_checksum_mismatch_tries_next_mirror(tmp_path):
    _, digests = make_mirror(tmp_path / "a", seed=0)
    arrays_b, digests_b = make_mirror(tmp_path / "b", seed=5)
    assert digests != digests_b
    mirrors = [(tmp_path / "a").as_uri(), (tmp_path / "b").as_uri()]
    download_mnist(tmp_path / "data", mirrors=mirrors, progress=False, checksums=digests_b)
    np.testing.assert_array_equal(load_mnist(tmp_path / "data").x_train, arrays_b["x_train"])


def test_download_all_mirrors_fail(tmp_path):
    _, digests = make_mirror(tmp_path / "mirror")
    wrong = dict.fromkeys(digests, "0" * 32)
    mirrors = [(tmp_path / "absent").as_uri(), (tmp_path / "mirror").as_uri()]
    with pytest.raises(DownloadError) as info:
        download_mnist(tmp_path / "data", mirrors=mirrors, progress=False, checksums=wrong)
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert "absent" in message and "MD5" in message
    assert isinstance(info.value, OSError)
    assert list((tmp_path / "data").iterdir()) == []


def test_default_checksums_reject_other_files(tmp_path):
    make_mirror(tmp_path / "mirror")
    expected = datasets.MNIST_SHA256["train-images-idx3-ubyte.gz"]
    with pytest.raises(DownloadError, match=f"SHA-256.*{expected}"):
        load_mnist(
            tmp_path / "data",
            download=True,
            mirrors=[(tmp_path / "mirror").as_uri()],
            progress=False,
        )
    assert list((tmp_path / "data").iterdir()) == []


def test_download_keeps_present_files(tmp_path):
    arrays, _ = make_mirror(tmp_path / "mirror", seed=0)
    local = write_mnist_folder(tmp_path / "data", gz=False, seed=42, n_train=9, n_test=4)
    (tmp_path / "data" / MNIST_FILES["y_test"]).unlink()
    download_mnist(
        tmp_path / "data", mirrors=[(tmp_path / "mirror").as_uri()], progress=False, checksums=None
    )
    data = load_mnist(tmp_path / "data")
    np.testing.assert_array_equal(data.x_train, local["x_train"])  # kept
    np.testing.assert_array_equal(data.y_test, arrays["y_test"])  # fetched


class FailingResponse(io.BytesIO):
    """A response that delivers some bytes, then the connection drops."""

    def __init__(self, data: bytes, fail_after: int):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}
        self.fail_after = fail_after

    def read(self, size=-1):
        if self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        return super().read(min(size, self.fail_after - self.tell()))


def test_failed_download_leaves_no_temporary_file(tmp_path, monkeypatch):
    make_mirror(tmp_path / "mirror")
    payload = (tmp_path / "mirror" / "train-images-idx3-ubyte.gz").read_bytes()
    calls = []

    def opener(request, timeout=None):
        calls.append(request.full_url)
        if "mirror-a" in request.full_url:
            raise urllib.error.URLError("name resolution failed")
        return FailingResponse(payload, fail_after=len(payload) // 2)

    monkeypatch.setattr(datasets.urllib.request, "urlopen", opener)
    target = tmp_path / "data"
    with pytest.raises(DownloadError, match="connection reset.*copy the four standard"):
        download_mnist(
            target,
            mirrors=["https://mirror-a.invalid/", "https://mirror-b.invalid/"],
            progress=True,
            checksums=None,
        )
    assert calls == [
        "https://mirror-a.invalid/train-images-idx3-ubyte.gz",
        "https://mirror-b.invalid/train-images-idx3-ubyte.gz",
    ]
    assert list(target.iterdir()) == []


def test_interrupted_download_cleans_up_and_keeps_old_file(tmp_path, monkeypatch):
    make_mirror(tmp_path / "mirror")
    payload = (tmp_path / "mirror" / "train-images-idx3-ubyte.gz").read_bytes()

    class Interrupting(FailingResponse):
        def read(self, size=-1):
            if self.tell() >= self.fail_after:
                raise KeyboardInterrupt
            return super().read(size)

    monkeypatch.setattr(
        datasets.urllib.request,
        "urlopen",
        lambda request, timeout=None: Interrupting(payload, fail_after=100),
    )
    target = tmp_path / "data"
    target.mkdir()
    old = target / "train-images-idx3-ubyte.gz"
    old.write_bytes(b"previous content")
    with pytest.raises(KeyboardInterrupt):
        download_mnist(target, mirrors=["https://x.invalid/"], checksums=None, overwrite=True)
    assert sorted(p.name for p in target.iterdir()) == ["train-images-idx3-ubyte.gz"]
    assert old.read_bytes() == b"previous content"


def test_download_parameter_checks(tmp_path):
    with pytest.raises(TypeError, match="mirrors"):
        download_mnist(tmp_path, mirrors="https://example.invalid/")
    with pytest.raises(ValueError, match="mirrors"):
        download_mnist(tmp_path, mirrors=[])


# ---------------------------------------------------------------------------------------------
# preprocessing and splits


def test_to_float():
    images = np.array([[[0, 255], [128, 1]], [[3, 4], [5, 6]]], dtype=np.uint8)
    out = to_float(images)
    assert out.dtype == np.float32 and out.shape == (2, 4)
    np.testing.assert_array_equal(out[0], np.float32([0.0, 1.0, 128 / 255, 1 / 255]))
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(to_float(images.reshape(2, 4)), out)
    full = to_float(np.arange(256, dtype=np.uint8).reshape(1, 256))
    assert full[0, 0] == 0.0 and full[0, -1] == 1.0
    with pytest.raises(TypeError, match="images.*uint8"):
        to_float(images.astype(np.float32))
    with pytest.raises(ValueError, match="images"):
        to_float(np.zeros(3, np.uint8))


def test_permuted_is_a_fixed_permutation_per_seed():
    images, _ = fake_mnist(6, seed=11)
    a = permuted(images, 3)
    b = permuted(images, 3)
    c = permuted(images, 4)
    assert a.shape == images.shape and a.dtype == images.dtype
    np.testing.assert_array_equal(a, b)  # reproducible
    assert not np.array_equal(a, c)  # another seed, another task
    order = pixel_permutation(784, 3)
    assert order.dtype == np.int64
    np.testing.assert_array_equal(np.sort(order), np.arange(784))  # a true permutation
    assert not np.array_equal(order, np.arange(784))
    np.testing.assert_array_equal(a.reshape(6, -1), images.reshape(6, -1)[:, order])
    # the same permutation for every image, so it can be undone with one inverse
    inverse = np.argsort(order)
    np.testing.assert_array_equal(a.reshape(6, -1)[:, inverse], images.reshape(6, -1))
    # flattened input gives the flattened result; each image keeps its multiset of pixels
    np.testing.assert_array_equal(permuted(images.reshape(6, -1), 3), a.reshape(6, -1))
    np.testing.assert_array_equal(np.sort(a.reshape(6, -1)), np.sort(images.reshape(6, -1)))
    # a Generator works too
    np.testing.assert_array_equal(
        permuted(images, np.random.default_rng(3)), permuted(images, np.random.default_rng(3))
    )


@given(n_pixels=st.integers(1, 2000), seed=st.integers(0, 2**32))
@settings(max_examples=25, deadline=None)
def test_pixel_permutation_property(n_pixels, seed):
    order = pixel_permutation(n_pixels, seed)
    assert order.shape == (n_pixels,)
    np.testing.assert_array_equal(np.sort(order), np.arange(n_pixels))
    np.testing.assert_array_equal(order, pixel_permutation(n_pixels, seed))


def test_permutation_parameter_checks():
    with pytest.raises(TypeError, match="seed"):
        pixel_permutation(10, 1.5)
    with pytest.raises(ValueError, match="seed"):
        pixel_permutation(10, -1)
    with pytest.raises(ValueError, match="n_pixels"):
        pixel_permutation(0, 1)
    with pytest.raises(ValueError, match="x"):
        permuted(np.zeros(5), 1)


def test_split_by_classes():
    x = np.arange(10 * 4).reshape(10, 2, 2)
    y = np.array([0, 1, 2, 3, 4, 5, 1, 0, 5, 4])
    xs, ys = split_by_classes(x, y, (4, 5))
    np.testing.assert_array_equal(ys, [4, 5, 5, 4])
    np.testing.assert_array_equal(xs, x[[4, 5, 8, 9]])
    xs, ys = split_by_classes(x, y, [5, 0], relabel=True)
    np.testing.assert_array_equal(ys, [1, 0, 1, 0])  # 5 -> 0, 0 -> 1
    np.testing.assert_array_equal(xs, x[[0, 5, 7, 8]])
    assert ys.dtype == np.int64
    xs, ys = split_by_classes(x, y, [9])
    assert xs.shape == (0, 2, 2) and ys.shape == (0,)
    # the five split-MNIST tasks cover every sample exactly once
    sizes = [split_by_classes(x, y, (2 * t, 2 * t + 1))[1].size for t in range(5)]
    assert sum(sizes) == y.size


def test_split_by_classes_parameter_checks():
    x = np.zeros((4, 3))
    y = np.array([0, 1, 2, 3])
    with pytest.raises(ValueError, match="classes"):
        split_by_classes(x, y, [])
    with pytest.raises(ValueError, match="distinct"):
        split_by_classes(x, y, [1, 1])
    with pytest.raises(TypeError, match="classes"):
        split_by_classes(x, y, [1.0])
    with pytest.raises(ValueError, match="len"):
        split_by_classes(x[:3], y, [1])
    with pytest.raises(ValueError, match="y"):
        split_by_classes(x, y.astype(float), [1])
