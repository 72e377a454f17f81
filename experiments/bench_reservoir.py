"""Benchmark: the Izhikevich (2003) reservoir in spikesub against Brian2, at several sizes.

The network of Izhikevich (2003) scaled to ``N`` neurons (80 % excitatory): connection
probability 0.1 up to 10 000 neurons, a fixed in-degree of 1000 above, weights scaled by
``1000 / K`` so every size gets the mean input of the original network; thalamic noise of
standard deviation 5 (excitatory) / 2 (inhibitory) held for 1 ms; delta synapses; dt = 0.1 ms.
spikesub (Numba CPU, and CUDA when asked for) and Brian2 (Cython, runtime mode) simulate the
same neurons and the same weights; only the noise samples differ (each simulator draws its own).

Compilation is timed apart: spikesub compiles during a 10 ms warm-up run (then the state is
reset), Brian2 during a zero-length run. ``wall s`` is the simulation alone; ``CPU s`` is the
process's CPU time during it (all threads), a check on machines shared with other work.

Usage::

    python experiments/bench_reservoir.py --sizes 1000,10000 --durations 1,10
    python experiments/bench_reservoir.py --sizes 100000 --durations 1 --resume

Writes ``config.json``, ``metrics.json`` (one row per size, duration and simulator) and
``bench.md`` (the table) into ``--out``. With ``--resume``, rows already in ``metrics.json`` are
kept and their runs skipped, so several invocations add up to one table.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np
from tqdm.auto import tqdm

import spikesub
from spikesub.brian2_reference import brian2_available, import_brian2, run_brian2
from spikesub.models.reservoir import IzhikevichReservoir
from spikesub.runs import atomic_write_bytes, make_run_dir, read_json, write_json
from spikesub.scripting import run_script

EXCITATORY_FRACTION = 0.8
P_MAX_N = 10_000  # connection probability 0.1 up to this size, fixed in-degree above
IN_DEGREE = 1000
CONNECTION_P = 0.1
WARMUP_MS = 10.0
DT_MS = 0.1

COLUMNS = (
    ("n_neurons", "N", "{:d}"),
    ("duration_s", "T s", "{:g}"),
    ("simulator", "simulator", "{}"),
    ("threads", "threads", "{:d}"),
    ("build_s", "build s", "{:.2f}"),
    ("compile_s", "compile s", "{:.2f}"),
    ("wall_s", "wall s", "{:.3g}"),
    ("cpu_s", "CPU s", "{:.3g}"),
    ("realtime_factor", "wall / T", "{:.3g}"),
    ("spikes", "spikes", "{:d}"),
    ("rate_hz", "rate Hz", "{:.2f}"),
    ("syn_events_per_s", "syn. events / s", "{:.3g}"),
    ("brian2_over_spikesub", "Brian2 / spikesub", "{:.2f}"),
    ("rate_diff_pct", "rate diff %", "{:+.1f}"),
)


def _csv(text: str, kind: type, name: str) -> list[Any]:
    try:
        values = [kind(item) for item in text.split(",") if item.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{name}: comma-separated {kind.__name__}s") from exc
    if not values:
        raise argparse.ArgumentTypeError(f"{name}: give at least one value")
    return values


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Izhikevich 2003 reservoir: spikesub (Numba / CUDA) against Brian2 (Cython).",
    )
    parser.add_argument(
        "--sizes",
        default="1000,10000",
        help="network sizes N, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--durations",
        default="1,10",
        help="biological durations in s, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--backends",
        default="numba",
        help="spikesub backends, comma-separated, from numba,cuda,numpy (default: %(default)s)",
    )
    parser.add_argument("--no-brian2", action="store_true", help="skip the Brian2 runs")
    parser.add_argument(
        "--brian2-target", default="cython", choices=("cython", "numpy"), help="Brian2 codegen"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads of the spikesub Numba backend (0 or absent: automatic, for N >= 2048)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per size, duration and simulator; the fastest is reported (default: 1)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of network and noise")
    parser.add_argument(
        "--out", default="runs/bench-reservoir", help="output folder (default: %(default)s)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="keep the rows in OUT/metrics.json, skip their runs"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars or row lines")
    args = parser.parse_args(argv)
    try:
        args.sizes = _csv(args.sizes, int, "--sizes")
        args.durations = _csv(args.durations, float, "--durations")
        args.backends = _csv(args.backends, str, "--backends")
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    if any(n < 10 for n in args.sizes):
        parser.error(f"--sizes must be >= 10; got {args.sizes}")
    if any(not (t > 0) for t in args.durations):
        parser.error(f"--durations must be > 0 s; got {args.durations}")
    for backend in args.backends:
        if backend not in ("numba", "cuda", "numpy"):
            parser.error(f"--backends must be from numba, cuda, numpy; got {backend!r}")
    if args.threads is not None and args.threads < 0:
        parser.error(f"--threads must be >= 0 (0: automatic); got {args.threads}")
    if args.threads == 0:
        args.threads = None
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1; got {args.repeat}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0; got {args.seed}")
    return args


def build_reservoir(
    n: int, backend: str, seed: int, threads: int | None = None
) -> tuple[IzhikevichReservoir, float]:
    """The scaled Izhikevich 2003 network of ``n`` neurons and its build time in s."""
    n_exc = int(round(EXCITATORY_FRACTION * n))
    connect = {"p": CONNECTION_P} if n <= P_MAX_N else {"p": None, "in_degree": IN_DEGREE}
    t0 = time.perf_counter()
    res = IzhikevichReservoir.izhikevich_2003(
        n_exc, n - n_exc, dt_ms=DT_MS, backend=backend, seed=seed, n_threads=threads, **connect
    )
    return res, time.perf_counter() - t0


def _row(
    res: IzhikevichReservoir,
    simulator: str,
    duration_s: float,
    build_s: float,
    compile_s: float,
    wall_s: float,
    counts: np.ndarray,
    **extra: Any,
) -> dict[str, Any]:
    n = res.n_neurons
    n_syn = int(res.weights.nnz)
    fan_out = n_syn / n
    spikes = int(counts.sum())
    exc = np.asarray(res.population.excitatory, dtype=bool)
    return {
        "n_neurons": n,
        "n_exc": int(exc.sum()),
        "n_synapses": n_syn,
        "mean_fan_out": fan_out,
        "duration_s": float(duration_s),
        "simulator": simulator,
        "build_s": build_s,
        "compile_s": compile_s,
        "wall_s": wall_s,
        "realtime_factor": wall_s / duration_s,
        "spikes": spikes,
        "rate_hz": spikes / n / duration_s,
        "rate_exc_hz": float(counts[exc].sum()) / max(1, exc.sum()) / duration_s,
        "rate_inh_hz": float(counts[~exc].sum()) / max(1, (~exc).sum()) / duration_s,
        "syn_events_per_s": spikes * fan_out / wall_s if wall_s > 0 else float("nan"),
        **extra,
    }


def bench_spikesub(
    res: IzhikevichReservoir, build_s: float, durations: list[float], repeat: int, show: bool
) -> list[dict[str, Any]]:
    """Warm up (compile), then run every duration from the initial state ``repeat`` times;
    the fastest run is kept (every run gives the same spikes)."""
    t0 = time.perf_counter()
    res.run(WARMUP_MS, record_state=(), progress=False)
    compile_s = time.perf_counter() - t0
    rows = []
    for duration_s in durations:
        best = None
        for _ in range(repeat):
            res.reset_state()
            t0 = time.perf_counter()
            c0 = time.process_time()
            result = res.run(
                duration_s * 1000.0, record_spikes=True, record_state=(), progress=show
            )
            timing = (time.perf_counter() - t0, time.process_time() - c0, result.wall_time_s)
            if best is None or timing[0] < best[0][0]:
                best = (timing, result.spikes.counts())
        (wall_s, cpu_s, kernel_s), counts = best
        rows.append(
            _row(
                res,
                f"spikesub-{res.backend}",
                duration_s,
                build_s,
                compile_s,
                wall_s,
                counts,
                backend=res.backend,
                threads=int(res.n_threads),
                kernel_wall_s=float(kernel_s),
                cpu_s=cpu_s,
                repeats=repeat,
            )
        )
    return rows


def bench_brian2(
    res: IzhikevichReservoir, durations: list[float], target: str, repeat: int, show: bool
) -> list[dict[str, Any]]:
    """A Brian2 network per duration and repeat (built, compiled, run), same neurons and
    weights; the repeat with the fastest run is kept."""
    rows = []
    for duration_s in durations:
        best = None
        for _ in range(repeat):
            run = run_brian2(res, duration_s * 1000.0, target=target, progress=show)
            if best is None or run.run_s < best.run_s:
                best = run
            del run
            gc.collect()
        rows.append(
            _row(
                res,
                f"brian2-{target}",
                duration_s,
                best.build_s,
                best.compile_s,
                best.run_s,
                best.spikes.counts(),
                backend=target,
                threads=1,
                prepare_s=best.prepare_s,
                cpu_s=best.run_cpu_s,
                repeats=repeat,
            )
        )
        del best
        gc.collect()
    return rows


def add_comparisons(rows: list[dict[str, Any]]) -> None:
    """Brian2 wall time / spikesub wall time and the rate difference, on the spikesub rows."""
    brian = {
        (r["n_neurons"], r["duration_s"]): r for r in rows if r["simulator"].startswith("brian2")
    }
    for r in rows:
        ref = brian.get((r["n_neurons"], r["duration_s"]))
        if r["simulator"].startswith("brian2") or ref is None:
            r["brian2_over_spikesub"] = None
            r["rate_diff_pct"] = None
            continue
        r["brian2_over_spikesub"] = ref["wall_s"] / r["wall_s"] if r["wall_s"] > 0 else None
        r["rate_diff_pct"] = 100.0 * (r["rate_hz"] - ref["rate_hz"]) / ref["rate_hz"]


def _sort_key(r: dict[str, Any]) -> tuple:
    return (r["n_neurons"], r["duration_s"], r["simulator"].startswith("brian2"), r["simulator"])


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table (missing values as a dash)."""
    lines = [
        "| " + " | ".join(title for _, title, _ in COLUMNS) + " |",
        "|" + "|".join("---:" if key != "simulator" else ":---" for key, _, _ in COLUMNS) + "|",
    ]
    for r in sorted(rows, key=_sort_key):
        cells = []
        for key, _, fmt in COLUMNS:
            value = r.get(key)
            cells.append("-" if value is None else fmt.format(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def environment() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "numba": numba.__version__,
        "numba_threads": numba.get_num_threads(),
        "numpy": np.__version__,
        "spikesub": getattr(spikesub, "__version__", None),
    }
    if brian2_available():
        info["brian2"] = import_brian2().__version__
    return info


def write_outputs(out: Path, rows: list[dict[str, Any]]) -> str:
    add_comparisons(rows)
    rows.sort(key=_sort_key)
    table = markdown_table(rows)
    write_json(out / "metrics.json", {"rows": rows})
    atomic_write_bytes(out / "bench.md", table.encode("utf-8"))
    return table


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    use_brian2 = not args.no_brian2
    if use_brian2 and not brian2_available():
        print(
            "Brian2 is not installed (pip install 'spikesub[reference]'); use --no-brian2",
            file=sys.stderr,
        )
        return 2
    out = make_run_dir(args.out)
    show = not args.quiet and sys.stderr.isatty()
    config = {
        "experiment": "bench_reservoir",
        "sizes": args.sizes,
        "durations_s": args.durations,
        "backends": args.backends,
        "brian2": use_brian2,
        "brian2_target": args.brian2_target,
        "seed": args.seed,
        "threads": args.threads,
        "repeat": args.repeat,
        "dt_ms": DT_MS,
        "excitatory_fraction": EXCITATORY_FRACTION,
        "connection": f"p={CONNECTION_P} for N <= {P_MAX_N}, in_degree={IN_DEGREE} above",
        "noise_std": {"excitatory": 5.0, "inhibitory": 2.0, "interval_ms": 1.0},
        "warmup_ms": WARMUP_MS,
        "environment": environment(),
    }
    rows: list[dict[str, Any]] = []
    if args.resume and (out / "metrics.json").exists():
        rows = list(read_json(out / "metrics.json").get("rows", []))
    write_json(out / "config.json", config)
    done = {(r["n_neurons"], r["duration_s"], r["simulator"]) for r in rows}

    simulators = [f"spikesub-{b}" for b in args.backends]
    if use_brian2:
        simulators.append(f"brian2-{args.brian2_target}")
    jobs = [(n, s) for n in args.sizes for s in simulators]
    with tqdm(total=len(jobs), disable=not show, desc="benchmark", unit="job") as bar:
        for n, simulator in jobs:
            todo = [t for t in args.durations if (n, t, simulator) not in done]
            bar.set_postfix_str(f"N={n} {simulator}")
            if not todo:
                bar.update(1)
                continue
            backend = simulator.split("-", 1)[1] if simulator.startswith("spikesub") else "numba"
            res, build_s = build_reservoir(n, backend, args.seed, args.threads)
            if simulator.startswith("spikesub"):
                new = bench_spikesub(res, build_s, todo, args.repeat, show)
            else:
                new = bench_brian2(res, todo, args.brian2_target, args.repeat, show)
            del res
            gc.collect()
            rows.extend(new)
            write_outputs(out, rows)
            if not args.quiet:
                for r in new:
                    tqdm.write(
                        f"N={r['n_neurons']} T={r['duration_s']:g} s {r['simulator']}: "
                        f"wall {r['wall_s']:.2f} s, compile {r['compile_s']:.2f} s, "
                        f"{r['rate_hz']:.2f} Hz",
                        file=sys.stderr,
                    )
            bar.update(1)
    table = write_outputs(out, rows)
    print(table, end="")
    if not args.quiet:
        print(f"wrote {out / 'config.json'}, {out / 'metrics.json'}, {out / 'bench.md'}")
    return 0


if __name__ == "__main__":
    run_script(main, "bench_reservoir.py")
