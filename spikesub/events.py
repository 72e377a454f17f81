"""Event datasets (N-MNIST, SHD, DVS Gesture) through tonic, as time-first spike tensors.

The files are read by tonic (``tonic.datasets.NMNIST``, ``SHD``, ``DVSGesture``), from the
folder layout tonic downloads them into under ``root``:

* N-MNIST: ``root/NMNIST/Train/<digit>/<id>.bin`` (and ``Test/``), 5 bytes per event
  (x, y, then polarity in bit 23 and a 23-bit time in microseconds);
* SHD: ``root/SHD/shd_train.h5`` (and ``shd_test.h5``), HDF5 with ``spikes/times`` (seconds,
  one variable-length array per sample), ``spikes/units`` (channel 0-699), ``labels``, and
  ``extra/keys``, ``extra/speaker``;
* DVS Gesture: ``root/DVSGesture/ibmGestureTrain/user<NN>_<lighting>/<label>.npy`` (and
  ``ibmGestureTest``), each an ``(N, 4)`` array of x, y, polarity, time in milliseconds.

:func:`load_event_dataset` checks that layout first (a missing folder is one error that says
where the files should be and how to download them), then reads each sample with tonic,
checks it (an event file of the wrong format is one error naming the file) and bins it with
:func:`events_to_frames`, our own binning: bins of ``dt_ms`` counted from the start of the
recording (not from the first event, as tonic's ``ToFrame`` does unless given
``start_time``), the last partial bin kept, event counts per bin as float32. Frames are
time-first: ``(T, 2, H, W)`` for the cameras (polarity as channels) and ``(T, 700)`` for SHD.

:func:`pad_collate` and :func:`event_loader` batch samples of different lengths into
``(T, B, ...)`` tensors padded with zeros at the end (``batch_first=True``: ``(B, T, ...)``),
with the labels and each sample's length.

With ``download=True`` tonic downloads and extracts a missing dataset (its own URLs and
checksums). :func:`write_synthetic_dataset` writes small class-separable datasets in each
dataset's own on-disk format, read through the same path as the real ones (the tests and
``spikesub eventtrain --quick`` use them).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from spikesub.models.errors import SpikesubError
from spikesub.models.memory import check_allocation

__all__ = [
    "EVENT_DATASETS",
    "ORIGINS",
    "DatasetNotFoundError",
    "EventBatch",
    "EventDatasetInfo",
    "EventFileError",
    "EventFrames",
    "check_dataset_folder",
    "event_loader",
    "events_to_frames",
    "frame_shape",
    "load_event_dataset",
    "pad_collate",
    "write_dvsgesture_file",
    "write_nmnist_file",
    "write_shd_file",
    "write_synthetic_dataset",
]

ORIGINS: tuple[str, ...] = ("recording", "first_event")
"""Where the first bin starts: at time 0 of the recording, or at the sample's first event."""


class DatasetNotFoundError(SpikesubError, FileNotFoundError):
    """A dataset's files are not where tonic keeps them; the message says how to get them."""


class EventFileError(SpikesubError, ValueError):
    """An event file that is not in its dataset's format; the message names the file."""


@dataclass(frozen=True)
class EventDatasetInfo:
    """What the loaders know of one dataset.

    Attributes:
        name: our name (``"nmnist"``, ``"shd"``, ``"dvsgesture"``).
        tonic_name: the tonic class, which is also its folder under ``root``.
        title: the dataset's name in messages.
        sensor_size: tonic's ``(W, H, P)``.
        n_classes: number of labels.
        origin: default of ``origin`` (:data:`ORIGINS`).
        parts: the train and test files or folders under ``root/<tonic_name>``.
        pattern: the event files' name pattern inside a part's folder (None: the part is the
            file).
        download: what ``download=True`` fetches, for the hint.
    """

    name: str
    tonic_name: str
    title: str
    sensor_size: tuple[int, int, int]
    n_classes: int
    origin: str
    parts: tuple[str, str]
    pattern: str | None
    download: str

    def part(self, train: bool) -> str:
        return self.parts[0] if train else self.parts[1]


