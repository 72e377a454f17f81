"""MNIST in the standard IDX format: reading, downloading, and the usual continual-learning splits.

The four standard files are looked up in a data folder, gzipped (``*.gz``) or raw::

    train-images-idx3-ubyte   train-labels-idx1-ubyte
    t10k-images-idx3-ubyte    t10k-labels-idx1-ubyte

:func:`load_mnist` reads them into an :class:`MNIST` record; with ``download=True`` it first
fetches the missing ones with :func:`download_mnist`, which tries each mirror in turn, checks the
SHA-256 digest and that the file parses, and renames a complete file into place only at the end,
so an interrupted download leaves nothing behind. :func:`verify_data_dir` checks the files
already in a folder (size, header, content, digest).

Reading never trusts a file's size: :func:`read_idx` reads the header first (through the
decompressor for a gzipped file), checks the size it declares against the file's kind and the
memory budget (:mod:`spikesub.models.memory`), and then unpacks at most that many bytes, so a
small gzip file that would unpack to gigabytes (a "gzip bomb") is refused, not unpacked.

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
import math
import os
import struct
import sys
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from spikesub.models.errors import MemoryBudgetError, SpikesubError
from spikesub.models.memory import check_allocation
from spikesub.runs import atomic_write_bytes

__all__ = [
    "CHECK_STATUSES",
    "DEFAULT_MIRRORS",
    "IDX_DTYPES",
    "MNIST",
    "MNIST_FILES",
    "MNIST_GZ_BYTES",
    "MNIST_MAX_SAMPLES",
    "MNIST_MD5",
    "MNIST_SHA256",
    "DownloadError",
    "FileCheck",
    "download_mnist",
    "load_mnist",
    "permuted",
    "pixel_permutation",
    "read_idx",
    "split_by_classes",
    "to_float",
    "verify_data_dir",
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

#: SHA-256 digests of the original gzipped files, as TensorFlow Datasets lists them for its
#: MNIST builder (its URL checksums); independent MNIST loaders publish the same values.
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",  # noqa: E501
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",  # noqa: E501
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

#: Sizes in bytes of the original gzipped files, as the MNIST page gives them.
MNIST_GZ_BYTES: dict[str, int] = {
    "train-images-idx3-ubyte.gz": 9_912_422,
    "train-labels-idx1-ubyte.gz": 28_881,
    "t10k-images-idx3-ubyte.gz": 1_648_877,
    "t10k-labels-idx1-ubyte.gz": 4_542,
}

#: Most images (or labels) an MNIST file may declare: the standard files hold 60,000 and
#: 10,000; a header that declares more than this is not MNIST and is refused unread.
MNIST_MAX_SAMPLES = 1_000_000

# Kind of MNIST file -> (its layout in words, the dimensions after the first).
_KIND_LAYOUTS: dict[str, tuple[str, tuple[int, ...]]] = {
    "images": ("(n, 28, 28)", (28, 28)),
    "labels": ("(n,)", ()),
}

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK_BYTES = 1 << 16
# Bytes past the declared size that are counted (never kept) to report how much is extra.
_EXTRA_COUNT_BYTES = 1 << 20
_TIMEOUT_S = 60.0
_USER_AGENT = "spikesub (MNIST loader)"


class DownloadError(SpikesubError, OSError):
    """No mirror delivered a valid copy of a file."""


# ---------------------------------------------------------------------------------------------
# IDX files


@dataclass(frozen=True)
class _IdxHeader:
    """What an IDX header declares: the stored dtype (big-endian) and the shape."""

    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def data_bytes(self) -> int:
        """Bytes of the values the header announces (a Python int: no overflow)."""
        return self.dtype.itemsize * math.prod(self.shape)

    def describe(self) -> str:
        return f"shape {self.shape} of {self.dtype.newbyteorder('=').name}"


@contextmanager
def _idx_stream(path: Path, name: str) -> Iterator[BinaryIO]:
    """The file's bytes as a stream, decompressed on the fly when it is gzipped (by extension
    or by its first two bytes); gzip errors while reading become ValueError naming ``name``."""
    with open(path, "rb") as raw:
        compressed = path.suffix == ".gz" or raw.peek(2)[:2] == _GZIP_MAGIC
        if not compressed:
            yield raw
            return
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                yield stream
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{name}: not a valid gzip file ({exc})") from exc


def _read_up_to(stream: BinaryIO, n_bytes: int) -> bytes:
    """At most ``n_bytes`` bytes: fewer only at the end of the stream."""
    parts: list[bytes] = []
    while n_bytes > 0:
        chunk = stream.read(min(n_bytes, _CHUNK_BYTES))
        if not chunk:
            break
        parts.append(chunk)
        n_bytes -= len(chunk)
    return b"".join(parts)


def _read_header(stream: BinaryIO, name: str) -> _IdxHeader:
    """Parse an IDX header from the start of ``stream``; ``name`` is used in error messages."""
    magic = _read_up_to(stream, 4)
    if len(magic) < 4:
        raise ValueError(f"{name}: not an IDX file: only {len(magic)} bytes, the header needs 4")
    zero0, zero1, code, ndim = magic
    if zero0 != 0 or zero1 != 0:
        raise ValueError(
            f"{name}: bad IDX magic number 0x{magic.hex().upper()}: an IDX file starts with "
            "two zero bytes, a dtype code and the number of dimensions"
        )
    if code not in IDX_DTYPES:
        raise ValueError(
            f"{name}: bad IDX magic number 0x{magic.hex().upper()}: unknown dtype code "
            f"0x{code:02X}; allowed codes are {_CODE_NAMES}"
        )
    if ndim < 1:
        raise ValueError(f"{name}: bad IDX magic number: number of dimensions is 0, must be >= 1")
    sizes = _read_up_to(stream, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise ValueError(
            f"{name}: truncated IDX header: {ndim} dimensions need {4 + 4 * ndim} header bytes, "
            f"the file has {4 + len(sizes)}"
        )
    shape = struct.unpack(f">{ndim}I", sizes)
    return _IdxHeader(dtype=IDX_DTYPES[code], shape=tuple(shape))


def _check_header_kind(header: _IdxHeader, kind: str | None, name: str) -> None:
    """Refuse, from the header alone, a file that cannot be MNIST ``kind`` (images or labels)."""
    if kind is None:
        return
    if kind not in _KIND_LAYOUTS:
        raise ValueError(f"kind must be None, 'images' or 'labels'; got {kind!r}")
    layout, tail = _KIND_LAYOUTS[kind]
    if header.dtype != IDX_DTYPES[0x08] or header.shape[1:] != tail:
        raise ValueError(
            f"{name}: expected MNIST {kind} of shape {layout} uint8; got {header.describe()}"
        )
    if header.shape[0] > MNIST_MAX_SAMPLES:
        raise ValueError(
            f"{name}: header declares {header.shape[0]:,} {kind}, more than the "
            f"{MNIST_MAX_SAMPLES:,} an MNIST file may hold; the file is not MNIST"
        )


def _count_rest(stream: BinaryIO, limit: int) -> tuple[int, bool]:
    """Bytes left in ``stream``, counted (not kept) up to ``limit``; True if there are more."""
    count = 0
    while count < limit:
        chunk = stream.read(min(_CHUNK_BYTES, limit - count))
        if not chunk:
            return count, False
        count += len(chunk)
    return count, bool(stream.read(1))


def _read_payload(stream: BinaryIO, header: _IdxHeader, name: str) -> np.ndarray:
    """The values after the header, read in chunks into one buffer of the declared size.

    Refuses a payload shorter than declared (truncated) and one longer (extra bytes; a gzip
    stream that unpacks to more than its header declares is never unpacked beyond a small
    count of the excess).
    """
    expected = header.data_bytes
    buffer = np.empty(expected, dtype=np.uint8)
    view = memoryview(buffer)
    filled = 0
    while filled < expected:
        chunk = stream.readinto(view[filled : filled + _CHUNK_BYTES])
        if not chunk:
            break
        filled += chunk
    extra, more = (0, False) if filled < expected else _count_rest(stream, _EXTRA_COUNT_BYTES)
    if filled < expected or extra:
        what = "truncated" if filled < expected else "has extra bytes"
        holds = f"more than {filled + extra}" if more else f"{filled + extra}"
        raise ValueError(
            f"{name}: IDX file {what}: header says {header.describe()} ({expected} data "
            f"bytes), the file holds {holds}"
        )
    values = buffer.view(header.dtype)
    if header.dtype.itemsize > 1:  # native byte order, in place
        values = values.byteswap(inplace=True).view(header.dtype.newbyteorder("="))
    else:
        values = values.view(header.dtype.newbyteorder("="))
    return values.reshape(header.shape)


def _read_idx(path: Path, name: str, kind: str | None = None) -> np.ndarray:
    with _idx_stream(path, name) as stream:
        header = _read_header(stream, name)
        _check_header_kind(header, kind, name)
        check_allocation(f"{name}: IDX data of {header.describe()}", header.data_bytes)
        return _read_payload(stream, header, name)


def read_idx(path: str | os.PathLike[str], *, kind: str | None = None) -> np.ndarray:
    """Read an IDX file, gzipped or not, without ever unpacking more than its header declares.

    A file is treated as gzip when its name ends in ``.gz`` or it starts with the bytes
    ``1f 8b``. The header is read first (through the decompressor); the size it declares is
    checked against ``kind``'s limits and the memory budget (:mod:`spikesub.models.memory`)
    before the values are read, in chunks, into one buffer of exactly that size.

    Args:
        path: the file.
        kind: ``"images"`` (``(n, 28, 28)`` uint8) or ``"labels"`` (``(n,)`` uint8), with
            ``n <= MNIST_MAX_SAMPLES``, to refuse a file that is not MNIST from its header;
            ``None`` accepts any IDX content.

    Returns:
        The array in native byte order, with the shape and dtype the header gives (``uint8`` for
        MNIST: images ``(n, 28, 28)``, labels ``(n,)``).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: bad magic number or dtype code, a broken gzip stream, a header that does
            not fit ``kind``, or a payload that is shorter or longer than the header says; the
            message names the file.
        MemoryBudgetError: the declared size exceeds the memory budget.
    """
    path = Path(path)
    return _read_idx(path, str(path), kind)


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


def _check_images(name: str, array: np.ndarray) -> None:
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[1:] != (28, 28):
        raise ValueError(
            f"{name}: expected MNIST images of shape (n, 28, 28) uint8; "
            f"got shape {array.shape} {array.dtype}"
        )


def _check_labels(name: str, array: np.ndarray) -> None:
    if array.dtype != np.uint8 or array.ndim != 1:
        raise ValueError(
            f"{name}: expected MNIST labels of shape (n,) uint8; got shape {array.shape} "
            f"{array.dtype}"
        )
    if array.size and int(array.max()) > 9:
        raise ValueError(f"{name}: labels must be in 0..9; found {int(array.max())}")


def _kind_of(name: str) -> str | None:
    """``"images"`` or ``"labels"`` from an MNIST file name (None for other names)."""
    if "images" in name:
        return "images"
    if "labels" in name:
        return "labels"
    return None


def _check_by_role(name: str, array: np.ndarray) -> None:
    kind = _kind_of(name)
    if kind == "images":
        _check_images(name, array)
    elif kind == "labels":
        _check_labels(name, array)


def load_mnist(
    data_dir: str | os.PathLike[str],
    *,
    download: bool = False,
    mirrors: Sequence[str] = DEFAULT_MIRRORS,
    progress: bool | None = None,
    checksums: Mapping[str, str] | None = MNIST_SHA256,
) -> MNIST:
    """Load MNIST from the four standard IDX files in ``data_dir``.

    Each file may be gzipped (``train-images-idx3-ubyte.gz``) or raw
    (``train-images-idx3-ubyte``); the gzipped one is used when both are there.

    Args:
        data_dir: folder holding the files.
        download: fetch the missing files first (needs internet); see :func:`download_mnist`.
        mirrors: base URLs tried in order when downloading.
        progress: show download progress bars (default: when stderr is a terminal).
        checksums: digests that downloaded files must match, by file name (SHA-256, or MD5
            for 32-digit values); ``None`` skips the check (for mirrors of other IDX data).
            Files already present are not checked here: see :func:`verify_data_dir`.

    Returns:
        An :class:`MNIST` record: images ``(n, 28, 28)`` uint8, labels ``(n,)`` int64.

    Raises:
        FileNotFoundError: files are missing and ``download`` is false; the message names them,
            the folder, and how to get them.
        ValueError: a file does not parse, has the wrong shape, labels outside 0..9, or a label
            count different from its image count.
        MemoryBudgetError: a file declares more data than the memory budget allows.
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
        array = _read_idx(path, str(path), _kind_of(stem))
        _check_by_role(str(path), array)
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


