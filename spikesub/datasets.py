"""MNIST in the standard IDX format: reading, downloading, and the usual continual-learning splits.

The four standard files are looked up in a data folder, gzipped (``*.gz``) or raw::

    train-images-idx3-ubyte   train-labels-idx1-ubyte
    t10k-images-idx3-ubyte    t10k-labels-idx1-ubyte

:func:`load_mnist` reads them into an :class:`MNIST` record; with ``download=True`` it first
fetches the missing ones with :func:`download_mnist`, which tries each mirror in turn, checks the
MD5 digest and that the file parses, and renames a complete file into place only at the end, so
an interrupted download leaves nothing behind.

IDX layout (big-endian): two zero bytes, a dtype code, the number of dimensions ``ndim``, then
``ndim`` unsigned 32-bit sizes, then the values in C order. Dtype codes: ``0x08`` uint8,
``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64.

For continual learning: :func:`to_float` scales images to ``float32`` in ``[0, 1]`` and
flattens them, :func:`permuted` applies one fixed pixel permutation per seed (permuted MNIST),
and :func:`split_by_classes` keeps the samples of some classes (split MNIST).
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import struct
import sys
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spikesub.models.errors import SpikesubError
from spikesub.runs import atomic_write_bytes

__all__ = [
    "DEFAULT_MIRRORS",
    "IDX_DTYPES",
    "MNIST",
    "MNIST_FILES",
    "MNIST_MD5",
    "DownloadError",
    "download_mnist",
    "load_mnist",
    "permuted",
    "pixel_permutation",
    "read_idx",
    "split_by_classes",
    "to_float",
    "write_idx",
]

#: IDX dtype code -> big-endian NumPy dtype of the stored values.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_KIND = {(dt.kind, dt.itemsize): code for code, dt in IDX_DTYPES.items()}
_CODE_NAMES = ", ".join(
    f"0x{code:02X} {dt.newbyteorder('=').name}" for code, dt in IDX_DTYPES.items()
)

#: Mirrors of the original MNIST files, tried in this order.
DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: The four standard files (without ``.gz``), by role.
MNIST_FILES: dict[str, str] = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

#: MD5 digests of the original gzipped files, as published with torchvision's MNIST.
MNIST_MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK_BYTES = 1 << 16
_TIMEOUT_S = 60.0
_USER_AGENT = "spikesub (MNIST loader)"


class DownloadError(SpikesubError, OSError):
    """No mirror delivered a valid copy of a file."""


# ---------------------------------------------------------------------------------------------
# IDX files


def _decode_idx(data: bytes, name: str) -> np.ndarray:
    """Parse the bytes of an (uncompressed) IDX file; ``name`` is used in error messages."""
    if len(data) < 4:
        raise ValueError(f"{name}: not an IDX file: only {len(data)} bytes, the header needs 4")
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0:
        raise ValueError(
            f"{name}: bad IDX magic number 0x{data[:4].hex().upper()}: an IDX file starts with "
            "two zero bytes, a dtype code and the number of dimensions"
        )
    if code not in IDX_DTYPES:
        raise ValueError(
            f"{name}: bad IDX magic number 0x{data[:4].hex().upper()}: unknown dtype code "
            f"0x{code:02X}; allowed codes are {_CODE_NAMES}"
        )
    if ndim < 1:
        raise ValueError(f"{name}: bad IDX magic number: number of dimensions is 0, must be >= 1")
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise ValueError(
            f"{name}: truncated IDX header: {ndim} dimensions need {header_bytes} header bytes, "
            f"the file has {len(data)}"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_bytes])
    dtype = IDX_DTYPES[code]
    expected = dtype.itemsize
    for size in shape:
        expected *= size
    payload = len(data) - header_bytes
    if payload != expected:
        what = "truncated" if payload < expected else "has extra bytes"
        raise ValueError(
            f"{name}: IDX file {what}: header says shape {tuple(shape)} of "
            f"{dtype.newbyteorder('=').name} ({expected} data bytes), the file holds {payload}"
        )
    values = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header_bytes)
    # a native-order copy: writable, and no surprise byte order downstream
    return values.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when it is gzipped (by extension or by magic bytes)."""
    with open(path, "rb") as handle:
        raw = handle.read()
    if path.suffix == ".gz" or raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: not a valid gzip file ({exc})") from exc
    return raw


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, gzipped or not.

    A file is treated as gzip when its name ends in ``.gz`` or it starts with the bytes
    ``1f 8b``.

    Args:
        path: the file.

    Returns:
        The array in native byte order, with the shape and dtype the header gives (``uint8`` for
        MNIST: images ``(n, 28, 28)``, labels ``(n,)``).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: bad magic number or dtype code, a broken gzip stream, or a payload that is
            shorter or longer than the header says; the message names the file.
    """
    path = Path(path)
    return _decode_idx(_read_bytes(path), str(path))


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file, gzipped when ``path`` ends in ``.gz``, atomically.

    Args:
        path: destination file; its folder must exist.
        array: at least one dimension, of dtype uint8, int8, int16, int32, float32 or float64.

    Returns:
        ``path`` as a :class:`pathlib.Path`.
    """
    array = np.asarray(array)
    code = _CODE_OF_KIND.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise TypeError(
            f"array: dtype {array.dtype} has no IDX code; allowed IDX codes are {_CODE_NAMES}"
        )
    if array.ndim < 1 or array.ndim > 255:
        raise ValueError(f"array: ndim must be in 1..255; got {array.ndim}")
    if any(size >= 2**32 for size in array.shape):
        raise ValueError(f"array: each dimension must be < 2**32; got shape {array.shape}")
    header = bytes((0, 0, code, array.ndim)) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    return atomic_write_bytes(path, data)