EVENT_DATASETS: dict[str, EventDatasetInfo] = {
    "nmnist": EventDatasetInfo(
        name="nmnist",
        tonic_name="NMNIST",
        title="N-MNIST",
        sensor_size=(34, 34, 2),
        n_classes=10,
        origin="recording",
        parts=("Train", "Test"),
        pattern="*/*.bin",
        download="train.zip (about 1 GB) and test.zip from data.mendeley.com",
    ),
    "shd": EventDatasetInfo(
        name="shd",
        tonic_name="SHD",
        title="SHD",
        sensor_size=(700, 1, 1),
        n_classes=20,
        origin="recording",
        parts=("shd_train.h5", "shd_test.h5"),
        pattern=None,
        download="shd_train.h5.zip (about 130 MB) and shd_test.h5.zip from zenkelab.org",
    ),
    "dvsgesture": EventDatasetInfo(
        name="dvsgesture",
        tonic_name="DVSGesture",
        title="DVS Gesture",
        sensor_size=(128, 128, 2),
        n_classes=11,
        origin="first_event",
        parts=("ibmGestureTrain", "ibmGestureTest"),
        pattern="user*_*/*.npy",
        download="ibmGestureTrain.tar.gz (about 2.5 GB) and ibmGestureTest.tar.gz from figshare",
    ),
}
"""The event datasets, by name."""

_SHD_KEYS = ("spikes/times", "spikes/units", "labels", "extra/keys", "extra/speaker")


def _info(name: str) -> EventDatasetInfo:
    if not isinstance(name, str) or name.lower() not in EVENT_DATASETS:
        raise ValueError(f"dataset must be one of {tuple(EVENT_DATASETS)}; got {name!r}")
    return EVENT_DATASETS[name.lower()]


def _tonic():
    try:
        import tonic.datasets
        import tonic.io  # noqa: F401
    except ImportError as error:
        raise SpikesubError(
            f"the event datasets are read with tonic, which cannot be imported ({error}); "
            "install it with: pip install tonic (see the README, Event datasets)"
        ) from error
    return tonic


# ---------------------------------------------------------------------------------------------
# Folders


def check_dataset_folder(name: str, root: str | os.PathLike[str], *, train: bool = True) -> Path:
    """The file or folder of one part of a dataset, checked to be where tonic keeps it.

    Returns:
        ``root/<tonic_name>/<part>`` (a folder with at least one event file, or SHD's file).

    Raises:
        DatasetNotFoundError: it is missing or holds no event file; the message gives the
            path expected and how to download it.
    """
    info = _info(name)
    path = Path(root).expanduser() / info.tonic_name / info.part(train)
    hint = (
        f"download it with --download (tonic fetches {info.download}), or put the extracted "
        f"files there"
    )
    if not path.exists():
        raise DatasetNotFoundError(f"{info.title} not found: {path} does not exist; {hint}")
    if info.pattern is None:
        if not path.is_file():
            raise DatasetNotFoundError(f"{info.title}: {path} is not a file; {hint}")
        return path
    if not path.is_dir():
        raise DatasetNotFoundError(f"{info.title}: {path} is not a folder; {hint}")
    if next(path.glob(info.pattern), None) is None:
        raise DatasetNotFoundError(
            f"{info.title}: {path} holds no event file ({info.pattern}); {hint}"
        )
    return path


def _open_tonic(info: EventDatasetInfo, root: Path, train: bool, download: bool) -> Any:
    """The tonic dataset of one part. Where our check of the layout passes, tonic's own
    ``_check_exists`` (which also wants the downloaded archive) is skipped, so extracted
    files are used as they are; otherwise, with ``download``, tonic downloads them."""
    tonic = _tonic()
    base = getattr(tonic.datasets, info.tonic_name)
    try:
        path = check_dataset_folder(info.name, root, train=train)
    except DatasetNotFoundError:
        if not download:
            raise
        path = None
    if path is None:
        cls = base
    else:
        # the same class name: tonic names its folder after the class
        cls = type(base.__name__, (base,), {"_check_exists": lambda self: True})
    if path is not None and info.name == "shd":
        _check_shd_file(path)
    try:
        return cls(str(root), train=train)
    except (OSError, KeyError, ValueError) as error:
        where = path if path is not None else root / info.tonic_name
        raise EventFileError(f"{where}: not readable as {info.title} ({error})") from error


