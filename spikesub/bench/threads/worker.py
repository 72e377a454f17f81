"""One round of the thread benchmark, in a process of its own (one Numba threading layer for
the process's lifetime): ``python -m spikesub.bench.threads.worker SPEC``, where ``SPEC`` is
JSON with ``settings``, ``duration_ms``, ``busy``, ``round`` and ``seed``. Prints one line,
``BENCH_THREADS_RESULT `` and the rows and thread information as JSON."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from typing import Any

import spikesub as ss
from spikesub.bench.threads.config import AUTO, DT_MS
from spikesub.kernels import thread_info

__all__ = ["BusyLoops", "RESULT_TAG", "run_round", "spike_digest"]

N_EXC = 8000
N_INH = 2000
CONNECTION_P = 0.1
WARMUP_MS = 50.0
SETTLE_S = 0.3  # lets the busy loops reach full speed before a loaded measurement
RESULT_TAG = "BENCH_THREADS_RESULT "
# A pure-Python busy loop that ends when its parent is gone.
BUSY_LOOP = (
    "import os\n"
    "parent = os.getppid()\n"
    "while os.getppid() == parent:\n"
    "    for _ in range(1_000_000):\n"
    "        pass\n"
)


class BusyLoops:
    """``n`` busy-loop processes for the duration of a ``with`` block (always stopped)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> BusyLoops:
        try:
            for _ in range(self.n):
                self.procs.append(subprocess.Popen([sys.executable, "-c", BUSY_LOOP]))
            time.sleep(SETTLE_S if self.n else 0.0)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            proc.wait()
        self.procs = []


def build(label: str, seed: int) -> ss.IzhikevichReservoir:
    n_threads = None if label == AUTO else int(label)
    return ss.IzhikevichReservoir.izhikevich_2003(
        N_EXC, N_INH, p=CONNECTION_P, dt_ms=DT_MS, backend="numba", seed=seed, n_threads=n_threads
    )


def spike_digest(spikes: ss.SpikeTrains) -> str:
    """A short fingerprint of the spike times and indices (equal runs, equal digests)."""
    data = spikes.times_ms.astype("float64").tobytes() + spikes.indices.astype("int32").tobytes()
    return hashlib.sha256(data).hexdigest()[:16]


def time_run(res: ss.IzhikevichReservoir, duration_ms: float) -> dict[str, Any]:
    """One timed run from the initial state: wall and CPU seconds, spikes, thread use."""
    res.reset_state()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = res.run(duration_ms, record_state=(), progress=False)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    stats = res.thread_stats
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "spikes": len(result.spikes),
        "spike_digest": spike_digest(result.spikes),
        "n_threads": res.n_threads,
        "threaded_fraction": stats.get("threaded_fraction"),
        "switches": stats.get("switches"),
        "probes": stats.get("probes"),
    }


def run_round(settings: list[str], duration_ms: float, busy: int, round_index: int, seed: int):
    """Every setting once quiet and once loaded, in an order that rotates with the round."""
    networks = {label: build(label, seed) for label in settings}
    for res in networks.values():
        res.run(WARMUP_MS, record_state=(), progress=False)  # compiles, or loads the cache
    shift = round_index % len(settings)
    order = settings[shift:] + settings[:shift]
    loads = [("quiet", 0), ("busy", busy)] if busy else [("quiet", 0)]
    if round_index % 2 and busy:
        loads.reverse()
    rows = []
    for load, n_busy in loads:
        with BusyLoops(n_busy):
            for label in order:
                row = time_run(networks[label], duration_ms)
                rows.append({"round": round_index, "load": load, "threads": label, **row})
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the round of ``argv[0]`` (JSON) and print its result line."""
    from spikesub.bench.threads.run import interrupt_on_sigterm

    interrupt_on_sigterm()
    spec = json.loads((sys.argv[1:] if argv is None else argv)[0])
    rows = run_round(
        spec["settings"], spec["duration_ms"], spec["busy"], spec["round"], spec["seed"]
    )
    print(RESULT_TAG + json.dumps({"rows": rows, "thread_info": thread_info()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
