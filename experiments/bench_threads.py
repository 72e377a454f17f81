"""Benchmark: the 10k reservoir on 1, 2 and automatic threads, on a quiet machine and beside
busy processes.

The Izhikevich (2003) network of 8000 excitatory and 2000 inhibitory neurons, connection
probability 0.1, dt = 0.1 ms, Numba backend, simulated for ``--duration-ms`` (1 s) with each
thread setting of ``--threads`` (``1,2,auto``: ``auto`` is the reservoir's default, the
automatic thread count with its measured fallback to one thread). Every setting runs quiet and
beside ``--busy`` (2) busy-loop processes that the benchmark starts and stops itself (they are
stopped on error and on Ctrl-C too, and end on their own if the benchmark dies).

Settings take turns: each of ``--rounds`` rounds runs every setting once, quiet and loaded,
in an order that rotates from round to round, so a disturbance that comes and goes spreads
over all of them. A round runs in a fresh process per Numba threading layer (``--layers``;
a process has one layer for its lifetime): it builds the networks, runs each for 50 ms to
compile (or load the compiled code), then times the runs (compilation excluded). All
settings produce the same spikes; the benchmark checks that they do.

Usage::

    python experiments/bench_threads.py                        # 1 s, 5 rounds, 2 busy loops
    python experiments/bench_threads.py --layers tbb,omp       # also compare threading layers
    python experiments/bench_threads.py --quick                # a smoke run of a few seconds

Writes ``config.json``, ``metrics.json`` (every timed run, then medians per layer, load and
setting), ``bench.md`` (the table, also printed) and ``bench_threads.png`` (the medians as bars,
the range of the rounds as error bars) into ``--out``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import spikesub as ss
from spikesub.kernels import available_cores, resolve_threads, thread_info
from spikesub.scripting import run_script

N_EXC = 8000
N_INH = 2000
CONNECTION_P = 0.1
DT_MS = 0.1
WARMUP_MS = 50.0
SETTLE_S = 0.3  # lets the busy loops reach full speed before a loaded measurement
LAYERS = ("default", "tbb", "omp", "workqueue")
RESULT_TAG = "BENCH_THREADS_RESULT "
AUTO = "auto"
# A pure-Python busy loop that ends when its parent is gone.
BUSY_LOOP = (
    "import os\n"
    "parent = os.getppid()\n"
    "while os.getppid() == parent:\n"
    "    for _ in range(1_000_000):\n"
    "        pass\n"
)

COLUMNS = (
    ("layer", "layer", "{}"),
    ("load", "load", "{}"),
    ("threads", "threads", "{}"),
    ("n_threads", "n", "{:d}"),
    ("median_s", "median s", "{:.3f}"),
    ("min_s", "min s", "{:.3f}"),
    ("max_s", "max s", "{:.3f}"),
    ("vs_one_thread", "/ 1 thread", "{:.2f}"),
    ("threaded_fraction", "threaded steps", "{:.0%}"),
    ("rounds", "rounds", "{:d}"),
)


# ----------------------------------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------------------------------


def thread_settings(text: str) -> list[str]:
    """``--threads`` as labels: ``auto`` (also ``0``) or a count >= 1, each checked.

    Raises:
        ValueError / TypeError: an item is negative or not an integer (one line, naming
        ``--threads``); a count above the available cores is kept, with one warning.
    """
    labels = []
    for item in (part.strip() for part in text.split(",")):
        if item.lower() in (AUTO, "0"):
            labels.append(AUTO)
            continue
        try:
            value = int(item)
        except ValueError:
            raise ValueError(
                f"--threads must be integers >= 0 or 'auto', comma-separated; got {item!r}"
            ) from None
        labels.append(str(resolve_threads(value, name="--threads", stacklevel=3)))
    if not labels:
        raise ValueError("--threads: give at least one setting")
    return list(dict.fromkeys(labels))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="The 10k Izhikevich reservoir on 1, 2 and automatic threads, quiet and "
        "beside busy-loop processes.",
    )
    parser.add_argument(
        "--threads",
        default=f"1,2,{AUTO}",
        help="thread settings, comma-separated: counts >= 1, or 'auto' (or 0) for the "
        "reservoir's default (default: %(default)s)",
    )
    parser.add_argument(
        "--duration-ms", type=float, default=1000.0, help="biological time per run (default 1000)"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds; each times every setting once (default 5)"
    )
    parser.add_argument(
        "--busy", type=int, default=2, help="busy-loop processes beside the loaded runs (default 2)"
    )
    parser.add_argument(
        "--layers",
        default="default",
        help="Numba threading layers, comma-separated, from default (what spikesub picks), "
        "tbb, omp, workqueue (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of network and noise")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 ms, one round")
    parser.add_argument(
        "--out", default="runs/bench-threads", help="output folder (default: %(default)s)"
    )
    parser.add_argument("--quiet", action="store_true", help="print the table only")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # one round in a child process
    args = parser.parse_args(argv)
    if args.quick:
        args.duration_ms = 20.0
        args.rounds = 1
    if not (args.duration_ms >= DT_MS):
        raise ValueError(f"--duration-ms must be >= {DT_MS}; got {args.duration_ms}")
    if args.rounds < 1:
        raise ValueError(f"--rounds must be >= 1; got {args.rounds}")
    if args.busy < 0:
        raise ValueError(f"--busy must be >= 0; got {args.busy}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0; got {args.seed}")
    args.threads = thread_settings(args.threads)
    args.layers = [layer.strip().lower() for layer in args.layers.split(",") if layer.strip()]
    for layer in args.layers:
        if layer not in LAYERS:
            raise ValueError(f"--layers must be from {', '.join(LAYERS)}; got {layer!r}")
    return args


class RoundFailed(OSError):
    """A round's process failed (its last line of stderr says why)."""


