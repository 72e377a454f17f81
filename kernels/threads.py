"""How many threads the Numba CPU kernels run on, and on which threading layer.

* :func:`available_cores` counts the cores this process may run on (its CPU affinity, which
  a container, ``taskset`` or a batch scheduler may restrict), not the cores of the machine.
* :func:`automatic_threads` is what "automatic" picks: the available cores, at most the
  threads of Numba's pool (``NUMBA_NUM_THREADS``, fixed when Numba starts).
* :func:`resolve_threads` checks a user's thread count and turns ``None`` or 0 into the
  automatic one; :func:`set_default_threads` makes a count the default of a whole job
  (``--threads``), and :func:`numba_threads` runs a block of code on a given count.

Threading layer: Numba runs parallel loops on TBB, OpenMP or its own workqueue, the first of
these that loads. The ``tbb`` wheel installs ``libtbb.so.12`` into the environment's ``lib``
folder, where the dynamic loader does not look, so Numba would silently fall back to OpenMP.
Importing this module loads that library first (:func:`preload_tbb`), which makes TBB Numba's
default layer wherever the wheel is installed. TBB's work stealing lets a running thread take
over the work of a descheduled one, whereas OpenMP's static split waits for it at every step:
with other processes on the cores, the threaded network loop ran 1.2-1.5x slower than one
thread on TBB and 30-90x slower on OpenMP (README, "Threads"; the reservoir's measured
fallback to one thread, :mod:`spikesub.models.network.loop_choice`, covers the rest). A threading
layer named by the user (``NUMBA_THREADING_LAYER``) is left alone, and when TBB cannot be
loaded nothing fails: Numba uses its next layer.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
import operator
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numba

TBB_LIBRARY = "libtbb.so.12"
# Numba's TBB layer needs TBB 2021.6 or later (its TBB_runtime_interface_version() >= 12060).
TBB_MIN_INTERFACE_VERSION = 12060
# Layers under which Numba would pick TBB if it can load it.
_LAYERS_THAT_TRY_TBB = ("default", "tbb", "safe", "threadsafe")

_tbb_loaded: bool | None = None  # None: not tried yet
_default_threads: int | None = None  # None: automatic


def available_cores() -> int:
    """Cores this process may run on: its CPU affinity (``os.sched_getaffinity``), else all."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on this platform
        return max(1, os.cpu_count() or 1)


def pool_threads() -> int:
    """Threads in Numba's pool (``NUMBA_NUM_THREADS``): the most a parallel loop can use."""
    return max(1, int(numba.config.NUMBA_NUM_THREADS))


def automatic_threads() -> int:
    """The thread count "automatic" picks: the available cores, at most Numba's pool."""
    return min(available_cores(), pool_threads())


def resolve_threads(
    threads: int | None = None, *, name: str = "threads", stacklevel: int = 2, warn: bool = True
) -> int:
    """A thread count for the Numba kernels from a user's value.

    Args:
        threads: ``None`` or 0 for :func:`automatic_threads`, else the count wanted (>= 1).
        name: the parameter's name in error and warning messages.
        stacklevel: passed to :func:`warnings.warn` (2: the caller of this function).
        warn: whether to warn about a count above the cores or the pool.

    Returns:
        The count to use, >= 1. A count above the available cores is used as given, with one
        warning line; a count above Numba's pool is lowered to the pool's size (stated in the
        same warning).

    Raises:
        TypeError: ``threads`` is not an integer (a bool, float or string).
        ValueError: ``threads`` is negative.
    """
    if threads is None:
        return automatic_threads()
    if isinstance(threads, bool):
        raise TypeError(f"{name} must be an integer >= 0 (0: automatic); got {threads!r}")
    try:
        count = operator.index(threads)
    except TypeError:
        raise TypeError(
            f"{name} must be an integer >= 0 (0: automatic); got {type(threads).__name__} "
            f"{threads!r}"
        ) from None
    if count < 0:
        raise ValueError(f"{name} must be an integer >= 0 (0: automatic); got {count}")
    if count == 0:
        return automatic_threads()
    cores = available_cores()
    pool = pool_threads()
    used = min(count, pool)
    if warn and (count > cores or used < count):
        warnings.warn(_oversubscribed(name, count, cores, pool), RuntimeWarning, stacklevel)
    return used


def _oversubscribed(name: str, count: int, cores: int, pool: int) -> str:
    """The one-line warning for a thread count above the cores or above Numba's pool."""
    head = f"{name} = {count}"
    if count > cores:
        head += f" is more than the {cores} cores this process may use"
    if count > pool:
        return f"{head}; Numba's pool has {pool} threads (NUMBA_NUM_THREADS): using {pool}"
    return f"{head}: using {count} threads as asked"