def _hash_for(expected: str | None) -> tuple[str, Any]:
    """The digest to compute for an expected hex value: MD5 for 32 digits, else SHA-256."""
    if expected is not None and len(expected) == 32:
        return "MD5", hashlib.md5(usedforsecurity=False)
    return "SHA-256", hashlib.sha256()


def _file_digest(path: Path, digest: Any) -> str:
    """Hex ``digest`` (a hashlib object) of a file's bytes, read in chunks."""
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES * 16):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, dest: Path, show: bool, expected: str | None) -> None:
    """Download ``url`` into ``dest`` through a temporary file in ``dest``'s folder.

    The file is renamed into place only after its digest (``expected``: SHA-256, or MD5 for a
    32-digit value; None: not checked) and content check out; on any error the temporary file
    is removed and ``dest`` is left as it was.
    """
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    bar: Any = None
    try:
        algorithm, digest = _hash_for(expected)
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
        if expected is not None and digest.hexdigest() != expected.lower():
            raise ValueError(
                f"{algorithm} {digest.hexdigest()} does not match the expected {expected}"
            )
        array = _read_idx(Path(tmp_name), url, _kind_of(dest.name))
        _check_by_role(url, array)
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
    checksums: Mapping[str, str] | None = MNIST_SHA256,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Download the four gzipped MNIST files into ``data_dir``.

    For each file the mirrors are tried in order until one delivers a copy that matches its
    digest (when ``checksums`` has one) and parses as MNIST images or labels. Each file is
    streamed into a temporary file in ``data_dir`` and renamed into place only when complete,
    so an interrupted or failed download never leaves a partial file.

    Args:
        data_dir: destination folder, created if needed.
        mirrors: base URLs (``https://``, ``http://`` or ``file://``); the file name is appended.
        progress: show a progress bar per file (default: when stderr is a terminal).
        checksums: digests by file name, SHA-256 (64 hex digits) or MD5 (32); default: the
            SHA-256 of the original MNIST files (:data:`MNIST_SHA256`); ``None`` skips the
            digest check.
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
        expected = checksums.get(name) if checksums is not None else None
        errors: list[str] = []
        for mirror in mirrors:
            url = mirror if mirror.endswith("/") else mirror + "/"
            url += name
            try:
                _fetch(url, folder / name, show, expected)
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
                # ValueError includes a digest mismatch and a refused size (MemoryBudgetError)
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
# Checking the files already present

#: What :func:`verify_data_dir` can say of a file.
CHECK_STATUSES = ("ok", "missing", "corrupt", "unknown")


@dataclass(frozen=True)
class FileCheck:
    """What :func:`verify_data_dir` found for one of the four MNIST files.

    Attributes:
        name: the standard file name without ``.gz`` (e.g. ``"train-images-idx3-ubyte"``).
        status: ``"ok"`` (parses and has the published SHA-256), ``"missing"``, ``"corrupt"``
            (does not parse as MNIST, or has the published size but another digest: a damaged
            copy) or ``"unknown"`` (parses as MNIST but no published digest vouches for it:
            an uncompressed copy, or other digits in the same format; or not read, its
            declared size being over the memory budget).
        path: the file looked at (None when missing).
        detail: one line on what was found.
    """

    name: str
    status: str
    path: Path | None
    detail: str


def _describe(array: np.ndarray, kind: str | None) -> str:
    return f"{array.shape[0]:,} {kind or 'rows'}" if array.ndim else "a scalar"


def _check_present(path: Path, stem: str, checksums: Mapping[str, str]) -> FileCheck:
    """Check one present file: its content first, then its digest against the published one."""
    kind = _kind_of(stem)
    try:
        array = _read_idx(path, path.name, kind)
        _check_by_role(path.name, array)
    except MemoryBudgetError as error:
        return FileCheck(stem, "unknown", path, f"not read: {error}")
    except (ValueError, OSError) as error:
        return FileCheck(stem, "corrupt", path, str(error))
    content = _describe(array, kind)
    expected = checksums.get(path.name)
    if path.suffix != ".gz" or expected is None:
        return FileCheck(stem, "unknown", path, f"{content}; no published digest for this file")
    algorithm, digest = _hash_for(expected)
    if _file_digest(path, digest) == expected.lower():
        return FileCheck(stem, "ok", path, f"{content}; {algorithm} matches")
    size = path.stat().st_size
    if size == MNIST_GZ_BYTES.get(path.name):
        return FileCheck(
            stem, "corrupt", path, f"{algorithm} differs from the published one at its size"
        )
    return FileCheck(
        stem, "unknown", path, f"{content}; not the published file ({algorithm} differs)"
    )


def verify_data_dir(
    data_dir: str | os.PathLike[str], *, checksums: Mapping[str, str] = MNIST_SHA256
) -> list[FileCheck]:
    """Check the four MNIST files already in ``data_dir``, one :class:`FileCheck` each.

    Each present file (``NAME.gz`` preferred over ``NAME``, as :func:`load_mnist` reads them)
    is read as :func:`read_idx` reads it (header, declared size within the MNIST limits and the
    memory budget, payload of exactly that size, images ``(n, 28, 28)`` or labels in 0..9) and
    its digest compared with ``checksums`` (SHA-256, or MD5 for 32-digit values). Image and
    label counts are not compared across files here; :func:`load_mnist` does that.

    Returns:
        in the order of :data:`MNIST_FILES`: ``x_train``, ``y_train``, ``x_test``, ``y_test``.
    """
    folder = Path(data_dir)
    results = []
    for stem in MNIST_FILES.values():
        path = _find_file(folder, stem)
        if path is None:
            results.append(FileCheck(stem, "missing", None, f"neither {stem}.gz nor {stem}"))
        else:
            results.append(_check_present(path, stem, checksums))
    return results


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
