"""One trial of a sweep: the state of its run folder, and running it.

A trial's run folder is the job's own (``config.json``, ``metrics.json``, ...), with the
sweep's record of how the trial ended:

``trial.json``
    written once the job has returned: ``"status": "done"``, its seconds, whether it
    resumed an interrupted run, its threads and host;
``error.txt``
    written when it failed: the error in one line, then the traceback.

:func:`execute_trial` is what a Ray worker runs; it needs no Ray and runs here as well.
"""

from __future__ import annotations

import inspect
import platform
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spikesub.runs import atomic_write_bytes, read_json, write_json

__all__ = [
    "ERROR_FILE",
    "TRIAL_FILE",
    "execute_trial",
    "read_error",
    "record_failure",
    "trial_status",
]

TRIAL_FILE = "trial.json"
ERROR_FILE = "error.txt"


def trial_status(run_dir: str | Path) -> str:
    """``"done"`` (its job returned), ``"failed"`` (its last attempt raised), ``"started"``
    (interrupted: its run folder exists, the job resumes it) or ``"new"``."""
    run_dir = Path(run_dir)
    if _done(run_dir):
        return "done"
    if (run_dir / ERROR_FILE).exists():
        return "failed"
    if (run_dir / "config.json").exists():
        return "started"
    return "new"


def _done(run_dir: Path) -> bool:
    path = run_dir / TRIAL_FILE
    if not path.exists() or not (run_dir / "metrics.json").exists():
        return False
    try:
        record = read_json(path)
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("status") == "done"


def read_error(run_dir: str | Path) -> str | None:
    """The one-line error of a failed trial (the first line of its ``error.txt``)."""
    path = Path(run_dir) / ERROR_FILE
    try:
        return path.read_text(encoding="utf-8").splitlines()[0]
    except (OSError, IndexError, UnicodeDecodeError):
        return None


def record_failure(run_dir: str | Path, line: str, details: str = "") -> Path:
    """Write a failed trial's ``error.txt``: ``line``, then ``details`` (a traceback)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    text = line + "\n" + (f"\n{details.rstrip()}\n" if details else "")
    return atomic_write_bytes(run_dir / ERROR_FILE, text.encode("utf-8"))


def _clear_outcome(run_dir: Path) -> None:
    """Forget how an earlier attempt ended (the job's own files stay, to be resumed)."""
    for name in (TRIAL_FILE, ERROR_FILE):
        (run_dir / name).unlink(missing_ok=True)


def execute_trial(
    job: str,
    settings: Mapping[str, Any],
    run_dir: str | Path,
    *,
    threads: int = 1,
    memory: int | None = None,
) -> dict[str, Any]:
    """Run job ``job`` with ``settings`` into ``run_dir``, on ``threads`` threads.

    An interrupted run (its folder holds a ``config.json``) is resumed where the job can
    resume, and started over where it cannot. A failure of the trial does not raise: its
    one-line error goes to ``error.txt`` and to the returned record. Ctrl-C (and Ray's
    cancellation, which raises KeyboardInterrupt) does raise, after the job has saved what
    it can.

    Args:
        job: a job of :data:`spikesub.jobs.JOBS`.
        settings: its settings by name.
        run_dir: the trial's run folder (created).
        threads: CPU threads for Numba and torch.
        memory: the memory budget in bytes (None: the default one).

    Returns:
        ``{"status": "done" | "failed", "seconds", "resumed", "error"?}``.
    """
    from spikesub.jobs import get_job, run_job
    from spikesub.models.memory import memory_budget
    from spikesub.scripting import error_line, set_threads

    started = time.perf_counter()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _clear_outcome(run_dir)
    resumed = (run_dir / "config.json").exists()
    try:
        run = get_job(job).load("run")  # imports torch for the jobs that train, before threads
        set_threads(threads)
        options: dict[str, Any] = {"progress": False}
        if resumed and "resume" in inspect.signature(run).parameters:
            options["resume"] = True
        with memory_budget(memory):
            run_job(job, settings, run_dir, **options)
    except Exception as error:  # a trial's failure is its own: reported, the sweep goes on
        line = error_line(error)
        record_failure(run_dir, line, traceback.format_exc())
        return _record("failed", started, resumed, error=line)
    record = _record("done", started, resumed, threads=threads, host=platform.node())
    write_json(run_dir / TRIAL_FILE, record)
    return record


def _record(status: str, started: float, resumed: bool, **extra: Any) -> dict[str, Any]:
    return {
        "status": status,
        "seconds": time.perf_counter() - started,
        "resumed": resumed,
        **extra,
    }
