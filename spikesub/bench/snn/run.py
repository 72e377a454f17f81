"""Running the SNN training benchmark: snnTorch, SpikingJelly and spikesub layers.

Three frameworks: snnTorch (``Leaky``, its per-step tutorial loop), SpikingJelly 2.0
(multi-step ``LIFNode``, one registered operator per layer for all steps) and spikesub
(:class:`~spikesub.models.snn.SpikingLinear` on the fused Numba kernels). Two workloads, each
trained in the same run, on the same data, from the same weights
(:mod:`spikesub.bench.snn.workloads`):

1. ``mlp``: the MLP 784-800-800-10 (Linear + LIF per layer) with T = 20 steps of direct
   (static, repeated) input, batch 64, SGD, cross-entropy on the time-averaged membrane of
   the output layer, on MNIST.
   snnTorch runs the usual tutorial loop (Linear then ``Leaky`` at every step, in Python);
   spikesub computes the first Linear once, the others over all steps at once as
   event-driven products over the hidden spikes (dense products run on oneDNN), and the
   LIF recursion in one fused kernel per layer forward and backward. Both start from the
   same Linear weights and see the batches in the same order, so their loss curves agree up
   to float rounding until a spike flips (the kernels round once per step in float64,
   snnTorch once per operation in float32). SpikingJelly computes the first Linear once too
   (its output broadcast over the steps) and the others as one matmul over all steps.
2. ``ob``: the Open Neuromorphic framework benchmark: one Linear(n, n) + LIF layer, n = 4096,
   500 steps, batch 16, random input, forward + backward with the sum of output spikes as
   the loss. spikesub and SpikingJelly compute the Linear as one product over all steps,
   snnTorch step by step.

SpikingJelly's neuron is as close to snnTorch's as its options allow, but not equal: after
each spike its membrane sits higher by ``(1 - beta) * threshold`` (decaying with beta), so its
neurons fire more once they have fired. Its spikes equal snnTorch's up to each neuron's first
spike, so its loss curve starts near theirs but does not follow it. Its output layer is read
through ``v_seq`` plus the detached spikes times the threshold, the membrane before its
reset, as snnTorch's ``mem``.

Every framework and workload runs in a fresh child process, so that its peak memory
(``ru_maxrss``, or ``torch.cuda.max_memory_allocated`` on a GPU) is its own. With
``rounds`` above 1 the frameworks take turns (snnTorch, SpikingJelly, spikesub, snnTorch,
...), so that a machine whose speed drifts during the run (other load, frequency changes)
slows all alike; the timed steps of all rounds are pooled, and the ratios of every round are
reported too. Warm-up steps (Numba compilation, allocator warm-up) are run apart from the
timed steps; the table shows the median time per training step over the timed steps, samples
per second, peak memory and the ratios snnTorch / spikesub and SpikingJelly / spikesub, and
for each workload the largest difference between each reference's loss curve and spikesub's.

spikesub's process runs with ``OMP_WAIT_POLICY=PASSIVE`` (``omp_passive``, see
:func:`child_env`): torch's OpenMP threads then sleep after a parallel product instead of
spinning on the cores that the Numba kernels' threads need next. The other frameworks keep
torch's default, which suits their many small operations.

On a GPU (``device="cuda"``) SpikingJelly runs the implementation ``sj_backend`` names
(``auto``: its own choice, native CUDA first, then Triton; set through its
``SJ_LIF_CUDA_IMPLEMENTATION`` variable). That path has not been run on a GPU yet.

The run folder gets ``config.json``, ``metrics.json`` and ``bench.md`` (the table); with
``profile`` also ``profile-<workload>-<framework>.txt``, a torch.profiler table of one more
step, which shows where the time goes (matmuls, LIF kernels, autograd bookkeeping).

A timing benchmark: never run two of its trials at once (a sweep over it takes
``--max-parallel 1``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from spikesub.bench.common import DEFAULT_MNIST_DIR, command_of, platform_info
from spikesub.bench.snn.config import BenchSnnConfig
from spikesub.bench.snn.workloads import BETA, RESULT_TAG, SLOPE, THRESHOLD, run_task
from spikesub.kernels.threads import resolve_threads
from spikesub.runs import atomic_write_bytes, prepare_run_dir, run_config_document, write_json

__all__ = [
    "JOB",
    "REFERENCES",
    "TABLE_NAME",
    "child_env",
    "compare",
    "merge_rounds",
    "render_table",
    "run",
    "run_in_subprocess",
]

JOB = BenchSnnConfig.job
TABLE_NAME = "bench.md"
PROG = "python experiments/bench_snn.py"
REFERENCES = ("snntorch", "spikingjelly")
"""The frameworks spikesub is compared with, in the table's order."""
LABELS = {"snntorch": "snnTorch", "spikingjelly": "SpikingJelly", "spikesub": "spikesub"}


