"""Run folders: configs, metrics, arrays and figures, each file written atomically.

Every writer here puts the bytes in a temporary file next to the target, flushes and fsyncs
it, then renames it over the target with :func:`os.replace`. A reader therefore sees either the
previous complete file or the new complete file, never a half-written one, and an interrupted
write leaves no temporary file behind (a process killed outright can leave one; the next run
in that folder removes it, see :func:`prepare_run_dir`).

A run folder protects itself: its ``config.json`` names the job that made it and carries a
*fingerprint* of the configuration (:func:`config_fingerprint`), which every checkpoint
carries too. :func:`prepare_run_dir` refuses to write one job's results into another job's
folder, to start a different configuration over an existing run, and to resume a folder
whose configuration differs; :func:`check_checkpoint_fingerprint` refuses a checkpoint that
belongs to another run.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import time
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spikesub.models.errors import MemoryBudgetError, RunFolderError
from spikesub.models.files import _TMP_PREFIX, _TMP_SUFFIX, atomic_write_bytes, write_npz
from spikesub.models.memory import check_allocation
from spikesub.models.network.monitors import SpikeTrains


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


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file into memory (no pickle).

    The arrays' sizes, as their headers declare them, are checked against the memory budget
    before anything is unpacked (a compressed file can unpack to far more than its size).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a complete ``.npz`` archive (truncated or damaged), or
            holds something that needs pickle; the message names the file.
        MemoryBudgetError: its arrays would exceed the memory budget.
    """
    with open(path, "rb") as handle:
        try:
            with zipfile.ZipFile(handle) as archive:
                declared = sum(_npy_member_bytes(archive, info) for info in archive.infolist())
            check_allocation(f"arrays of {path} (as their headers declare them)", declared)
            handle.seek(0)
            with np.load(handle, allow_pickle=False) as data:
                return {key: data[key] for key in data.files}
        except (zipfile.BadZipFile, EOFError, ValueError, OSError, zlib.error) as error:
            if isinstance(error, MemoryBudgetError):
                raise
            reason = " ".join(str(error).split()) or type(error).__name__
            raise ValueError(f"{path} is not a readable .npz file ({reason})") from error


def _npy_member_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> float:
    """Bytes the ``.npy`` member ``info`` of an archive declares (from its header alone)."""
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    return float(dtype.itemsize) * float(np.prod(shape, dtype=np.float64))


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


# ---------------------------------------------------------------------------------------------
# Run folders that protect themselves