def _check_shd_file(path: Path) -> None:
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            missing = [key for key in _SHD_KEYS if key not in handle]
            n = {key: len(handle[key]) for key in _SHD_KEYS[:3] if key in handle}
    except OSError as error:
        raise EventFileError(f"{path}: not an HDF5 file of the SHD layout ({error})") from error
    if missing:
        raise EventFileError(
            f"{path}: not an SHD file: missing {', '.join(missing)} (SHD holds "
            f"{', '.join(_SHD_KEYS)})"
        )
    if len(set(n.values())) != 1:
        raise EventFileError(
            f"{path}: spikes/times, spikes/units and labels have different lengths {n}"
        )


# ---------------------------------------------------------------------------------------------
# Binning


def frame_shape(name: str, downsample: int = 1) -> tuple[int, ...]:
    """The shape of one frame: ``(2, H, W)`` for the cameras, ``(channels,)`` for SHD."""
    info = _info(name)
    downsample = _check_downsample(downsample)
    w, h, p = info.sensor_size
    if h == 1:
        return (math.ceil(w / downsample),)
    return (p, math.ceil(h / downsample), math.ceil(w / downsample))


def _check_downsample(downsample: int) -> int:
    if isinstance(downsample, bool) or not isinstance(downsample, (int, np.integer)):
        raise TypeError(f"downsample must be an int >= 1; got {downsample!r}")
    if downsample < 1:
        raise ValueError(f"downsample must be an int >= 1; got {downsample}")
    return int(downsample)


def _check_dt(dt_ms: float) -> float:
    if isinstance(dt_ms, bool) or not isinstance(dt_ms, (int, float, np.floating, np.integer)):
        raise TypeError(f"dt_ms must be a number > 0; got {dt_ms!r}")
    dt_ms = float(dt_ms)
    if not math.isfinite(dt_ms) or dt_ms <= 0:
        raise ValueError(f"dt_ms must be a finite number > 0; got {dt_ms}")
    return dt_ms


def events_to_frames(
    events: np.ndarray,
    sensor_size: Sequence[int],
    dt_ms: float,
    *,
    n_steps: int | None = None,
    downsample: int = 1,
    origin: str = "recording",
    binary: bool = False,
    source: str = "events",
) -> np.ndarray:
    """Bin a structured event array (tonic's: fields ``x``, ``t`` in microseconds, ``p``, and
    ``y`` for cameras) into time-first frames of event counts.

    Bin ``k`` holds the events with ``k * dt <= t - t0 < (k + 1) * dt``, where ``t0`` is 0
    (``origin="recording"``) or the first event's time (``"first_event"``).

    Args:
        events: the events.
        sensor_size: tonic's ``(W, H, P)``; ``H == 1`` means no ``y`` (SHD).
        dt_ms: bin width, ms.
        n_steps: number of bins; later events are dropped, missing bins are zeros. None: up
            to the bin of the last event (one empty bin for a sample without events).
        downsample: divide ``x`` and ``y`` by this (pooling neighbouring pixels or channels).
        origin: one of :data:`ORIGINS`.
        binary: 1 where a bin has any event, instead of counts.
        source: what the events came from, for the messages (a file's path).

    Returns:
        float32 ``(T, P, H', W')`` for cameras, ``(T, W')`` for SHD.

    Raises:
        EventFileError: an event outside the sensor, or at a negative time.
        MemoryBudgetError: the frames would exceed the memory budget.
    """
    dt_ms = _check_dt(dt_ms)
    downsample = _check_downsample(downsample)
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS}; got {origin!r}")
    if n_steps is not None and (
        isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1
    ):
        raise ValueError(f"n_steps must be an int >= 1 or None; got {n_steps!r}")
    names = events.dtype.names or ()
    w, h, p = (int(v) for v in sensor_size)
    camera = h > 1
    needed = ("x", "y", "t", "p") if camera else ("x", "t")
    if any(field not in names for field in needed):
        raise EventFileError(f"{source}: events have fields {names}; expected {needed}")
    x = np.asarray(events["x"], dtype=np.int64)
    t = np.asarray(events["t"], dtype=np.float64)
    y = np.asarray(events["y"], dtype=np.int64) if camera else np.zeros_like(x)
    pol = np.asarray(events["p"], dtype=np.int64) if camera else np.zeros_like(x)
    _check_range(source, "x", x, w)
    _check_range(source, "y", y, h)
    _check_range(source, "polarity", pol, p)
    if t.size and not np.isfinite(t).all():
        raise EventFileError(f"{source}: event times must be finite")
    if t.size and origin == "first_event":
        t = t - t.min()
    if t.size and t.min() < 0:
        raise EventFileError(f"{source}: an event at t = {t.min():g} us, before the recording")
    step = np.floor(t / (dt_ms * 1000.0)).astype(np.int64)
    total = int(n_steps) if n_steps is not None else (int(step.max()) + 1 if step.size else 1)
    shape = frame_shape_of(sensor_size, downsample)
    check_allocation(
        f"the frames of {source} (dt_ms={dt_ms:g}: {total:,} steps of {shape})",
        4.0 * total * math.prod(shape),
    )
    keep = step < total
    step, x, y, pol = step[keep], x[keep] // downsample, y[keep] // downsample, pol[keep]
    if camera:
        flat = ((step * p + pol) * shape[1] + y) * shape[2] + x
    else:
        flat = step * shape[0] + x
    counts = np.bincount(flat, minlength=total * math.prod(shape))
    frames = counts.astype(np.float32).reshape(total, *shape)
    if binary:
        np.minimum(frames, 1.0, out=frames)
    return frames