# ---------------------------------------------------------------------------------------------
# MNIST


@dataclass(frozen=True, eq=False)
class MNIST:
    """MNIST digits and labels.

    Attributes:
        x_train: training images ``(n_train, 28, 28)`` uint8, 0 = background, 255 = ink.
        y_train: training labels ``(n_train,)`` int64 in 0..9.
        x_test: test images ``(n_test, 28, 28)`` uint8.
        y_test: test labels ``(n_test,)`` int64 in 0..9.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_train(self) -> int:
        """Number of training digits."""
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test digits."""
        return int(self.x_test.shape[0])

    def __repr__(self) -> str:
        return f"MNIST(n_train={self.n_train}, n_test={self.n_test})"


def _find_file(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _missing_files(folder: Path) -> list[str]:
    return [stem for stem in MNIST_FILES.values() if _find_file(folder, stem) is None]


def _check_images(array: np.ndarray, name: str) -> None:
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[1:] != (28, 28):
        raise ValueError(
            f"{name}: expected MNIST images of shape (n, 28, 28) uint8; "
            f"got shape {array.shape} {array.dtype}"
        )


def _check_labels(array: np.ndarray, name: str) -> None:
    if array.dtype != np.uint8 or array.ndim != 1:
        raise ValueError(
            f"{name}: expected MNIST labels of shape (n,) uint8; got shape {array.shape} "
            f"{array.dtype}"
        )
    if array.size and int(array.max()) > 9:
        raise ValueError(f"{name}: labels must be in 0..9; found {int(array.max())}")


def _check_by_role(array: np.ndarray, name: str) -> None:
    if "images" in name:
        _check_images(array, name)
    elif "labels" in name:
        _check_labels(array, name)


def load_mnist(
    data_dir: str | os.PathLike[str],
    *,
    download: bool = False,
    mirrors: Sequence[str] = DEFAULT_MIRRORS,
    progress: bool | None = None,
    checksums: Mapping[str, str] | None = MNIST_MD5,
) -> MNIST:
    """Load MNIST from the four standard IDX files in ``data_dir``.

    Each file may be gzipped (``train-images-idx3-ubyte.gz``) or raw
    (``train-images-idx3-ubyte``); the gzipped one is used when both are there.

    Args:
        data_dir: folder holding the files.
        download: fetch the missing files first (needs internet); see :func:`download_mnist`.
        mirrors: base URLs tried in order when downloading.
        progress: show download progress bars (default: when stderr is a terminal).
        checksums: MD5 digests that downloaded files must match, by file name; ``None`` skips
            the check (for mirrors of other IDX data). Files already present are not checked.

    Returns:
        An :class:`MNIST` record: images ``(n, 28, 28)`` uint8, labels ``(n,)`` int64.

    Raises:
        FileNotFoundError: files are missing and ``download`` is false; the message names them,
            the folder, and how to get them.
        ValueError: a file does not parse, has the wrong shape, labels outside 0..9, or a label
            count different from its image count.
        DownloadError: ``download`` is true and no mirror delivered a valid file.
    """
    folder = Path(data_dir)
    missing = _missing_files(folder)
    if missing and download:
        download_mnist(folder, mirrors=mirrors, progress=progress, checksums=checksums)
        missing = _missing_files(folder)
    if missing:
        listing = ", ".join(missing)
        raise FileNotFoundError(
            f"MNIST files missing in {folder.resolve()}: {listing} (each as NAME.gz or NAME). "
            "To get them, call load_mnist(..., download=True) on a machine with internet, or "
            "copy the four standard files (train-images-idx3-ubyte.gz, "
            "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) "
            "into that folder"
        )

    arrays: dict[str, np.ndarray] = {}
    paths: dict[str, Path] = {}
    for role, stem in MNIST_FILES.items():
        path = _find_file(folder, stem)
        if path is None:  # removed between the check above and now
            raise FileNotFoundError(f"MNIST file missing in {folder.resolve()}: {stem}")
        paths[role] = path
        array = read_idx(path)
        _check_by_role(array, str(path))
        arrays[role] = array
    for split in ("train", "test"):
        n_images = arrays[f"x_{split}"].shape[0]
        n_labels = arrays[f"y_{split}"].shape[0]
        if n_images != n_labels:
            raise ValueError(
                f"{paths[f'y_{split}']}: {n_labels} labels for {n_images} images in "
                f"{paths[f'x_{split}']}; the counts must be equal"
            )
    return MNIST(
        x_train=arrays["x_train"],
        y_train=arrays["y_train"].astype(np.int64),
        x_test=arrays["x_test"],
        y_test=arrays["y_test"].astype(np.int64),
    )


def _show_progress(progress: bool | None) -> bool:
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(progress)


def _fetch(url: str, dest: Path, show: bool, md5: str | None) -> None:
    """Download ``url`` into ``dest`` through a temporary file in ``dest``'s folder.

    The file is renamed into place only after its digest and content check out; on any error
    the temporary file is removed and ``dest`` is left as it was.
    """
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    bar: Any = None
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with (
            os.fdopen(fd, "wb") as handle,
            urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response,
        ):
            length = response.headers.get("Content-Length") if response.headers else None
            if show:
                from tqdm.auto import tqdm

                bar = tqdm(
                    total=int(length) if length else None,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=dest.name,
                    leave=False,
                )
            while True:
                chunk = response.read(_CHUNK_BYTES)
                if not chunk:
                    break
                handle.write(chunk)
                digest.update(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            handle.flush()
            os.fsync(handle.fileno())
        if md5 is not None and digest.hexdigest() != md5.lower():
            raise ValueError(f"MD5 {digest.hexdigest()} does not match the expected {md5}")
        array = _decode_idx(_read_bytes(Path(tmp_name)), url)
        _check_by_role(array, url)
        os.replace(tmp_name, dest)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    finally:
        if bar is not None:
            bar.close()


def download_mnist(
    data_dir: str | os.PathLike[str],
    *,
    mirrors: Sequence[str] = DEFAULT_MIRRORS,
    progress: bool | None = None,
    checksums: Mapping[str, str] | None = MNIST_MD5,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Download the four gzipped MNIST files into ``data_dir``.

    For each file the mirrors are tried in order until one delivers a copy that matches its MD5
    digest (when ``checksums`` has one) and parses as MNIST images or labels. Each file is
    streamed into a temporary file in ``data_dir`` and renamed into place only when complete,
    so an interrupted or failed download never leaves a partial file.

    Args:
        data_dir: destination folder, created if needed.
        mirrors: base URLs (``https://``, ``http://`` or ``file://``); the file name is appended.
        progress: show a progress bar per file (default: when stderr is a terminal).
        checksums: MD5 digests by file name (default: the original MNIST files); ``None``
            skips the digest check.
        overwrite: download files that are already present (gzipped or raw) too.

    Returns:
        The path of each file by role (``"x_train"``, ``"y_train"``, ``"x_test"``, ``"y_test"``),
        whether downloaded now or already present.

    Raises:
        DownloadError: every mirror failed for some file; the message gives each mirror's error.
    """
    if isinstance(mirrors, str):
        raise TypeError("mirrors must be a sequence of base URLs, not a single string")
    mirrors = [str(m) for m in mirrors]
    if not mirrors:
        raise ValueError("mirrors must hold at least one base URL")
    folder = Path(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    show = _show_progress(progress)
    paths: dict[str, Path] = {}
    for role, stem in MNIST_FILES.items():
        present = _find_file(folder, stem)
        if present is not None and not overwrite:
            paths[role] = present
            continue
        name = stem + ".gz"
        md5 = checksums.get(name) if checksums is not None else None
        errors: list[str] = []
        for mirror in mirrors:
            url = mirror if mirror.endswith("/") else mirror + "/"
            url += name
            try:
                _fetch(url, folder / name, show, md5)
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
                errors.append(f"{url}: {exc}")
                continue
            break
        else:
            details = "; ".join(errors)
            raise DownloadError(
                f"could not download {name} from any mirror ({details}); check the connection "
                f"or copy the four standard MNIST files into {folder.resolve()}"
            )
        paths[role] = folder / name
    return paths


# ---------------------------------------------------------------------------------------------
# Preprocessing and continual-learning splits


def to_float(images: np.ndarray) -> np.ndarray:
    """Scale uint8 images to float32 in ``[0, 1]`` and flatten them.

    Args:
        images: ``(n, 28, 28)`` or ``(n, 784)`` uint8 (any ``(n, ...)`` shape works).

    Returns:
        ``(n, pixels)`` float32, ``pixel / 255``.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images: dtype must be uint8 (0..255); got {images.dtype}")
    if images.ndim < 2:
        raise ValueError(f"images: shape must be (n, ...pixels); got {images.shape}")
    flat = images.reshape(images.shape[0], -1)
    return (flat.astype(np.float64) / 255.0).astype(np.float32)


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int >= 0 or a numpy.random.Generator; got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be an int >= 0; got {seed}")
    return np.random.default_rng(int(seed))


def pixel_permutation(n_pixels: int, seed: int | np.random.Generator) -> np.ndarray:
    """The pixel order that :func:`permuted` applies for ``seed``.

    Args:
        n_pixels: number of pixels per image (784 for MNIST), >= 1.
        seed: an int (the same int always gives the same permutation) or a Generator.

    Returns:
        ``(n_pixels,)`` int64, a permutation of ``0..n_pixels-1``.
    """
    if isinstance(n_pixels, (bool, np.bool_)) or not isinstance(n_pixels, (int, np.integer)):
        raise TypeError(f"n_pixels must be an int >= 1; got {n_pixels!r}")
    if n_pixels < 1:
        raise ValueError(f"n_pixels must be >= 1; got {n_pixels}")
    return _rng(seed).permutation(int(n_pixels)).astype(np.int64)


def permuted(x: np.ndarray, seed: int | np.random.Generator) -> np.ndarray:
    """Shuffle the pixels of every image with one fixed permutation (permuted MNIST).

    All images get the same permutation, drawn from ``seed``; the same int seed always gives
    the same permutation, so each seed defines one task.

    Args:
        x: images ``(n, 28, 28)`` or flattened ``(n, 784)``, any dtype.
        seed: an int or a Generator.

    Returns:
        A new array of ``x``'s shape and dtype with ``out.reshape(n, -1) ==
        x.reshape(n, -1)[:, pixel_permutation(pixels, seed)]``.
    """
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x: shape must be (n, ...pixels); got {x.shape}")
    flat = x.reshape(x.shape[0], -1)
    order = pixel_permutation(int(np.prod(x.shape[1:])), seed)
    return flat[:, order].reshape(x.shape)


def split_by_classes(
    x: np.ndarray,
    y: np.ndarray,
    classes: Iterable[int],
    *,
    relabel: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the samples whose label is in ``classes`` (split MNIST), in their original order.

    Args:
        x: samples ``(n, ...)``.
        y: integer labels ``(n,)``.
        classes: the labels to keep, distinct, at least one (e.g. ``(0, 1)``).
        relabel: map each kept label to its position in ``classes`` (``(4, 5)`` -> 0, 1), as
            task-incremental heads expect; by default labels are kept as they are.

    Returns:
        ``(x_subset, y_subset)``, copies.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y: must be integer labels of shape (n,); got {y.shape} {y.dtype}")
    if x.ndim < 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x: first dimension must equal len(y) = {y.shape[0]}; got {x.shape}")
    wanted = list(classes)
    if not wanted:
        raise ValueError("classes: give at least one label")
    for c in wanted:
        if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer)):
            raise TypeError(f"classes: labels must be ints; got {c!r}")
    if len(set(int(c) for c in wanted)) != len(wanted):
        raise ValueError(f"classes: labels must be distinct; got {wanted}")
    wanted_arr = np.asarray(wanted, dtype=np.int64)
    mask = np.isin(y, wanted_arr)
    x_sub = x[mask]
    y_sub = y[mask]
    if relabel:
        order = np.argsort(wanted_arr)
        y_sub = order[np.searchsorted(wanted_arr[order], y_sub)].astype(np.int64)
    return x_sub, y_sub
