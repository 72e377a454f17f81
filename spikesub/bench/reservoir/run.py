"""Running the reservoir benchmark: the Izhikevich (2003) network in spikesub against Brian2
(and NEST), at several sizes.

The network of Izhikevich (2003) scaled to ``N`` neurons (80 % excitatory): connection
probability 0.1 up to 10 000 neurons, a fixed in-degree of 1000 above, weights scaled by
``1000 / K`` so every size gets the mean input of the original network; thalamic noise of
standard deviation 5 (excitatory) / 2 (inhibitory) held for 1 ms; delta synapses; dt = 0.1 ms.
spikesub (Numba CPU, and CUDA when asked for; float64 arithmetic, and float32 with
``precisions="float64,float32"``) and Brian2 (Cython in runtime mode, one thread; C++
standalone with OpenMP on spikesub's thread count) simulate the same neurons and the same
weights; only the noise samples differ (each simulator draws its own). With ``nest``, NEST 3
(model ``izhikevich``, spikesub's thread count) runs it too (``spikesub.nest_reference``; it
delivers a spike one step later, so its rates differ a little).

Compilation is timed apart: spikesub compiles during a 10 ms warm-up run (then the state is
reset), Brian2's runtime mode during a zero-length run, Brian2's standalone mode with ``make``
(``compile s``; its ``build s`` is the Python side: objects, code generation, arrays written).
``wall s`` is the simulation alone (standalone: timed inside the C++ program around the
network's run); ``CPU s`` is the CPU time during it (all threads), a check on machines shared
with other work. ``Brian2 / spikesub`` divides the fastest Brian2 row with the same thread
count (named in ``vs``) by the spikesub row's wall time; ``rate diff %`` is against that row.

The machine's limit (``experiments/machine_limit.py``, measured here on each thread count
unless ``machine_limit`` is off): ``bound s`` is the lower bound on the wall time of the row's
work (neuron updates, synaptic events, the CSR walk's memory traffic) from the rates this
machine reaches for each kind of work alone; ``of bound`` is ``bound s / wall s``.

The run folder gets ``config.json`` (the settings, the network's constants and the machine),
``metrics.json`` (one row per size, duration, simulator and thread count, and the machine's
limits) and ``bench.md`` (the table). With ``resume``, rows already in ``metrics.json`` are
kept and their runs skipped, so several runs into one folder (other sizes, other thread
counts) add up to one table; ``config.json`` then holds the settings of the last one.

A timing benchmark: never run two of its trials at once (a sweep over it takes
``--max-parallel 1``).
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np
from tqdm.auto import tqdm

import spikesub
from spikesub.bench.common import platform_info
from spikesub.bench.reservoir.config import BenchReservoirConfig
from spikesub.brian2_reference import STANDALONE, brian2_available, import_brian2, run_brian2
from spikesub.kernels import automatic_threads
from spikesub.models.network.reservoir import PARALLEL_MIN_NEURONS, IzhikevichReservoir
from spikesub.nest_reference import nest_available, run_nest
from spikesub.roofline import MachineLimits, measure_machine, reservoir_bound
from spikesub.runs import (
    RunFolderError,
    atomic_write_bytes,
    make_run_dir,
    prepare_run_dir,
    read_json,
    run_config_document,
    saved_job,
    write_json,
)

__all__ = [
    "JOB",
    "TABLE_NAME",
    "add_bounds",
    "add_comparisons",
    "build_reservoir",
    "expected_threads",
    "markdown_table",
    "plan_jobs",
    "run",
]

JOB = BenchReservoirConfig.job
TABLE_NAME = "bench.md"

EXCITATORY_FRACTION = 0.8
P_MAX_N = 10_000  # connection probability 0.1 up to this size, fixed in-degree above
IN_DEGREE = 1000
CONNECTION_P = 0.1
WARMUP_MS = 10.0
DT_MS = 0.1
# Bytes the CSR walk reads per synaptic event: an int32 post index and a float32 weight.
BYTES_PER_EVENT = 8
# Bytes of neuron state and parameters per neuron update: v and u (float32) read and written,
# and a, b and the held input read in the arithmetic's dtype.
STATE_BYTES = {"float64": 16 + 3 * 8, "float32": 16 + 3 * 4}
PRECISION_SUFFIX = {"float64": "", "float32": "-f32"}

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
    ("neuron_updates_per_s", "updates / s", "{:.3g}"),
    ("syn_events_per_s", "syn. events / s", "{:.3g}"),
    ("bound_s", "bound s", "{:.3g}"),
    ("bound_fraction", "of bound", "{:.0%}"),
    ("brian2_over_spikesub", "Brian2 / spikesub", "{:.2f}"),
    ("brian2_reference", "vs", "{}"),
    ("rate_diff_pct", "rate diff %", "{:+.1f}"),
)


def expected_threads(n: int, threads: int | None) -> int:
    """The threads spikesub's Numba backend runs a network of ``n`` neurons on."""
    if threads is not None:
        return int(threads)
    return automatic_threads() if n >= PARALLEL_MIN_NEURONS else 1