class RunInterrupted(KeyboardInterrupt):
    """A job was interrupted (Ctrl-C) and left its run folder resumable.

    Attributes:
        run_dir: the folder; ``--resume --out run_dir`` continues the run.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        super().__init__(f"interrupted; continue with --resume --out {self.run_dir}")


def config_fingerprint(job: str, config: Mapping[str, Any]) -> str:
    """A short, stable fingerprint of a job's configuration (16 hex digits of SHA-256).

    The same job and the same settings give the same fingerprint on any machine: the
    configuration is written as canonical JSON (sorted keys, NumPy values as plain numbers)
    before hashing.
    """
    if not isinstance(job, str) or not job:
        raise ValueError(f"job must be a non-empty string; got {job!r}")
    canonical = json.dumps(
        {"job": job, "config": _to_jsonable(dict(config))},
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def saved_job(saved: Mapping[str, Any]) -> str | None:
    """The job named in a ``config.json`` (``"job"``, or ``"experiment"`` in older folders)."""
    job = saved.get("job", saved.get("experiment"))
    return job if isinstance(job, str) else None


def config_differences(given: Mapping[str, Any], saved: Mapping[str, Any]) -> list[str]:
    """``"name: given != saved"`` for every setting that differs (missing ones included)."""
    given, saved = _to_jsonable(dict(given)), _to_jsonable(dict(saved))
    out = []
    for name in sorted(set(given) | set(saved)):
        mine, theirs = given.get(name, "(unset)"), saved.get(name, "(unset)")
        if mine != theirs:
            out.append(f"{name}: {mine!r} != {theirs!r}")
    return out


def remove_orphaned_temp_files(folder: str | Path) -> list[Path]:
    """Delete the temporary files a killed write left in ``folder``; returns what was removed.

    Only files named as :func:`atomic_write_bytes` names its temporary files
    (``.<name>.<random>.tmp``) are touched.
    """
    removed = []
    for entry in Path(folder).iterdir():
        name = entry.name
        if name.startswith(_TMP_PREFIX) and name.endswith(_TMP_SUFFIX) and entry.is_file():
            try:
                entry.unlink()
            except FileNotFoundError:
                continue
            removed.append(entry)
    return removed


def _check_out(out: str | Path) -> Path:
    if isinstance(out, str) and not out.strip():
        raise RunFolderError(
            "--out is empty: it would write into the current folder; name a run folder, "
            "e.g. --out runs/my-run"
        )
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a path; got {type(out).__name__}")
    return Path(out)


def _read_saved_config(path: Path) -> dict[str, Any]:
    try:
        saved = read_json(path)
    except (OSError, ValueError) as error:
        raise RunFolderError(
            f"{path} is not a readable run configuration ({' '.join(str(error).split())}); "
            "choose another --out"
        ) from error
    if not isinstance(saved, dict):
        raise RunFolderError(f"{path} is not a run configuration; choose another --out")
    return saved


def _visible_entries(folder: Path) -> list[str]:
    return sorted(e.name for e in folder.iterdir() if not e.name.startswith("."))


def prepare_run_dir(
    out: str | Path | None,
    *,
    job: str,
    config: Mapping[str, Any],
    prefix: str | None = None,
    resume: bool = False,
    allow_rerun: bool = True,
) -> Path:
    """The folder a job writes into, checked against what it already holds.

    Args:
        out: the folder; ``None`` makes a new ``runs/<prefix>-<time>``; ``""`` is refused.
        job: the job's name (``"simulate"``, ``"whatwhen"``, ``"continual"``, ...).
        config: the job's settings, as written to ``config.json`` under ``"config"``.
        prefix: first part of a generated folder name (default ``job``).
        resume: continue the run in ``out``: its ``config.json`` must exist, name ``job``
            and have the same fingerprint.
        allow_rerun: without ``resume``, may a folder that holds a run of the same job and
            the same configuration be written again (``True`` for jobs that start over)?

    Returns:
        the folder, created if needed, with the temporary files of any killed write removed.

    Raises:
        RunFolderError: ``out`` is empty; the folder holds another job's run, a run with
            other settings (the differences are named), files that are not a run; or, on
            resume, nothing to resume or other settings.
    """
    if out is None:
        if resume:
            raise RunFolderError("--resume needs --out, the run folder to continue")
        return make_run_dir(None, prefix=prefix or job)
    path = _check_out(out)
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"out must be a folder; {path} exists and is a file")
    config_path = path / "config.json"
    if resume and not config_path.exists():
        raise RunFolderError(f"resume: {config_path} does not exist; nothing to resume")
    if path.is_dir():
        _check_existing(path, job, config, resume=resume, allow_rerun=allow_rerun)
    path.mkdir(parents=True, exist_ok=True)
    remove_orphaned_temp_files(path)
    return path


def _check_existing(
    path: Path, job: str, config: Mapping[str, Any], *, resume: bool, allow_rerun: bool
) -> None:
    config_path = path / "config.json"
    if not config_path.exists():
        others = [n for n in _visible_entries(path) if not (path / n).is_dir()]
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise RunFolderError(
                f"{path} holds files ({shown}) but no config.json: it is not a spikesub run "
                "folder; choose a new or empty --out"
            )
        return
    saved = _read_saved_config(config_path)
    other = saved_job(saved)
    if other != job:
        raise RunFolderError(
            f"{path} holds a {other or 'unknown'} run, not a {job} run; it is left as it is: "
            "choose another --out"
        )
    differs = config_differences(config, saved_settings(saved))
    found = saved.get("fingerprint")
    same = found == config_fingerprint(job, config) if found is not None else not differs
    if same:
        if resume or allow_rerun:
            return
        raise RunFolderError(
            f"{path} already holds this {job} run; pass --resume to continue it or choose "
            "another --out"
        )
    what = "; ".join(differs) or "the configuration's fingerprint differs"
    if resume:
        raise RunFolderError(f"resume: the settings differ (given != saved): {what}")
    raise RunFolderError(
        f"{path} holds a {job} run with other settings (given != saved: {what}); it is left "
        "as it is: choose another --out, or --resume to continue it with its own settings"
    )


_META_KEYS = ("job", "experiment", "fingerprint", "world_size")
"""What a ``config.json`` says about the run rather than its settings: ``world_size`` is the
number of data-parallel processes it was started with, on which its results do not depend."""


def saved_settings(saved: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of a ``config.json``: its ``"config"`` entry, or (in the continual
    runs' flat layout) everything but the job's name, the fingerprint and the world size."""
    inner = saved.get("config")
    if isinstance(inner, Mapping):
        return dict(inner)
    return {k: v for k, v in saved.items() if k not in _META_KEYS}