def frame_shape_of(sensor_size: Sequence[int], downsample: int = 1) -> tuple[int, ...]:
    """:func:`frame_shape` for a sensor size ``(W, H, P)``."""
    w, h, p = (int(v) for v in sensor_size)
    if h == 1:
        return (math.ceil(w / downsample),)
    return (p, math.ceil(h / downsample), math.ceil(w / downsample))


def _check_range(source: str, what: str, values: np.ndarray, size: int) -> None:
    if values.size and (values.min() < 0 or values.max() >= size):
        bad = values[(values < 0) | (values >= size)][0]
        raise EventFileError(
            f"{source}: an event has {what} = {bad}, outside the sensor's 0-{size - 1}: not an "
            "event file of this dataset"
        )


# ---------------------------------------------------------------------------------------------
# Datasets and loaders


class EventFrames:
    """A tonic event dataset whose samples are binned frames: ``dataset[i]`` is
    ``(frames, label)``, ``frames`` a float32 tensor ``(T, ...)`` (see
    :func:`events_to_frames`), ``label`` an int. Made by :func:`load_event_dataset`.

    Attributes:
        info: the dataset's :class:`EventDatasetInfo`.
        source: the tonic dataset.
        dt_ms, n_steps, downsample, origin, binary: the binning.
        frame_shape: the shape of one frame.
        train: which part.
    """

    def __init__(
        self,
        info: EventDatasetInfo,
        source: Any,
        *,
        train: bool,
        dt_ms: float,
        n_steps: int | None,
        downsample: int,
        origin: str,
        binary: bool,
    ) -> None:
        self.info = info
        self.source = source
        self.train = train
        self.dt_ms = dt_ms
        self.n_steps = n_steps
        self.downsample = downsample
        self.origin = origin
        self.binary = binary
        self.frame_shape = frame_shape(info.name, downsample)
        self._length = len(source)

    def __len__(self) -> int:
        return self._length

    def file_of(self, index: int) -> str:
        """The file sample ``index`` is read from (SHD: the HDF5 file and the index)."""
        if self.info.name == "shd":
            path = Path(self.source.location_on_system) / self.source.data_filename
            return f"{path} (sample {index})"
        return str(self.source.data[index])

    def label_of(self, index: int) -> int:
        """The label of sample ``index``, without reading its events (not for SHD, whose
        labels are read from the file)."""
        if self.info.name == "shd":
            return int(self.events(index)[1])
        return int(self.source.targets[index])

    def events(self, index: int) -> tuple[np.ndarray, int]:
        """The raw events of sample ``index`` (tonic's structured array) and its label."""
        where = self.file_of(index)
        if self.info.name == "nmnist":
            size = os.path.getsize(self.source.data[index])
            if size % 5:
                raise EventFileError(
                    f"{where}: {size} bytes is not a whole number of 5-byte events; not an "
                    "N-MNIST .bin file"
                )
        try:
            events, label = self.source[index]
        except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
            raise EventFileError(
                f"{where}: not a valid {self.info.title} event file ({error})"
            ) from error
        return events, int(np.asarray(label).item())

    def __getitem__(self, index: int):
        import torch

        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index = index % len(self)
        events, label = self.events(index)
        if not 0 <= label < self.info.n_classes:
            raise EventFileError(
                f"{self.file_of(index)}: label {label} is not one of the "
                f"{self.info.n_classes} {self.info.title} classes"
            )
        frames = events_to_frames(
            events,
            self.info.sensor_size,
            self.dt_ms,
            n_steps=self.n_steps,
            downsample=self.downsample,
            origin=self.origin,
            binary=self.binary,
            source=self.file_of(index),
        )
        return torch.from_numpy(frames), label


