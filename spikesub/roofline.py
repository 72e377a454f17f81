"""What this machine can do at most, and how close a reservoir run comes to it.

:func:`measure_machine` times the micro-kernels of :mod:`spikesub.kernels.roofline` on a
given number of threads: memory bandwidth (STREAM read and triad on arrays larger than the
caches), the Izhikevich update's arithmetic on data in the L1 cache, the synaptic delivery's
scatter-add on data in the L1 cache, and the read bandwidth of a working set that fits the L2
cache. :func:`reservoir_bound` turns these rates and a run's work into a lower bound on its
wall time, a roofline:

* **arithmetic**: ``neuron updates / update rate + synaptic events / scatter rate``, the two
  rates per thread times the threads (the update and the delivery share each core);
* **memory**: the CSR walk streams ``bytes per event`` (post index and weight) for every
  synaptic event from memory, when the weights do not fit the last-level cache; and each step
  reads and writes the neuron state (``state bytes per neuron``) from the caches;
* the bound is the larger of the two: the run cannot be faster than its arithmetic on these
  cores, nor than its memory traffic.

The rates are measured, not taken from a data sheet, so the bound is what this machine did
for each kind of work alone. Gaussian noise, spike detection and the steps' synchronisation
are left out: real runs do more than the bound counts.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spikesub.kernels import roofline as rk
from spikesub.kernels.threads import numba_threads

__all__ = ["MachineLimits", "last_level_cache_bytes", "measure_machine", "reservoir_bound"]

# Sizes of the measurements: arrays well beyond the caches for bandwidth, a block well within
# the L1 cache for the arithmetic, a working set that fits a core's L2 cache.
_STREAM_BYTES = 256 * 2**20
_L1_NEURONS = 1024
_L1_TARGETS = 4096
_L1_EVENTS = 2048
_L2_BYTES = 512 * 2**10


@dataclass
class MachineLimits:
    """Measured rates of one machine on ``threads`` threads (rates are for all threads).

    Attributes:
        threads: threads the kernels ran on.
        stream_read_gbs: GB/s read from memory (sum of an array beyond the caches).
        triad_gbs: GB/s of STREAM's triad (two arrays read, one written; write-allocate
            traffic not counted, as STREAM reports it).
        cache_read_gbs: GB/s read from a working set of 512 KiB per thread (the L2 cache).
        updates_per_s_float64: Izhikevich neuron updates per second, float64 arithmetic,
            float32 state, data in the L1 cache.
        updates_per_s_float32: the same in float32 arithmetic.
        events_per_s: synaptic events per second of the delivery's scatter-add, data in the L1
            cache.
        llc_bytes: the last-level cache in bytes (0 when unknown).
    """

    threads: int
    stream_read_gbs: float
    triad_gbs: float
    cache_read_gbs: float
    updates_per_s_float64: float
    updates_per_s_float32: float
    events_per_s: float
    llc_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def last_level_cache_bytes() -> int:
    """Size of the largest CPU cache in bytes from Linux's sysfs; 0 when it cannot be read."""
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    best = 0
    for entry in base.glob("index*"):
        try:
            text = (entry / "size").read_text().strip().upper()
        except OSError:
            continue
        scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if digits.isdigit():
            best = max(best, int(digits) * scale)
    return best


def _best_time(fn, *args, seconds: float) -> float:
    """Smallest wall time of ``fn(*args)`` over repeated calls taking about ``seconds`` in all
    (at least 3 calls after one warm-up)."""
    fn(*args)
    best = math.inf
    spent = 0.0
    calls = 0
    while calls < 3 or spent < seconds:
        t0 = time.perf_counter()
        fn(*args)
        elapsed = time.perf_counter() - t0
        best = min(best, elapsed)
        spent += elapsed
        calls += 1
    return best


def _update_rate(threads: int, dtype: Any, seconds: float) -> float:
    n = _L1_NEURONS * threads
    rng = np.random.default_rng(0)
    v = np.full(n, -65.0, dtype=np.float32)
    u = np.full(n, -13.0, dtype=np.float32)
    a = np.full(n, 0.02, dtype=dtype)
    b = np.full(n, 0.2, dtype=dtype)
    current = rng.uniform(3.0, 5.0, n).astype(dtype)  # below threshold: no spikes, no blow-up
    repeats = 2000
    bounds = rk.part_bounds(n, threads)
    t = _best_time(
        rk.izhikevich_updates_numba, v, u, a, b, current, 0.1, 30.0, repeats, bounds,
        seconds=seconds,
    )  # fmt: skip
    return n * repeats / t