def build_reservoir(
    n: int,
    backend: str,
    seed: int,
    threads: int | None = None,
    precision: str = "float64",
) -> tuple[IzhikevichReservoir, float]:
    """The scaled Izhikevich 2003 network of ``n`` neurons and its build time in s."""
    n_exc = int(round(EXCITATORY_FRACTION * n))
    connect = {"p": CONNECTION_P} if n <= P_MAX_N else {"p": None, "in_degree": IN_DEGREE}
    t0 = time.perf_counter()
    res = IzhikevichReservoir.izhikevich_2003(
        n_exc, n - n_exc, dt_ms=DT_MS, backend=backend, seed=seed, n_threads=threads,
        precision=precision, **connect,
    )  # fmt: skip
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
    n_steps = int(round(duration_s * 1000.0 / DT_MS))
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
        "neuron_updates": n * n_steps,
        "syn_events": spikes * fan_out,
        "neuron_updates_per_s": n * n_steps / wall_s if wall_s > 0 else float("nan"),
        "syn_events_per_s": spikes * fan_out / wall_s if wall_s > 0 else float("nan"),
        **extra,
    }


def bench_spikesub(
    res: IzhikevichReservoir,
    build_s: float,
    durations: list[float],
    repeat: int,
    show: bool,
    precision: str,
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
                f"spikesub-{res.backend}{PRECISION_SUFFIX[precision]}",
                duration_s,
                build_s,
                compile_s,
                wall_s,
                counts,
                backend=res.backend,
                precision=precision,
                threads=int(res.n_threads),
                kernel_wall_s=float(kernel_s),
                cpu_s=cpu_s,
                repeats=repeat,
            )
        )
    return rows


def bench_brian2(
    res: IzhikevichReservoir,
    durations: list[float],
    target: str,
    threads: int,
    repeat: int,
    show: bool,
) -> list[dict[str, Any]]:
    """A Brian2 network per duration (built, compiled, run), same neurons and weights; the
    fastest of ``repeat`` runs is kept (runtime mode: a new network each time; standalone: the
    compiled program runs again)."""
    rows = []
    standalone = target == STANDALONE
    for duration_s in durations:
        best = None
        for _ in range(1 if standalone else repeat):
            run = run_brian2(
                res, duration_s * 1000.0, target=target, threads=threads if standalone else 1,
                runs=repeat if standalone else 1, progress=show and not standalone,
            )  # fmt: skip
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
                threads=best.threads,
                prepare_s=best.prepare_s,
                binary_s=best.binary_s,
                cpu_s=best.run_cpu_s,
                repeats=repeat,
            )
        )
        del best
        gc.collect()
    return rows


def bench_nest(
    res: IzhikevichReservoir, durations: list[float], threads: int, repeat: int
) -> list[dict[str, Any]]:
    """A NEST network per duration and repeat (built, run), same neurons and weights; the
    repeat with the fastest run is kept."""
    rows = []
    for duration_s in durations:
        best = None
        for _ in range(repeat):
            run = run_nest(res, duration_s * 1000.0, threads=threads)
            if best is None or run.run_s < best.run_s:
                best = run
        rows.append(
            _row(
                res,
                "nest",
                duration_s,
                best.build_s,
                0.0,
                best.run_s,
                best.spikes.counts(),
                backend="nest",
                threads=best.threads,
                cpu_s=best.run_cpu_s,
                repeats=repeat,
            )
        )
        del best
        gc.collect()
    return rows


def add_bounds(rows: list[dict[str, Any]], limits: dict[int, dict[str, Any]]) -> None:
    """``bound_s`` (the machine's lower bound on the row's wall time, from the limits measured
    on its thread count) and ``bound_fraction = bound_s / wall_s`` on every row."""
    for r in rows:
        measured = limits.get(int(r["threads"]))
        if measured is None or "neuron_updates" not in r:
            r.setdefault("bound_s", None)
            r.setdefault("bound_fraction", None)
            continue
        precision = r.get("precision", "float64")
        bound = reservoir_bound(
            MachineLimits(**measured),
            neuron_updates=r["neuron_updates"],
            synaptic_events=r["syn_events"],
            bytes_per_event=BYTES_PER_EVENT,
            csr_bytes=BYTES_PER_EVENT * r["n_synapses"],
            state_bytes_per_update=STATE_BYTES[precision],
            precision=precision,
        )
        r["bound"] = bound
        r["bound_s"] = bound["bound_s"]
        r["bound_fraction"] = bound["bound_s"] / r["wall_s"] if r["wall_s"] > 0 else None