def load_event_dataset(
    name: str,
    root: str | os.PathLike[str],
    *,
    train: bool = True,
    dt_ms: float = 1.0,
    n_steps: int | None = None,
    t_max_ms: float | None = None,
    downsample: int = 1,
    origin: str | None = None,
    binary: bool = False,
    download: bool = False,
) -> EventFrames:
    """One part of an event dataset, read by tonic and binned into time-first frames.

    Args:
        name: ``"nmnist"``, ``"shd"`` or ``"dvsgesture"``.
        root: the folder tonic keeps its datasets in (``root/NMNIST``, ``root/SHD``, ...).
        train: the training part, else the test part.
        dt_ms: bin width, ms.
        n_steps: bins per sample (events after them are dropped; shorter samples padded).
            None: each sample as long as its last event (batches padded by
            :func:`pad_collate`).
        t_max_ms: instead of ``n_steps``, the duration kept: ``ceil(t_max_ms / dt_ms)`` bins.
        downsample: divide pixel coordinates (or SHD's channels) by this.
        origin: where the first bin starts (:data:`ORIGINS`; default: the dataset's, from
            time 0 for N-MNIST and SHD, from the first event for DVS Gesture, whose samples
            are cut from longer recordings).
        binary: 0/1 frames instead of counts.
        download: let tonic download and extract a missing dataset (needs internet).

    Raises:
        DatasetNotFoundError: the files are missing (and ``download`` is false).
        EventFileError: a file is not in the dataset's format (when it is read).
    """
    info = _info(name)
    dt_ms = _check_dt(dt_ms)
    if n_steps is not None and t_max_ms is not None:
        raise ValueError("give n_steps or t_max_ms, not both")
    if t_max_ms is not None:
        if not isinstance(t_max_ms, (int, float)) or not t_max_ms > 0:
            raise ValueError(f"t_max_ms must be a number > 0; got {t_max_ms!r}")
        n_steps = max(1, math.ceil(t_max_ms / dt_ms - 1e-9))
    if n_steps is not None and (
        isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1
    ):
        raise ValueError(f"n_steps must be an int >= 1 or None; got {n_steps!r}")
    origin = info.origin if origin is None else origin
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS}; got {origin!r}")
    downsample = _check_downsample(downsample)
    root_path = Path(root).expanduser()
    source = _open_tonic(info, root_path, bool(train), bool(download))
    return EventFrames(
        info,
        source,
        train=bool(train),
        dt_ms=dt_ms,
        n_steps=n_steps,
        downsample=downsample,
        origin=origin,
        binary=bool(binary),
    )


class EventBatch(NamedTuple):
    """A batch of event frames.

    Attributes:
        frames: ``(T, B, ...)`` float32, zero after each sample's length (``(B, T, ...)``
            when made with ``batch_first=True``).
        labels: ``(B,)`` int64.
        lengths: ``(B,)`` int64, each sample's number of steps before padding.
    """

    frames: Any
    labels: Any
    lengths: Any


