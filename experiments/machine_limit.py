"""The machine's limit: what this CPU does at most for each kind of work of a reservoir step.

Times the micro-kernels of ``spikesub.roofline`` on each thread count: memory bandwidth
(STREAM read and triad), the read bandwidth of a working set in the L2 cache, the Izhikevich
update's arithmetic (float64 and float32) and the synaptic delivery's scatter-add, both on data
in the L1 cache. With a network's work per second of biological time (neuron updates, synaptic
events = spikes x fan-out, bytes per event of the CSR walk) this gives a lower bound on the wall
time, and the neuron updates and synaptic events per second the hardware could do; see
``experiments/bench_reservoir.py``, which puts that bound beside every spikesub row.

Usage::

    python experiments/machine_limit.py --threads 1,2

Writes ``config.json``, ``metrics.json`` (one row per thread count) and ``limits.md`` into
``--out``, and prints the table. Run it on a quiet machine: other processes lower every rate.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path
from typing import Any

import numba
import numpy as np

from spikesub.kernels import available_cores
from spikesub.roofline import MachineLimits, measure_machine
from spikesub.runs import atomic_write_bytes, make_run_dir, write_json
from spikesub.scripting import run_script

COLUMNS = (
    ("threads", "threads", "{:d}"),
    ("stream_read_gbs", "memory read GB/s", "{:.1f}"),
    ("triad_gbs", "triad GB/s", "{:.1f}"),
    ("cache_read_gbs", "L2 read GB/s", "{:.0f}"),
    ("updates_per_s_float64", "updates / s (f64)", "{:.3g}"),
    ("updates_per_s_float32", "updates / s (f32)", "{:.3g}"),
    ("events_per_s", "syn. events / s", "{:.3g}"),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads", default="1", help="thread counts, comma-separated (default: %(default)s)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=0.3,
        help="time spent on each measurement; the best run counts (default: %(default)s)",
    )
    parser.add_argument(
        "--out", default="runs/machine-limit", help="output folder (default: %(default)s)"
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    args = parser.parse_args(argv)
    try:
        args.threads = [int(t) for t in args.threads.split(",") if t.strip()]
    except ValueError:
        parser.error(f"--threads: comma-separated integers; got {args.threads!r}")
    if not args.threads or min(args.threads) < 1:
        parser.error(f"--threads must be integers >= 1; got {args.threads}")
    if max(args.threads) > numba.config.NUMBA_NUM_THREADS:
        parser.error(
            f"--threads must be at most Numba's pool ({numba.config.NUMBA_NUM_THREADS}); "
            f"got {max(args.threads)}"
        )
    if not args.seconds > 0:
        parser.error(f"--seconds must be > 0; got {args.seconds}")
    return args


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| " + " | ".join(title for _, title, _ in COLUMNS) + " |",
        "|" + "|".join("---:" for _ in COLUMNS) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(fmt.format(row[key]) for key, _, fmt in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "available_cores": available_cores(),
        "numba": numba.__version__,
        "numba_threading_layer_env": os.environ.get("NUMBA_THREADING_LAYER"),
        "numpy": np.__version__,
    }


def measure(threads: list[int], seconds: float) -> list[MachineLimits]:
    """:func:`spikesub.roofline.measure_machine` for each thread count."""
    return [measure_machine(t, seconds=seconds) for t in threads]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = make_run_dir(args.out)
    config = {
        "experiment": "machine_limit",
        "threads": args.threads,
        "seconds": args.seconds,
        "environment": environment(),
    }
    write_json(Path(out) / "config.json", config)
    rows = [limits.to_dict() for limits in measure(args.threads, args.seconds)]
    write_json(Path(out) / "metrics.json", {"rows": rows})
    table = markdown_table(rows)
    atomic_write_bytes(Path(out) / "limits.md", table.encode("utf-8"))
    if not args.quiet:
        print(table, end="")
        print(f"wrote {out / 'config.json'}, {out / 'metrics.json'}, {out / 'limits.md'}")
    return 0


if __name__ == "__main__":
    run_script(main, "machine_limit.py")