def child_env(framework: str, omp_passive: str) -> dict[str, str]:
    """The environment of a framework's child process: this one's, with
    ``OMP_WAIT_POLICY=PASSIVE`` (unless set already) where ``omp_passive`` names it.

    torch's OpenMP threads spin for milliseconds after each parallel operation before they
    sleep. That suits snnTorch and SpikingJelly, whose steps are many small operations in a
    row (with PASSIVE their MLP steps took twice as long), but it starves spikesub's Numba
    kernels, whose threads (TBB) need the cores the spinning threads hold: with two cores
    and two threads each, spikesub's MLP step took 4-6x longer with torch's default.
    """
    env = dict(os.environ)
    if omp_passive in ("all", framework):
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def run_in_subprocess(task: dict[str, Any], timeout_s: float | None = None) -> dict[str, Any]:
    """Run :func:`run_task` in a fresh Python process and return its result."""
    cmd = [sys.executable, "-m", "spikesub.bench.snn.workloads", json.dumps(task)]
    env = child_env(task["framework"], task.get("omp_passive", "spikesub"))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    raise RuntimeError(
        f"{task['framework']} / {task['bench']} failed (exit status {proc.returncode}):\n"
        + proc.stderr[-4000:]
    )


def merge_rounds(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One framework's results of several rounds as one row: timed steps pooled (median,
    min, max over all of them), the largest peak memory, each round's median in
    ``round_step_ms``; losses and the rest from the first round (every round trains the same
    steps from the same seed)."""
    merged = dict(results[0])
    times = [t for r in results for t in r["times_s"]]
    step_s = statistics.median(times)
    merged.update(
        times_s=times,
        step_ms=1e3 * step_s,
        step_ms_min=1e3 * min(times),
        step_ms_max=1e3 * max(times),
        samples_per_s=merged["batch"] / step_s,
        peak_rss_mib=max(r["peak_rss_mib"] for r in results),
        round_step_ms=[r["step_ms"] for r in results],
    )
    if "peak_gpu_mib" in merged:
        merged["peak_gpu_mib"] = max(r["peak_gpu_mib"] for r in results)
    return merged


def compare(
    results: dict[str, dict[str, Any]], bench: str, reference: str = "snntorch"
) -> dict[str, Any]:
    """Speed ratio and loss-curve agreement between ``reference`` and spikesub on one
    workload; empty when either did not run."""
    ref, ours = results.get(reference), results.get("spikesub")
    if ref is None or ours is None:
        return {}
    n = min(len(ref["losses"]), len(ours["losses"]))
    a = np.asarray(ref["losses"][:n])
    b = np.asarray(ours["losses"][:n])
    diff = np.abs(a - b)
    rel = diff / np.maximum(np.abs(a), 1e-12)
    agree = np.flatnonzero(rel > 1e-3)
    return {
        "bench": bench,
        "reference": reference,
        "speedup": ref["step_ms"] / ours["step_ms"],
        "speedup_rounds": [
            a / b
            for a, b in zip(
                ref.get("round_step_ms", [ref["step_ms"]]),
                ours.get("round_step_ms", [ours["step_ms"]]),
                strict=False,
            )
        ],
        "memory_ratio": ref["peak_rss_mib"] / ours["peak_rss_mib"],
        "loss_steps_compared": int(n),
        "loss_max_abs_diff": float(diff.max()),
        "loss_max_rel_diff": float(rel.max()),
        "loss_steps_within_1e-3": int(agree[0]) if agree.size else int(n),
        f"loss_mean_last10_{reference}": float(a[-min(10, n) :].mean()),
        "loss_mean_last10_spikesub": float(b[-min(10, n) :].mean()),
    }


def _bench_label(bench: str, config: dict[str, Any]) -> str:
    if bench == "mlp":
        sizes = "-".join(str(s) for s in [784, *config["hidden"], 10])
        return f"MLP {sizes}, T={config['T']}, B={config['batch']}"
    return f"Linear+LIF n={config['ob_n']}, T={config['ob_steps']}, B={config['ob_batch']}"


def render_table(rows: list[dict[str, Any]], comparisons: list[dict], config: dict) -> str:
    """The Markdown table of ``bench.md``: one row per workload and framework, the speed
    ratios of each reference to spikesub on spikesub's row, then the loss-curve notes."""
    lines = [
        "| workload | framework | device | step ms (median) | samples/s | peak RSS MiB "
        + "".join(f"| {LABELS[r]} / spikesub " for r in REFERENCES)
        + "|",
        "|---|---|---|---:|---:|---:" + "|---:" * len(REFERENCES) + "|",
    ]
    speedups = {(c["bench"], c["reference"]): c["speedup"] for c in comparisons if c}
    for row in rows:
        ratios = ""
        for reference in REFERENCES:
            ratio = speedups.get((row["bench"], reference))
            shown = row["framework"] == "spikesub" and ratio is not None
            ratios += f" {ratio:.2f}x |" if shown else "  |"
        memory = f"{row['peak_rss_mib']:.0f}"
        if "peak_gpu_mib" in row:
            memory += f" (GPU {row['peak_gpu_mib']:.0f})"
        lines.append(
            f"| {_bench_label(row['bench'], config)} | {row['framework']} | {row['device']} "
            f"| {row['step_ms']:.1f} | {row['samples_per_s']:.1f} | {memory} |{ratios}"
        )
    lines.append("")
    passive = sorted({r["framework"] for r in rows if r.get("omp_wait_policy")})
    if passive:
        lines.append(f"- OMP_WAIT_POLICY=PASSIVE in the processes of: {', '.join(passive)}.")
    for c in comparisons:
        if c:
            lines.extend(_comparison_notes(c, config))
    return "\n".join(lines) + "\n"