def pad_collate(batch: Sequence[tuple[Any, int]], *, batch_first: bool = False) -> EventBatch:
    """Stack ``(frames (T_i, ...), label)`` samples into an :class:`EventBatch`, padding
    each to the longest ``T`` with zeros at the end."""
    import torch

    if not batch:
        raise ValueError("pad_collate needs at least one sample")
    shapes = {tuple(frames.shape[1:]) for frames, _ in batch}
    if len(shapes) != 1:
        raise ValueError(f"samples have different frame shapes {sorted(shapes)}")
    lengths = torch.tensor([frames.shape[0] for frames, _ in batch], dtype=torch.int64)
    n_steps = int(lengths.max())
    out = batch[0][0].new_zeros((n_steps, len(batch), *shapes.pop()))
    for i, (frames, _) in enumerate(batch):
        out[: frames.shape[0], i] = frames
    labels = torch.tensor([int(label) for _, label in batch], dtype=torch.int64)
    if batch_first:
        out = out.transpose(0, 1).contiguous()
    return EventBatch(out, labels, lengths)


def event_loader(
    dataset: Any,
    batch_size: int = 32,
    *,
    shuffle: bool = False,
    seed: int = 0,
    batch_first: bool = False,
    num_workers: int = 0,
    drop_last: bool = False,
):
    """A ``torch.utils.data.DataLoader`` of :class:`EventBatch` es (see :func:`pad_collate`);
    shuffled with a generator seeded by ``seed`` when ``shuffle``."""
    import functools

    import torch
    from torch.utils.data import DataLoader

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1; got {batch_size!r}")
    generator = torch.Generator().manual_seed(int(seed)) if shuffle else None
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        collate_fn=functools.partial(pad_collate, batch_first=batch_first),
        num_workers=num_workers,
        drop_last=drop_last,
    )


# ---------------------------------------------------------------------------------------------
# Writing files in each dataset's own format


def write_nmnist_file(path: str | os.PathLike[str], x: Any, y: Any, t_us: Any, p: Any) -> Path:
    """Write events in the N-MNIST binary format: 5 bytes per event, x, y, then polarity
    (bit 23) and time in microseconds (bits 22-0), big-endian. Times must be < 2**23."""
    x, y, t, p = (np.asarray(a, dtype=np.int64) for a in (x, y, t_us, p))
    if not (x.shape == y.shape == t.shape == p.shape):
        raise ValueError("x, y, t_us and p must have the same length")
    if t.size and (t.min() < 0 or t.max() >= 2**23):
        raise ValueError("t_us must lie in [0, 2**23) in the N-MNIST format")
    if x.size and (min(x.min(), y.min()) < 0 or max(x.max(), y.max()) > 239):
        raise ValueError("x and y must lie in [0, 239] in the N-MNIST format")
    raw = np.empty((x.size, 5), dtype=np.uint8)
    raw[:, 0] = x
    raw[:, 1] = y
    raw[:, 2] = ((p & 1) << 7) | ((t >> 16) & 0x7F)
    raw[:, 3] = (t >> 8) & 0xFF
    raw[:, 4] = t & 0xFF
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw.tobytes())
    return path


def write_shd_file(
    path: str | os.PathLike[str],
    times_s: Sequence[Any],
    units: Sequence[Any],
    labels: Sequence[int],
    *,
    keys: Sequence[str] | None = None,
    speakers: Sequence[int] | None = None,
) -> Path:
    """Write samples in the SHD HDF5 layout: ``spikes/times`` (float32 seconds) and
    ``spikes/units`` (uint16) as variable-length arrays, ``labels`` (uint16), ``extra/keys``
    and ``extra/speaker``."""
    import h5py

    n = len(labels)
    if len(times_s) != n or len(units) != n:
        raise ValueError("times_s, units and labels must have one entry per sample")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        times = handle.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float32))
        chans = handle.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for i in range(n):
            times[i] = np.asarray(times_s[i], dtype=np.float32)
            chans[i] = np.asarray(units[i], dtype=np.uint16)
        handle["labels"] = np.asarray(labels, dtype=np.uint16)
        names = keys if keys is not None else [f"class-{c}" for c in range(20)]
        handle["extra/keys"] = np.asarray([k.encode() for k in names])
        handle["extra/speaker"] = np.asarray(
            speakers if speakers is not None else np.zeros(n), dtype=np.uint16
        )
    return path