def resume_base(out: str | os.PathLike[str] | None, resume: bool) -> dict[str, Any]:
    """What a command resuming the run in ``out`` starts its settings from: the settings of
    its ``config.json`` (empty when not resuming, or when there is none: the run then
    refuses to resume and says why)."""
    if not (resume and out):
        return {}
    path = Path(out) / "config.json"
    return saved_settings(read_json(path)) if path.exists() else {}


def run_config_document(job: str, config: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """What ``config.json`` holds: the job, its settings, their fingerprint, and ``extra``."""
    return {
        "job": job,
        "config": _to_jsonable(dict(config)),
        "fingerprint": config_fingerprint(job, config),
        **extra,
    }


def check_checkpoint_fingerprint(path: str | Path, found: Any, expected: str) -> None:
    """Refuse a checkpoint that belongs to another run.

    Args:
        path: the checkpoint file (for the message).
        found: the fingerprint stored in it (``None`` when it has none).
        expected: the fingerprint of the run folder's ``config.json``.
    """
    if found != expected:
        raise RunFolderError(
            f"{path} belongs to another run (fingerprint {found or 'none'}, this run "
            f"{expected}): it was made with other settings or copied from another folder; "
            "remove it to start over, or resume the folder it came from"
        )


def run_is_complete(run_dir: str | Path, checkpoint: str) -> bool:
    """Has the run in ``run_dir`` finished: its ``metrics.json`` says ``"status": "complete"``
    and no ``checkpoint`` file is left (a job removes its checkpoint when it finishes)?"""
    run_dir = Path(run_dir)
    path = run_dir / "metrics.json"
    if not path.exists() or (run_dir / checkpoint).exists():
        return False
    try:
        metrics = read_json(path)
    except (OSError, ValueError):
        return False
    return isinstance(metrics, dict) and metrics.get("status") == "complete"


def load_run_checkpoint(path: str | Path, fingerprint: str) -> dict[str, np.ndarray]:
    """The arrays of a run's ``.npz`` checkpoint, once it is known to belong to the run.

    Raises:
        RunFolderError: the file is unreadable, or its ``fingerprint`` array differs from
            ``fingerprint`` (another run's checkpoint).
    """
    path = Path(path)
    try:
        data = load_npz(path)
    except (OSError, ValueError, EOFError) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise RunFolderError(
            f"{path} is not a readable checkpoint ({reason}); remove it to start the run over"
        ) from error
    found = str(data["fingerprint"]) if "fingerprint" in data else None
    check_checkpoint_fingerprint(path, found, fingerprint)
    return data