def _scatter_rate(threads: int, seconds: float) -> float:
    rng = np.random.default_rng(1)
    indices = np.sort(rng.choice(_L1_TARGETS, _L1_EVENTS, replace=False)).astype(np.int32)
    weights = rng.uniform(0.0, 0.5, _L1_EVENTS).astype(np.float32)
    out = np.zeros((threads, _L1_TARGETS), dtype=np.float32)
    repeats = 2000
    t = _best_time(rk.scatter_add_numba, indices, weights, out, repeats, seconds=seconds)
    return threads * _L1_EVENTS * repeats / t


def _read_rate(n_bytes_per_thread: int, threads: int, seconds: float, repeats: int = 1) -> float:
    n = n_bytes_per_thread // 8 * threads
    a = np.ones(n)
    partial = np.zeros(threads)
    bounds = rk.part_bounds(n, threads)

    def run() -> None:
        for _ in range(repeats):
            rk.stream_sum_numba(a, bounds, partial)

    return 8.0 * n * repeats / _best_time(run, seconds=seconds) / 1e9


def _triad_rate(threads: int, seconds: float) -> float:
    n = _STREAM_BYTES // 8 // 3
    out, b, c = np.zeros(n), np.ones(n), np.full(n, 2.0)
    bounds = rk.part_bounds(n, threads)
    t = _best_time(rk.triad_numba, out, b, c, 3.0, bounds, seconds=seconds)
    return 3 * 8.0 * n / t / 1e9


def measure_machine(threads: int = 1, seconds: float = 0.3) -> MachineLimits:
    """Time the micro-kernels on ``threads`` threads, each for about ``seconds`` (best run).

    Takes a few seconds (the first call also compiles the kernels). Run it on a quiet machine:
    other processes lower every rate.
    """
    threads = int(threads)
    if threads < 1:
        raise ValueError(f"threads must be >= 1; got {threads}")
    with numba_threads(threads):
        stream = _read_rate(_STREAM_BYTES // threads, threads, seconds)
        triad = _triad_rate(threads, seconds)
        cache = _read_rate(_L2_BYTES, threads, seconds, repeats=50)
        up64 = _update_rate(threads, np.float64, seconds)
        up32 = _update_rate(threads, np.float32, seconds)
        events = _scatter_rate(threads, seconds)
    return MachineLimits(
        threads=threads,
        stream_read_gbs=stream,
        triad_gbs=triad,
        cache_read_gbs=cache,
        updates_per_s_float64=up64,
        updates_per_s_float32=up32,
        events_per_s=events,
        llc_bytes=last_level_cache_bytes(),
    )


def reservoir_bound(
    limits: MachineLimits,
    *,
    neuron_updates: float,
    synaptic_events: float,
    bytes_per_event: float,
    csr_bytes: float,
    state_bytes_per_update: float,
    precision: str = "float64",
) -> dict[str, float]:
    """Lower bound on the wall time of a reservoir run, in s, and its parts.

    Args:
        limits: the machine's rates on the run's thread count (:func:`measure_machine`).
        neuron_updates: neurons x steps.
        synaptic_events: spikes x their fan-out (recurrent synapses only).
        bytes_per_event: bytes the CSR walk reads per event (post index + weight).
        csr_bytes: bytes of the CSR's indices and weights: the walk streams from memory when
            they exceed the last-level cache, else from the caches (not counted).
        state_bytes_per_update: bytes of neuron state and parameters read and written per
            neuron update, from the caches.
        precision: the update's arithmetic, ``"float64"`` or ``"float32"``.

    Returns:
        ``{"update_s", "delivery_s", "arithmetic_s", "csr_memory_s", "state_memory_s",
        "memory_s", "bound_s"}``; ``bound_s = max(arithmetic_s, memory_s)``.
    """
    rate = limits.updates_per_s_float32 if precision == "float32" else limits.updates_per_s_float64
    update_s = neuron_updates / rate
    delivery_s = synaptic_events / limits.events_per_s
    in_memory = limits.llc_bytes == 0 or csr_bytes > limits.llc_bytes
    csr_memory_s = synaptic_events * bytes_per_event / (limits.stream_read_gbs * 1e9)
    state_memory_s = neuron_updates * state_bytes_per_update / (limits.cache_read_gbs * 1e9)
    memory_s = max(csr_memory_s if in_memory else 0.0, state_memory_s)
    arithmetic_s = update_s + delivery_s
    return {
        "update_s": update_s,
        "delivery_s": delivery_s,
        "arithmetic_s": arithmetic_s,
        "csr_memory_s": csr_memory_s if in_memory else 0.0,
        "state_memory_s": state_memory_s,
        "memory_s": memory_s,
        "bound_s": max(arithmetic_s, memory_s),
    }