# ----------------------------------------------------------------------------------------------
# Busy loops
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# One round (in a child process)
# ----------------------------------------------------------------------------------------------


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


def worker_main(args: argparse.Namespace) -> int:
    spec = json.loads(args.worker)
    rows = run_round(spec["settings"], spec["duration_ms"], spec["busy"], spec["round"], args.seed)
    info = thread_info()
    print(RESULT_TAG + json.dumps({"rows": rows, "thread_info": info}), flush=True)
    return 0


def spawn_round(args: argparse.Namespace, layer: str, round_index: int) -> dict[str, Any]:
    """One round in a fresh process running the threading layer ``layer``."""
    env = dict(os.environ)
    if layer != "default":
        env["NUMBA_THREADING_LAYER"] = layer
    spec = {
        "settings": args.threads,
        "duration_ms": args.duration_ms,
        "busy": args.busy,
        "round": round_index,
    }
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    command += ["--seed", str(args.seed)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_TAG)]
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RoundFailed(f"round {round_index + 1} on layer {layer} failed: {last}")
    result = json.loads(lines[-1][len(RESULT_TAG) :])
    used = result["thread_info"]["threading_layer"]
    for row in result["rows"]:
        row.update(layer=layer if layer != "default" else f"default ({used})", layer_used=used)
    return result


# ----------------------------------------------------------------------------------------------
# Summary, table, figure
# ----------------------------------------------------------------------------------------------


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians per (layer, load, setting), with the ratio to one thread's median."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["layer"], row["load"], row["threads"]), []).append(row)
    summary = []
    for (layer, load, label), group in groups.items():
        walls = [r["wall_s"] for r in group]
        fractions = [r["threaded_fraction"] for r in group if r["threaded_fraction"] is not None]
        summary.append(
            {
                "layer": layer,
                "load": load,
                "threads": label,
                "n_threads": group[0]["n_threads"],
                "median_s": statistics.median(walls),
                "min_s": min(walls),
                "max_s": max(walls),
                "rounds": len(walls),
                "threaded_fraction": statistics.median(fractions) if fractions else None,
                "switches": sum(r["switches"] or 0 for r in group),
                "probes": sum(r["probes"] or 0 for r in group),
            }
        )
    one = {(s["layer"], s["load"]): s["median_s"] for s in summary if s["threads"] == "1"}
    for s in summary:
        base = one.get((s["layer"], s["load"]))
        s["vs_one_thread"] = s["median_s"] / base if base else None
    summary.sort(key=lambda s: (s["layer"], s["load"] != "quiet", _setting_key(s["threads"])))
    return summary


def _setting_key(label: str) -> tuple[int, int]:
    return (1, 0) if label == AUTO else (0, int(label))