def _comparison_notes(c: dict[str, Any], config: dict) -> list[str]:
    """Loss-curve agreement and per-round speed ratios of one reference against spikesub."""
    label, ref = _bench_label(c["bench"], config), c["reference"]
    notes = [
        f"- {label}: {LABELS[ref]} and spikesub loss curves over the first "
        f"{c['loss_steps_compared']} steps differ by at most {c['loss_max_abs_diff']:.3g} "
        f"(relative {c['loss_max_rel_diff']:.3g}); they agree to 1e-3 relative for the "
        f"first {c['loss_steps_within_1e-3']} steps; mean loss of the last 10 steps: "
        f"{LABELS[ref]} {c[f'loss_mean_last10_{ref}']:.4g}, "
        f"spikesub {c['loss_mean_last10_spikesub']:.4g}."
    ]
    if len(c.get("speedup_rounds", [])) > 1:
        per_round = ", ".join(f"{r:.2f}x" for r in c["speedup_rounds"])
        notes.append(
            f"- {label}: {LABELS[ref]} / spikesub per round (frameworks taking turns): {per_round}."
        )
    return notes


def _versions(frameworks: list[str]) -> dict[str, str]:
    """Installed versions of torch and of the frameworks that run."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("torch", *frameworks):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "source"
    return versions


def data_dir_of(config: BenchSnnConfig) -> Path:
    """The MNIST folder ``config`` reads (its ``data_dir``, or the default one)."""
    return Path(config.data_dir).resolve() if config.data_dir else DEFAULT_MNIST_DIR


def check_inputs(config: BenchSnnConfig) -> None:
    """Refuse a missing MNIST folder and a missing reference framework, in one line naming
    the setting (and how to install the framework, or to leave it out)."""
    data_dir = data_dir_of(config)
    if not config.synthetic and "mlp" in config.bench_names and not data_dir.exists():
        raise FileNotFoundError(
            f"data_dir {data_dir} does not exist (give --data-dir, or --synthetic)"
        )
    for name in config.framework_names:
        if name in REFERENCES and importlib.util.find_spec(name) is None:
            raise ValueError(
                f"{name} is not installed (the README's SNN benchmark section says how to "
                "install it); or leave it out with --frameworks"
            )


def write_config(out: Path, config: BenchSnnConfig, threads: int) -> dict[str, Any]:
    """``config.json``: the settings, the neuron and losses, versions and the machine;
    returns the document."""
    document = run_config_document(
        JOB,
        config.to_dict(),
        threads_used=threads,
        data_dir_used=None if config.synthetic else str(data_dir_of(config)),
        beta=BETA,
        threshold=THRESHOLD,
        surrogate=f"atan(alpha={SLOPE})",
        reset="subtract",
        loss_mlp="cross-entropy on the time-averaged output membrane; SGD",
        loss_ob="sum of output spikes; forward + backward",
        versions=_versions(list(config.framework_names)),
        command=command_of(config, PROG),
        **platform_info(),
    )
    write_json(out / "config.json", document)
    return document


def task_of(
    config: BenchSnnConfig, bench: str, framework: str, threads: int, first_round: bool
) -> dict[str, Any]:
    """What one child process runs: one framework on one workload."""
    return {
        "bench": bench,
        "framework": framework,
        "device": config.device,
        "dtype": config.dtype,
        "steps": config.steps,
        "warmup": config.warmup,
        "batch": config.batch,
        "T": config.T,
        "hidden": list(config.hidden),
        "lr": config.lr,
        "data_dir": str(data_dir_of(config)),
        "synthetic": config.synthetic,
        "ob_n": config.ob_n,
        "ob_steps": config.ob_steps,
        "ob_batch": config.ob_batch,
        "ob_repeats": config.ob_repeats,
        "ob_warmup": config.ob_warmup,
        "threads": threads,
        "seed": config.seed,
        "sj_backend": config.sj_backend,
        "omp_passive": config.omp_passive,
        "profile": config.profile and first_round,
    }


def run(
    config: BenchSnnConfig,
    out: str | Path | None = None,
    *,
    progress: bool | None = None,
    quiet: bool = False,
) -> Path:
    """Run the benchmark of ``config`` and write its run folder (see the module's docstring).

    Args:
        config: what to run.
        out: the run folder (default ``runs/bench-snn-<time>``).
        progress: print a line per framework and round on stderr (default: unless ``quiet``).
        quiet: no progress lines.

    Returns:
        the run folder.
    """
    check_inputs(config)
    threads = resolve_threads(config.threads)
    out = prepare_run_dir(out, job=JOB, config=config.to_dict(), prefix="bench-snn")
    document = write_config(out, config, threads)
    show = not quiet if progress is None else progress and not quiet
    frameworks = config.framework_names
    rows, comparisons = [], []
    for bench in config.bench_names:
        rounds: dict[str, list[dict[str, Any]]] = {f: [] for f in frameworks}
        for round_index in range(config.rounds):
            for framework in frameworks:
                task = task_of(config, bench, framework, threads, round_index == 0)
                tag = f"{bench} / {framework}"
                if config.rounds > 1:
                    tag += f" (round {round_index + 1}/{config.rounds})"
                if show:
                    print(f"[bench_snn] {tag} ...", file=sys.stderr, flush=True)
                result = run_task(task) if config.in_process else run_in_subprocess(task)
                profile_text = result.pop("profile", None)
                if profile_text:
                    atomic_write_bytes(
                        out / f"profile-{bench}-{framework}.txt", profile_text.encode()
                    )
                if show:
                    print(
                        f"[bench_snn] {tag}: {result['step_ms']:.1f} ms/step",
                        file=sys.stderr,
                        flush=True,
                    )
                rounds[framework].append(result)
        by_framework = {f: merge_rounds(results) for f, results in rounds.items()}
        rows.extend(by_framework.values())
        comparisons.extend(compare(by_framework, bench, ref) for ref in REFERENCES)

    table = render_table(rows, comparisons, config.to_dict())
    metrics = {"rows": rows, "comparisons": [c for c in comparisons if c]}
    write_json(out / "metrics.json", metrics)
    atomic_write_bytes(
        out / TABLE_NAME,
        (f"# SNN training benchmark\n\nCommand: `{document['command']}`\n\n" + table).encode(),
    )
    return out