def set_default_threads(threads: int | None) -> int:
    """Make ``threads`` the count used where none is given; returns the count now in use.

    It applies to Numba's parallel kernels (``numba.set_num_threads``, in the calling Python
    thread) and to reservoirs built afterwards without ``n_threads``, which then run on that
    many threads with no fallback to one. ``None`` or 0 restores the automatic choice. Checked
    as :func:`resolve_threads` does, without its warning (``spikesub.scripting.set_threads``
    warns once for the whole job).
    """
    global _default_threads
    count = resolve_threads(threads, warn=False)
    _default_threads = count if threads else None
    numba.set_num_threads(count)
    return count


def default_threads() -> int | None:
    """The count set by :func:`set_default_threads`, or ``None`` for automatic."""
    return _default_threads


@contextlib.contextmanager
def numba_threads(threads: int) -> Iterator[None]:
    """Run the enclosed Numba parallel loops on ``threads`` threads (this Python thread only).

    ``threads`` must lie in ``[1, pool_threads()]`` (see :func:`resolve_threads`).
    """
    previous = numba.get_num_threads()
    numba.set_num_threads(int(threads))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


# ----------------------------------------------------------------------------------------------
# Threading layer
# ----------------------------------------------------------------------------------------------


def _tbb_library_candidates() -> Iterator[str]:
    """Where ``libtbb.so.12`` may be: the ``tbb`` distribution's own files, the environment's
    lib folder, then the loader's search path."""
    try:
        files = importlib.metadata.files("tbb") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == TBB_LIBRARY:
            yield str(Path(file.locate()).resolve())
    yield str(Path(sys.prefix) / "lib" / TBB_LIBRARY)
    yield TBB_LIBRARY


def _load_tbb_library() -> bool:
    for candidate in _tbb_library_candidates():
        if candidate != TBB_LIBRARY and not os.path.exists(candidate):
            continue
        try:
            library = ctypes.CDLL(candidate, mode=ctypes.RTLD_GLOBAL)
            version = library.TBB_runtime_interface_version
            version.restype = ctypes.c_int
            if version() >= TBB_MIN_INTERFACE_VERSION:
                return True
        except (OSError, AttributeError):
            continue
    return False


def threading_layer_started() -> bool:
    """Whether Numba has started its thread pool (its layer can no longer change)."""
    try:
        numba.threading_layer()
    except ValueError:
        return False
    return True


def preload_tbb() -> bool:
    """Load TBB's library so that Numba can pick its TBB threading layer; True when loaded.

    Done once, before Numba starts its thread pool, and only when the requested layer is one
    that tries TBB (``default``, ``tbb``, ``safe``, ``threadsafe``). Never raises: without a
    loadable TBB (2021.6 or later), Numba uses its next layer.
    """
    global _tbb_loaded
    if _tbb_loaded is None:
        wanted = str(numba.config.THREADING_LAYER).lower() in _LAYERS_THAT_TRY_TBB
        _tbb_loaded = wanted and not threading_layer_started() and _load_tbb_library()
    return _tbb_loaded


def tbb_available() -> bool:
    """Whether a TBB library that Numba's TBB layer accepts can be loaded in this process."""
    if _tbb_loaded:
        return True
    if not _load_tbb_library():
        return False
    try:
        from numba.np.ufunc import tbbpool  # noqa: F401  (Numba built with TBB support)
    except ImportError:
        return False
    return True


def threading_layer() -> str:
    """The layer Numba runs parallel loops on: ``"tbb"``, ``"omp"`` or ``"workqueue"``.

    Starts Numba's thread pool if it has not started yet.
    """
    if not threading_layer_started():
        numba.get_num_threads()  # starts the pool, choosing the layer
    return numba.threading_layer()


def thread_info() -> dict[str, object]:
    """The choice of threads in this process, JSON-able (for ``spikesub info`` and run folders).

    Keys: ``cores_available``, ``pool_threads``, ``automatic_threads``, ``threading_layer``
    (in use), ``requested_layer`` (Numba's ``THREADING_LAYER`` setting), ``tbb_available``.
    """
    return {
        "cores_available": available_cores(),
        "pool_threads": pool_threads(),
        "automatic_threads": automatic_threads(),
        "threading_layer": threading_layer(),
        "requested_layer": str(numba.config.THREADING_LAYER),
        "tbb_available": tbb_available(),
    }


def describe_threads() -> list[str]:
    """:func:`thread_info` as lines of text for a person."""
    info = thread_info()
    cores = info["cores_available"]
    lines = [
        f"threads: automatic picks {info['automatic_threads']} "
        f"({cores} core{'s' if cores != 1 else ''} available to this process, "
        f"Numba's pool {info['pool_threads']})"
        + (f"; set to {_default_threads} for this job" if _default_threads else ""),
        f"threading layer: {info['threading_layer']} "
        f"(requested {info['requested_layer']}; TBB "
        f"{'available' if info['tbb_available'] else 'not available: pip install tbb'})",
    ]
    return lines


preload_tbb()