def add_comparisons(rows: list[dict[str, Any]]) -> None:
    """On the spikesub rows: the fastest Brian2 row with the same size, duration and thread
    count (``brian2_reference``), its wall time / the row's, and the rate difference."""
    for r in rows:
        r["brian2_over_spikesub"] = None
        r["brian2_reference"] = None
        r["rate_diff_pct"] = None
        if not r["simulator"].startswith("spikesub"):
            continue
        same = [
            b
            for b in rows
            if b["simulator"].startswith("brian2")
            and (b["n_neurons"], b["duration_s"], b.get("threads", 1))
            == (r["n_neurons"], r["duration_s"], r.get("threads", 1))
        ]
        if not same:
            continue
        ref = min(same, key=lambda b: b["wall_s"])
        r["brian2_reference"] = ref["simulator"]
        r["brian2_over_spikesub"] = ref["wall_s"] / r["wall_s"] if r["wall_s"] > 0 else None
        r["rate_diff_pct"] = 100.0 * (r["rate_hz"] - ref["rate_hz"]) / ref["rate_hz"]


def _sort_key(r: dict[str, Any]) -> tuple:
    return (
        r["n_neurons"],
        r["duration_s"],
        r.get("threads", 1),
        not r["simulator"].startswith("spikesub"),
        r["simulator"],
    )


def _key(r: dict[str, Any]) -> tuple:
    """What identifies a row: size, duration, simulator, threads."""
    return (r["n_neurons"], r["duration_s"], r["simulator"], r.get("threads", 1))


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table (missing values as a dash)."""
    lines = [
        "| " + " | ".join(title for _, title, _ in COLUMNS) + " |",
        "|" + "|".join(":---" if key in ("simulator", "brian2_reference") else "---:"
                       for key, _, _ in COLUMNS) + "|",
    ]  # fmt: skip
    for r in sorted(rows, key=_sort_key):
        cells = []
        for key, _, fmt in COLUMNS:
            value = r.get(key)
            cells.append("-" if value is None else fmt.format(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def environment() -> dict[str, Any]:
    """Versions and machine of this run."""
    info: dict[str, Any] = {
        **platform_info(),
        "numba": numba.__version__,
        "numba_threads": numba.get_num_threads(),
        "numpy": np.__version__,
        "spikesub": getattr(spikesub, "__version__", None),
    }
    if brian2_available():
        info["brian2"] = import_brian2().__version__
    return info


def write_outputs(out: Path, rows: list[dict[str, Any]], limits: dict[int, dict]) -> str:
    """``metrics.json`` and ``bench.md`` of ``rows``; returns the table."""
    add_bounds(rows, limits)
    add_comparisons(rows)
    rows.sort(key=_sort_key)
    table = markdown_table(rows)
    write_json(
        out / "metrics.json",
        {"rows": rows, "machine_limits": {str(t): m for t, m in sorted(limits.items())}},
    )
    atomic_write_bytes(out / "bench.md", table.encode("utf-8"))
    return table


def plan_jobs(config: BenchReservoirConfig) -> list[tuple[int, str, int]]:
    """``(size, simulator, threads)`` of every simulator run, in the order they run."""
    jobs = []
    for n in config.sizes:
        threads = expected_threads(n, config.thread_count)
        for backend in config.backend_names:
            for precision in config.precision_names:
                jobs.append((n, f"spikesub-{backend}{PRECISION_SUFFIX[precision]}", threads))
        if config.brian2:
            for target in config.brian2_target_names:
                jobs.append((n, f"brian2-{target}", threads if target == STANDALONE else 1))
        if config.nest:
            jobs.append((n, "nest", threads))
    return jobs


def run_simulator(
    config: BenchReservoirConfig,
    n: int,
    simulator: str,
    threads: int,
    durations: list[float],
    show: bool,
) -> list[dict[str, Any]]:
    """Build the network and run one simulator on it for every duration."""
    seed, repeat = config.seed, config.repeat
    if simulator.startswith("spikesub"):
        backend = simulator.split("-")[1]
        precision = "float32" if simulator.endswith("-f32") else "float64"
        res, build_s = build_reservoir(n, backend, seed, config.thread_count, precision)
        rows = bench_spikesub(res, build_s, durations, repeat, show, precision)
    elif simulator == "nest":
        res, _ = build_reservoir(n, "numba", seed, config.thread_count)
        rows = bench_nest(res, durations, threads, repeat)
    else:
        res, _ = build_reservoir(n, "numba", seed, config.thread_count)
        target = simulator.split("-", 1)[1]
        rows = bench_brian2(res, durations, target, threads, repeat, show)
    del res
    gc.collect()
    return rows


def check_installed(config: BenchReservoirConfig) -> None:
    """Refuse to start when a simulator asked for is missing (ValueError naming how to
    install it, or to leave it out)."""
    if config.brian2 and not brian2_available():
        raise ValueError(
            "Brian2 is not installed (pip install 'spikesub[reference]'); use --no-brian2"
        )
    if config.nest and not nest_available():
        raise ValueError("NEST is not installed (pip install nest-simulator); drop --nest")


def prepare_folder(out: str | Path | None, config: BenchReservoirConfig, resume: bool) -> Path:
    """The run folder. Without ``resume`` it must be new, empty or hold this very run; with
    ``resume`` it may hold a reservoir benchmark of any settings, whose rows are kept."""
    if not resume:
        return prepare_run_dir(out, job=JOB, config=config.to_dict(), prefix="bench-reservoir")
    if out is None:
        raise RunFolderError("--resume needs --out, the run folder to continue")
    path = Path(out)
    config_path = path / "config.json"
    if config_path.exists():
        other = saved_job(read_json(config_path))
        if other != JOB:
            raise RunFolderError(
                f"{path} holds a {other or 'unknown'} run, not a {JOB} run; it is left as it "
                "is: choose another --out"
            )
    return make_run_dir(path)


def write_config(out: Path, config: BenchReservoirConfig) -> Path:
    """``config.json``: the settings, the network's constants and the machine."""
    document = run_config_document(
        JOB,
        config.to_dict(),
        network={
            "dt_ms": DT_MS,
            "excitatory_fraction": EXCITATORY_FRACTION,
            "connection": f"p={CONNECTION_P} for N <= {P_MAX_N}, in_degree={IN_DEGREE} above",
            "noise_std": {"excitatory": 5.0, "inhibitory": 2.0, "interval_ms": 1.0},
            "warmup_ms": WARMUP_MS,
        },
        environment=environment(),
    )
    return write_json(out / "config.json", document)


