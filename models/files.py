"""Writing files atomically: a temporary file beside the target, fsynced, then renamed over
it, so that an interrupted write leaves the old file whole (and at most a ``.<name>.*.tmp``
file, which :func:`spikesub.runs.prepare_run_dir` removes on the next run). Used by run
folders, saved reservoirs and saved readouts alike."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_write_bytes", "write_npz"]

# The name atomic_write_bytes gives its temporary files: ".<target>.<random>.tmp".
_TMP_PREFIX, _TMP_SUFFIX = ".", ".tmp"


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Files are created with the permissions an ordinary open() would give them.
_FILE_MODE = 0o666 & ~_current_umask()


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically.

    The bytes go to a temporary file in the same folder, which is fsynced and then renamed over
    ``path``. On any error the temporary file is removed and ``path`` keeps its old content.

    Args:
        path: destination file; its folder must exist.
        data: the complete file content.

    Returns:
        ``path`` as a :class:`pathlib.Path`.
    """
    path = Path(path)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes; got {type(data).__name__}")
    folder = path.parent
    fd, tmp_name = tempfile.mkstemp(
        dir=folder, prefix=f"{_TMP_PREFIX}{path.name}.", suffix=_TMP_SUFFIX
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), _FILE_MODE)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(folder)
    return path


def write_npz(path: str | Path, **arrays: Any) -> Path:
    """Write arrays to a compressed ``.npz`` file, atomically.

    Object arrays are refused so that the file loads without pickle.
    """
    for name, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise TypeError(f"array {name!r} has dtype object; write numeric or string arrays")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return atomic_write_bytes(path, buffer.getvalue())