def markdown_table(summary: list[dict[str, Any]]) -> str:
    lines = [
        "| " + " | ".join(title for _, title, _ in COLUMNS) + " |",
        "|"
        + "|".join(":---" if key in ("layer", "load") else "---:" for key, _, _ in COLUMNS)
        + "|",
    ]
    for s in summary:
        cells = ["-" if s.get(key) is None else fmt.format(s[key]) for key, _, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def spikes_agree(rows: list[dict[str, Any]]) -> bool:
    """Whether every timed run produced the same spikes."""
    return len({r["spike_digest"] for r in rows}) <= 1


def draw_figure(summary: list[dict[str, Any]], path: Path) -> Path:
    """Median wall time per setting, grouped by layer and load; bars span the rounds' range."""
    from matplotlib.figure import Figure

    groups = list(dict.fromkeys((s["layer"], s["load"]) for s in summary))
    labels = sorted({s["threads"] for s in summary}, key=_setting_key)
    width = 0.8 / len(labels)
    figure = Figure(figsize=(max(5.0, 1.6 * len(groups)), 3.6))
    ax = figure.subplots()
    for j, label in enumerate(labels):
        xs, medians, low, high = [], [], [], []
        for i, group in enumerate(groups):
            match = [s for s in summary if (s["layer"], s["load"]) == group]
            match = [s for s in match if s["threads"] == label]
            if match:
                s = match[0]
                xs.append(i + (j - (len(labels) - 1) / 2) * width)
                medians.append(s["median_s"])
                low.append(s["median_s"] - s["min_s"])
                high.append(s["max_s"] - s["median_s"])
        name = "automatic" if label == AUTO else f"{label} thread{'s' if label != '1' else ''}"
        ax.bar(xs, medians, width, yerr=[low, high], capsize=3, label=name)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{layer}\n{load}" for layer, load in groups], fontsize=8)
    ax.set_ylabel("wall time (s, median of rounds)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    figure.tight_layout()
    return ss.runs.save_figure(figure, path)


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    import numba
    import numpy as np

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "cores_available": available_cores(),
        "numba": numba.__version__,
        "numpy": np.__version__,
        "spikesub": ss.__version__,
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def _interrupt_on_sigterm() -> None:
    """Treat SIGTERM as Ctrl-C, so that busy loops and the round's process are stopped."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _interrupt_on_sigterm()
    if args.worker:
        return worker_main(args)
    out = ss.runs.make_run_dir(args.out)
    config = {
        "experiment": "bench_threads",
        "network": {
            "n_exc": N_EXC,
            "n_inh": N_INH,
            "p": CONNECTION_P,
            "dt_ms": DT_MS,
            "model": "izhikevich_2003",
            "backend": "numba",
            "seed": args.seed,
        },  # fmt: skip
        "duration_ms": args.duration_ms,
        "threads": args.threads,
        "rounds": args.rounds,
        "busy": args.busy,
        "layers": args.layers,
        "warmup_ms": WARMUP_MS,
        "environment": environment(),
    }
    ss.runs.write_json(out / "config.json", config)
    rows: list[dict[str, Any]] = []
    infos: dict[str, Any] = {}
    for round_index in range(args.rounds):
        for layer in args.layers:
            result = spawn_round(args, layer, round_index)
            rows.extend(result["rows"])
            infos[layer] = result["thread_info"]
            if not args.quiet:
                print(_round_line(result["rows"]), file=sys.stderr, flush=True)
    summary = summarise(rows)
    metrics = {
        "summary": summary,
        "rows": rows,
        "thread_info": infos,
        "same_spikes_in_every_run": spikes_agree(rows),
    }
    ss.runs.write_json(out / "metrics.json", metrics)
    table = markdown_table(summary)
    ss.runs.atomic_write_bytes(out / "bench.md", table.encode("utf-8"))
    draw_figure(summary, out / "bench_threads.png")
    print(table, end="")
    if not metrics["same_spikes_in_every_run"]:
        print("bench_threads.py: error: thread settings gave different spikes", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"wrote {out / 'config.json'}, metrics.json, bench.md, bench_threads.png")
    return 0


def _round_line(rows: list[dict[str, Any]]) -> str:
    first = rows[0]
    parts = [f"{r['load']} {r['threads']}: {r['wall_s']:.3f} s" for r in rows]
    return f"round {first['round'] + 1} {first['layer']}: " + ", ".join(parts)


if __name__ == "__main__":
    run_script(main, "bench_threads.py")
