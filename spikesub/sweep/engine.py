"""Trials on Ray: the connection, and a pool of trials in flight.

:func:`connect` starts a local Ray for the sweep, or joins a cluster by address (``--address``
or ``RAY_ADDRESS``), or uses the Ray this process is already connected to; a local Ray it
started it also stops. Ray is kept quiet: no dashboard, the workers' output not forwarded.

:class:`TrialPool` runs trials as Ray tasks (:func:`~spikesub.sweep.trial.execute_trial`),
each with the CPUs, GPUs and memory of the sweep's ``[resources]``, a bounded number in
flight, and hands back their records as they finish. A worker that dies (killed by Ray's
memory monitor, say) fails its trial, not the sweep.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spikesub.models.errors import SpikesubError
from spikesub.sweep.spec import Resources, Trial
from spikesub.sweep.trial import record_failure

__all__ = ["Cluster", "MissingDependencyError", "TrialPool", "connect", "import_ray"]

_CONNECT_TIMEOUT_S = 5.0
_CANCEL_GRACE_S = 10.0
_LOCAL_OBJECT_STORE_BYTES = 256 * 1024**2  # results are small records, not arrays


class MissingDependencyError(SpikesubError, ImportError):
    """A package that sweeps need is not installed (the message says how to install it)."""


def import_ray():
    """The ``ray`` module; :class:`MissingDependencyError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError(
            "spikesub sweep runs its trials on Ray, which is not installed here: "
            "pip install 'spikesub[sweep]'"
        ) from None
    return ray


@dataclass(frozen=True)
class Cluster:
    """The Ray the trials run on.

    Attributes:
        address: where it is (``"local"`` for one started for the sweep).
        cpus, gpus: its total CPUs and GPUs.
        owned: started by :func:`connect` (and stopped by it).
    """

    address: str
    cpus: float
    gpus: float
    owned: bool

    def slots(self, resources: Resources) -> int:
        """How many trials of ``resources`` it runs at once."""
        by_cpu = int(self.cpus // resources.cpus)
        by_gpu = int(self.gpus // resources.gpus) if resources.gpus else by_cpu
        return max(1, min(by_cpu, by_gpu))

    def check_fits(self, resources: Resources) -> None:
        """Refuse trials that ask for more than the whole cluster has (Ray would wait for
        them forever)."""
        if resources.cpus > self.cpus:
            raise ValueError(
                f"each trial asks for {resources.cpus:g} CPUs ([resources] cpus) but the Ray "
                f"at {self.address} has {self.cpus:g}; ask for fewer"
            )
        if resources.gpus > self.gpus:
            raise ValueError(
                f"each trial asks for {resources.gpus:g} GPUs ([resources] gpus) but the Ray "
                f"at {self.address} has {self.gpus:g}; set gpus = 0 or use a cluster with GPUs"
            )


@contextlib.contextmanager
def connect(address: str | None = None, *, cpus: int | None = None) -> Iterator[Cluster]:
    """Ray for the duration of the block.

    Args:
        address: a cluster, ``ray://host:port`` (Ray Client) or ``host:port``; ``None``:
            ``RAY_ADDRESS`` if set, else a local Ray started here and stopped at the end.
            Ignored when this process is already connected to a Ray.
        cpus: CPUs of a local Ray (default: the cores this process may use).

    Raises:
        ConnectionError: nothing answers at the address (one line, after at most a few
            seconds), or Ray refuses to connect.
        ValueError: ``cpus`` given with an address.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield _cluster(ray, "the running Ray", owned=False)
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is not None and cpus is not None:
        raise ValueError(
            f"--cpus sets the CPUs of a local Ray; the cluster at {address} has its own"
        )
    if address is not None:
        _check_reachable(address)
    _init(ray, address, cpus)
    try:
        yield _cluster(ray, address or "local", owned=True)
    finally:
        ray.shutdown()


def _init(ray, address: str | None, cpus: int | None) -> None:
    quiet: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": "ERROR",
    }
    try:
        if address is None:
            ray.init(
                address="local",
                num_cpus=cpus or _usable_cores(),
                object_store_memory=_LOCAL_OBJECT_STORE_BYTES,
                **quiet,
            )
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, TimeoutError, RuntimeError, SystemExit) as error:
        # Ray exits (SystemExit) when a GCS address stops answering during the handshake
        ray.shutdown()
        where = address or "a local Ray"
        reason = " ".join(str(error).split()) or type(error).__name__
        raise ConnectionError(f"cannot connect to the Ray at {where}: {reason}") from None


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _check_reachable(address: str) -> None:
    """Refuse in a few seconds an address where nothing listens (Ray itself waits for
    minutes, and may end the process)."""
    if address in ("auto", "local"):
        return
    host, port = _host_port(address)
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S):
            pass
    except OSError as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise ConnectionError(
            f"cannot reach the Ray cluster at {address} ({reason}); check --address or "
            "RAY_ADDRESS, and that the cluster is up ('ray status' on its head node)"
        ) from None


def _host_port(address: str) -> tuple[str, int]:
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(
            f"--address must be ray://HOST:PORT (Ray Client) or HOST:PORT; got {address!r}"
        )
    return host.strip("[]"), int(port)


def _cluster(ray, address: str, *, owned: bool) -> Cluster:
    total = ray.cluster_resources()
    return Cluster(
        address=address,
        cpus=float(total.get("CPU", 0.0)),
        gpus=float(total.get("GPU", 0.0)),
        owned=owned,
    )


# ---------------------------------------------------------------------------------------------
# Trials in flight


def _remote_execute(job, settings, run_dir, threads, memory):
    """What a Ray task runs: one trial. Cancelled, it lets the job save what it can, then
    ends its worker process rather than hand it the next trial: the interruption may have
    left an import or the job's state half done."""
    from spikesub.sweep.trial import execute_trial

    try:
        return execute_trial(job, settings, run_dir, threads=threads, memory=memory)
    except KeyboardInterrupt:
        os._exit(1)


class TrialPool:
    """Trials running as Ray tasks, at most ``limit`` at a time.

    Args:
        job: the job every trial runs.
        resources: what each trial gets.
        limit: trials in flight at most.
    """

    def __init__(self, job: str, resources: Resources, limit: int) -> None:
        ray = import_ray()
        self._ray = ray
        self.job = job
        self.resources = resources
        self.limit = max(1, int(limit))
        options: dict[str, Any] = {
            "num_cpus": resources.cpus,
            "num_gpus": resources.gpus,
            "max_retries": 0,  # a trial killed for memory fails once, it is not rerun blindly
        }
        if resources.memory:
            options["memory"] = resources.memory
        self._task = ray.remote(_remote_execute).options(**options)
        self._flight: dict[Any, tuple[Trial, Path]] = {}

    def __len__(self) -> int:
        return len(self._flight)

    @property
    def full(self) -> bool:
        return len(self._flight) >= self.limit

    def submit(self, trial: Trial, run_dir: Path) -> None:
        """Start ``trial`` in ``run_dir`` (an absolute path the workers can reach)."""
        ref = self._task.remote(
            self.job,
            trial.settings,
            str(run_dir),
            self.resources.threads,
            self.resources.memory,
        )
        self._flight[ref] = (trial, run_dir)

    def next_finished(self) -> tuple[Trial, dict[str, Any]]:
        """Wait for a trial to finish; its record (:func:`execute_trial`'s)."""
        ray = self._ray
        (ref,), _ = ray.wait(list(self._flight), num_returns=1)
        trial, run_dir = self._flight.pop(ref)
        try:
            return trial, ray.get(ref)
        except ray.exceptions.RayError as error:
            line = _ray_error_line(error)
            record_failure(run_dir, line)
            return trial, {"status": "failed", "error": line, "seconds": None, "resumed": False}

    def cancel(self) -> None:
        """Interrupt the trials in flight (each gets KeyboardInterrupt, saves what it can);
        those still running after a grace period are killed."""
        ray = self._ray
        refs = list(self._flight)
        for ref in refs:
            ray.cancel(ref)
        _, left = ray.wait(refs, num_returns=len(refs), timeout=_CANCEL_GRACE_S)
        for ref in left:
            ray.cancel(ref, force=True)
        self._flight.clear()


def _ray_error_line(error: BaseException) -> str:
    """One line for a trial whose Ray task failed outside the trial's own code."""
    ray = import_ray()
    text = " ".join(str(error).split())
    if isinstance(error, ray.exceptions.OutOfMemoryError):
        return (
            "out of memory: Ray's memory monitor killed the trial's worker; give each trial "
            "more memory ([resources] memory) or run fewer at once (--max-parallel)"
        )
    if isinstance(error, ray.exceptions.WorkerCrashedError):
        return "the trial's worker process died (killed, or crashed in native code)"
    if isinstance(error, ray.exceptions.TaskCancelledError):
        return "cancelled"
    return f"{type(error).__name__}: {text[:300]}"
