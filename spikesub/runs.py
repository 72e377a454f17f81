"""Run folders: configs, metrics, arrays and figures, each file written atomically.

Every writer here puts the bytes in a temporary file next to the target, flushes and fsyncs
it, then renames it over the target with :func:`os.replace`. A reader therefore sees either the
previous complete file or the new complete file, never a half-written one, and an interrupted
write leaves no temporary file behind.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spikesub.models.monitors import SpikeTrains


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
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
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


def _to_jsonable(obj: Any) -> Any:
    """Plain JSON types: NumPy scalars and arrays converted, NaN and inf turned into None."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.generic):
        return _to_jsonable(obj.item())
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.ndarray):
        return _to_jsonable(obj.tolist())
    if isinstance(obj, Mapping):
        return {str(key): _to_jsonable(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        return [_to_jsonable(item) for item in items]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, complex):
        raise TypeError("complex numbers cannot be written to JSON")
    raise TypeError(f"cannot write an object of type {type(obj).__name__} to JSON")


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as JSON (indent 2, sorted keys, trailing newline), atomically.

    NumPy scalars and arrays become numbers and lists, paths become strings, mapping keys
    become strings, and NaN / inf become ``null``.
    """
    text = json.dumps(_to_jsonable(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"
    return atomic_write_bytes(path, text.encode("utf-8"))


def read_json(path: str | Path) -> Any:
    """Read a JSON file written by :func:`write_json` (``null`` stays ``None``)."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


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


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file into memory (no pickle)."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def save_figure(fig: Any, path: str | Path, dpi: int = 120) -> Path:
    """Save a matplotlib figure as PNG, atomically.

    Args:
        fig: a :class:`matplotlib.figure.Figure`.
        path: destination ``.png`` file; its folder must exist.
        dpi: resolution in dots per inch (> 0).
    """
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or dpi <= 0:
        raise ValueError(f"dpi must be a number > 0; got {dpi!r}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return atomic_write_bytes(path, buffer.getvalue())


def save_spikes(
    path: str | Path, spikes: SpikeTrains, excitatory: np.ndarray | None = None
) -> Path:
    """Save spike trains (and optionally the E/I labels) to an ``.npz`` file, atomically.

    File keys: ``times_ms`` ``(n_spikes,)`` float64, ``indices`` ``(n_spikes,)`` int32,
    ``n_neurons``, ``t_start_ms``, ``duration_ms`` (0-d arrays) and, if given, ``excitatory``
    ``(n_neurons,)`` bool.
    """
    if not isinstance(spikes, SpikeTrains):
        raise TypeError(f"spikes must be a SpikeTrains; got {type(spikes).__name__}")
    times_ms = np.asarray(spikes.times_ms, dtype=np.float64)
    indices = np.asarray(spikes.indices)
    if times_ms.shape != indices.shape or times_ms.ndim != 1:
        raise ValueError(
            f"spikes.times_ms and spikes.indices must be 1-D of equal length; got shapes "
            f"{times_ms.shape} and {indices.shape}"
        )
    n_neurons = int(spikes.n_neurons)
    if indices.size and (indices.min() < 0 or indices.max() >= n_neurons):
        raise ValueError(f"spikes.indices must lie in [0, {n_neurons - 1}]")
    arrays: dict[str, np.ndarray] = {
        "times_ms": times_ms,
        "indices": indices.astype(np.int32),
        "n_neurons": np.asarray(n_neurons, dtype=np.int64),
        "t_start_ms": np.asarray(spikes.t_start_ms, dtype=np.float64),
        "duration_ms": np.asarray(spikes.duration_ms, dtype=np.float64),
    }
    if excitatory is not None:
        excitatory = np.asarray(excitatory, dtype=bool)
        if excitatory.shape != (n_neurons,):
            raise ValueError(
                f"excitatory must have shape (n_neurons,) = ({n_neurons},); got {excitatory.shape}"
            )
        arrays["excitatory"] = excitatory
    return write_npz(path, **arrays)


def load_spikes(path: str | Path) -> tuple[SpikeTrains, np.ndarray | None]:
    """Read a file written by :func:`save_spikes`.

    Returns:
        ``(spikes, excitatory)``; ``excitatory`` is ``None`` when the file has no E/I labels.
    """
    data = load_npz(path)
    missing = [k for k in ("times_ms", "indices", "n_neurons") if k not in data]
    if missing:
        raise ValueError(f"{path} is not a spikes file: missing keys {missing}")
    spikes = SpikeTrains(
        times_ms=data["times_ms"].astype(np.float64, copy=False),
        indices=data["indices"].astype(np.int32, copy=False),
        n_neurons=int(data["n_neurons"]),
        t_start_ms=float(data["t_start_ms"]) if "t_start_ms" in data else 0.0,
        duration_ms=float(data["duration_ms"]) if "duration_ms" in data else 0.0,
    )
    excitatory = data["excitatory"].astype(bool, copy=False) if "excitatory" in data else None
    return spikes, excitatory


def make_run_dir(out: str | Path | None, *, prefix: str = "run", root: str | Path = "runs") -> Path:
    """Create the folder a run writes into.

    Args:
        out: the folder to use; created with its parents, and fine if it already exists.
            ``None`` picks ``root/prefix-YYYYmmdd-HHMMSS``, with ``-2``, ``-3``, ... appended
            when that name is taken.
        prefix: first part of the generated folder name.
        root: parent of generated folders (created if missing).

    Returns:
        the folder's path.
    """
    if out is not None:
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise ValueError(f"out must be a folder; {path} exists and is a file")
        path.mkdir(parents=True, exist_ok=True)
        return path
    if not prefix or os.sep in prefix or (os.altsep and os.altsep in prefix):
        raise ValueError(f"prefix must be a non-empty name without path separators; got {prefix!r}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stem = f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
    n = 1
    while True:
        path = root / (stem if n == 1 else f"{stem}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            n += 1
            continue
        return path