def write_dvsgesture_file(path: str | os.PathLike[str], x: Any, y: Any, p: Any, t_ms: Any) -> Path:
    """Write events as tonic's DVS Gesture keeps them: an ``(N, 4)`` ``.npy`` array of x, y,
    polarity and time in milliseconds."""
    columns = [np.asarray(a, dtype=np.int64) for a in (x, y, p, t_ms)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.stack(columns, axis=1) if columns[0].size else np.zeros((0, 4), np.int64))
    return path


def _synthetic_events(
    info: EventDatasetInfo, label: int, rng: np.random.Generator, duration_ms: float
) -> tuple[np.ndarray, ...]:
    """Events of one synthetic sample of class ``label``: a class-specific place on the
    sensor (a pixel patch, or a band of channels) that fires more than the background."""
    w, h, _ = info.sensor_size
    n_signal, n_noise = 120, 40
    t_us = rng.uniform(0, duration_ms * 1000.0, n_signal + n_noise).astype(np.int64)
    order = np.argsort(t_us, kind="stable")  # files hold their events in time order
    if h == 1:  # SHD: a band of channels, swept up over time, plus background
        band = w // info.n_classes
        sweep = (t_us[:n_signal] * band // max(int(t_us.max()) + 1, 1)).astype(np.int64)
        chan = np.concatenate([label * band + sweep, rng.integers(0, w, n_noise)])
        return (chan[order], t_us[order])
    grid = math.ceil(math.sqrt(info.n_classes))
    cell_w, cell_h = w // grid, h // grid
    cx, cy = (label % grid) * cell_w, (label // grid) * cell_h
    x = np.concatenate([cx + rng.integers(0, cell_w, n_signal), rng.integers(0, w, n_noise)])
    y = np.concatenate([cy + rng.integers(0, cell_h, n_signal), rng.integers(0, h, n_noise)])
    p = rng.integers(0, 2, n_signal + n_noise)
    return (x[order], y[order], p[order], t_us[order])


def write_synthetic_dataset(
    name: str,
    root: str | os.PathLike[str],
    *,
    per_class: int = 4,
    seed: int = 0,
    duration_ms: float = 50.0,
) -> Path:
    """Write a small synthetic dataset in ``name``'s own on-disk format and folder layout
    under ``root`` (both parts), readable by :func:`load_event_dataset`.

    Each class fires in its own place on the sensor (a patch of pixels, or a band of SHD
    channels) plus uniform background events, over ``duration_ms`` (samples vary in length
    by up to a half). These are not the real data: they test the loaders and let a training
    run finish in seconds.

    Returns:
        ``root/<tonic folder>``.
    """
    info = _info(name)
    rng = np.random.default_rng(seed)
    base = Path(root).expanduser() / info.tonic_name
    for train in (True, False):
        part = base / info.part(train)
        if info.name == "shd":
            times, units, labels = [], [], []
            for label in range(info.n_classes):
                for _ in range(per_class):
                    length = duration_ms * rng.uniform(0.5, 1.0)
                    chan, t_us = _synthetic_events(info, label, rng, length)
                    times.append(t_us / 1e6)
                    units.append(chan)
                    labels.append(label)
            write_shd_file(part, times, units, labels)
            continue
        for label in range(info.n_classes):
            for i in range(per_class):
                length = duration_ms * rng.uniform(0.5, 1.0)
                x, y, p, t_us = _synthetic_events(info, label, rng, length)
                if info.name == "nmnist":
                    write_nmnist_file(part / str(label) / f"{i:05d}.bin", x, y, t_us, p)
                else:
                    folder = part / f"user{i + 1:02d}_fluorescent"
                    write_dvsgesture_file(folder / f"{label}.npy", x, y, p, t_us // 1000)
    return base