def run(
    config: BenchReservoirConfig,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    progress: bool | None = None,
    quiet: bool = False,
) -> Path:
    """Run the benchmark of ``config`` and write its run folder (see the module's docstring).

    Args:
        config: what to run.
        out: the run folder (default ``runs/bench-reservoir-<time>``).
        resume: keep the rows already in ``out/metrics.json`` and skip their runs.
        progress: show progress bars (default: when stderr is a terminal and not ``quiet``).
        quiet: no progress bars, no progress lines on stderr.

    Returns:
        the run folder.
    """
    check_installed(config)
    out = prepare_folder(out, config, resume)
    show = (not quiet and sys.stderr.isatty()) if progress is None else progress and not quiet
    rows: list[dict[str, Any]] = []
    limits: dict[int, dict[str, Any]] = {}
    if resume and (out / "metrics.json").exists():
        previous = read_json(out / "metrics.json")
        rows = list(previous.get("rows", []))
        limits = {int(t): m for t, m in previous.get("machine_limits", {}).items()}
    write_config(out, config)
    done = {_key(r) for r in rows}

    jobs = plan_jobs(config)
    if config.machine_limit:
        for threads in sorted({t for _, _, t in jobs} - set(limits)):
            if not quiet:
                print(f"measuring the machine's limit on {threads} thread(s)", file=sys.stderr)
            limits[threads] = measure_machine(threads).to_dict()
    with tqdm(total=len(jobs), disable=not show, desc="benchmark", unit="job") as bar:
        for n, simulator, threads in jobs:
            todo = [t for t in config.durations_s if (n, t, simulator, threads) not in done]
            bar.set_postfix_str(f"N={n} {simulator} x{threads}")
            if todo:
                new = run_simulator(config, n, simulator, threads, todo, show)
                rows.extend(new)
                write_outputs(out, rows, limits)
                if not quiet:
                    for r in new:
                        tqdm.write(
                            f"N={r['n_neurons']} T={r['duration_s']:g} s {r['simulator']} "
                            f"x{r['threads']}: wall {r['wall_s']:.3f} s, compile "
                            f"{r['compile_s']:.2f} s, {r['rate_hz']:.2f} Hz",
                            file=sys.stderr,
                        )
            bar.update(1)
    write_outputs(out, rows, limits)
    return out
