"""Running the thread benchmark: the 10k reservoir on 1, 2 and automatic threads, on a quiet
machine and beside busy processes.

The Izhikevich (2003) network of 8000 excitatory and 2000 inhibitory neurons, connection
probability 0.1, dt = 0.1 ms, Numba backend, simulated for ``duration_ms`` (1 s) with each
thread setting of ``threads`` (``1,2,auto``: ``auto`` is the reservoir's default, the
automatic thread count with its measured fallback to one thread). Every setting runs quiet and
beside ``busy`` (2) busy-loop processes that the benchmark starts and stops itself (they are
stopped on error and on Ctrl-C too, and end on their own if the benchmark dies).

Settings take turns: each of ``rounds`` rounds runs every setting once, quiet and loaded,
in an order that rotates from round to round, so a disturbance that comes and goes spreads
over all of them. A round runs in a fresh process per Numba threading layer (``layers``;
a process has one layer for its lifetime, :mod:`spikesub.bench.threads.worker`): it builds
the networks, runs each for 50 ms to compile (or load the compiled code), then times the runs
(compilation excluded). All settings produce the same spikes; the benchmark checks that they
do (``same_spikes_in_every_run`` in ``metrics.json``).

The run folder gets ``config.json``, ``metrics.json`` (every timed run, then medians per
layer, load and setting) and ``bench.md`` (the table);
:func:`spikesub.bench.threads.figures.plot` draws ``bench_threads.png`` from it.

A timing benchmark: never run two of its trials at once (a sweep over it takes
``--max-parallel 1``).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import spikesub as ss
from spikesub.bench.common import platform_info
from spikesub.bench.threads.config import AUTO, DT_MS, BenchThreadsConfig, thread_labels
from spikesub.bench.threads.figures import setting_key
from spikesub.bench.threads.worker import CONNECTION_P, N_EXC, N_INH, RESULT_TAG, WARMUP_MS
from spikesub.kernels import available_cores, resolve_threads
from spikesub.runs import atomic_write_bytes, prepare_run_dir, run_config_document, write_json

__all__ = [
    "JOB",
    "RoundFailed",
    "TABLE_NAME",
    "markdown_table",
    "run",
    "spawn_round",
    "spikes_agree",
    "summarise",
]

JOB = BenchThreadsConfig.job
TABLE_NAME = "bench.md"

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


class RoundFailed(OSError):
    """A round's process failed (its last line of stderr says why)."""


def settings_of(config: BenchThreadsConfig) -> list[str]:
    """The thread labels of ``config``; a count above the available cores is kept, with
    one warning."""
    labels = thread_labels(config.threads)
    for label in labels:
        if label != AUTO:
            resolve_threads(int(label), name="--threads", stacklevel=3)
    return list(labels)


def spawn_round(
    config: BenchThreadsConfig, settings: list[str], layer: str, round_index: int
) -> dict[str, Any]:
    """One round in a fresh process running the threading layer ``layer``."""
    env = dict(os.environ)
    if layer != "default":
        env["NUMBA_THREADING_LAYER"] = layer
    spec = {
        "settings": settings,
        "duration_ms": config.duration_ms,
        "busy": config.busy,
        "round": round_index,
        "seed": config.seed,
    }
    command = [sys.executable, "-m", "spikesub.bench.threads.worker", json.dumps(spec)]
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
    summary.sort(key=lambda s: (s["layer"], s["load"] != "quiet", setting_key(s["threads"])))
    return summary


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


def environment() -> dict[str, Any]:
    """Versions, cores and load of this machine."""
    import numba
    import numpy as np

    return {
        **platform_info(),
        "cores_available": available_cores(),
        "numba": numba.__version__,
        "numpy": np.__version__,
        "spikesub": ss.__version__,
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def interrupt_on_sigterm() -> None:
    """Treat SIGTERM as Ctrl-C, so that busy loops and the round's process are stopped
    (in the main thread only; elsewhere nothing changes)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (e.g. a trial of a sweep)
        pass


def write_config(out: Path, config: BenchThreadsConfig, settings: list[str]) -> Path:
    """``config.json``: the settings, the network, the thread labels and the machine."""
    document = run_config_document(
        JOB,
        config.to_dict(),
        network={
            "n_exc": N_EXC,
            "n_inh": N_INH,
            "p": CONNECTION_P,
            "dt_ms": DT_MS,
            "model": "izhikevich_2003",
            "backend": "numba",
            "seed": config.seed,
        },  # fmt: skip
        thread_settings=settings,
        warmup_ms=WARMUP_MS,
        environment=environment(),
    )
    return write_json(out / "config.json", document)


def run(
    config: BenchThreadsConfig,
    out: str | Path | None = None,
    *,
    progress: bool | None = None,
    quiet: bool = False,
) -> Path:
    """Run the benchmark of ``config`` and write its run folder (see the module's docstring).

    Args:
        config: what to run.
        out: the run folder (default ``runs/bench-threads-<time>``).
        progress: print a line per round on stderr (default: unless ``quiet``).
        quiet: no lines per round.

    Returns:
        the run folder; its ``metrics.json`` says whether every run gave the same spikes.
    """
    settings = settings_of(config)
    out = prepare_run_dir(out, job=JOB, config=config.to_dict(), prefix="bench-threads")
    write_config(out, config, settings)
    show = not quiet if progress is None else progress and not quiet
    rows: list[dict[str, Any]] = []
    infos: dict[str, Any] = {}
    for round_index in range(config.rounds):
        for layer in config.layer_names:
            result = spawn_round(config, settings, layer, round_index)
            rows.extend(result["rows"])
            infos[layer] = result["thread_info"]
            if show:
                print(_round_line(result["rows"]), file=sys.stderr, flush=True)
    summary = summarise(rows)
    metrics = {
        "summary": summary,
        "rows": rows,
        "thread_info": infos,
        "same_spikes_in_every_run": spikes_agree(rows),
    }
    write_json(out / "metrics.json", metrics)
    atomic_write_bytes(out / TABLE_NAME, markdown_table(summary).encode("utf-8"))
    return out


def _round_line(rows: list[dict[str, Any]]) -> str:
    first = rows[0]
    parts = [f"{r['load']} {r['threads']}: {r['wall_s']:.3f} s" for r in rows]
    return f"round {first['round'] + 1} {first['layer']}: " + ", ".join(parts)
