"""Kill-and-resume cycles: every resumable job, killed again and again, ends as if never killed.

For each job (``simulate``, ``whatwhen``, ``continual``) the script runs the command once
uninterrupted (the reference), then runs it again into another folder and kills it several
times at random moments (``SIGKILL``, as a crashed node or an out-of-memory killer would, or
``SIGINT``, as Ctrl-C), each time continuing with ``--resume``, until it finishes. The result
files of the two folders are compared array by array: "identical" means every array equal,
bit for bit.

Usage::

    python experiments/kill_resume.py --out runs/kill-resume              # 3 jobs x 4 cycles
    python experiments/kill_resume.py --jobs simulate --cycles 10 --out runs/kill-sim

Writes ``config.json``, ``metrics.json`` (one row per job: kills by signal, resumes, whether
the result is identical) and ``kill_resume.md`` (the table) into ``--out``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from spikesub.runs import atomic_write_bytes, load_npz, make_run_dir, write_json
from spikesub.scripting import add_job_arguments, apply_job_arguments, run_script

# Each job: the command's options (its run folder is added), the files compared, and the
# file whose appearance says the job has started working.
JOBS: dict[str, dict[str, Any]] = {
    "simulate": {
        "argv": [
            "simulate", "--n-exc", "1600", "--n-inh", "400", "--p", "0.1",
            "--duration-ms", "20000", "--checkpoint-every-s", "0.5", "--threads", "1",
        ],
        "compare": ("spikes.npz", "state.npz"),
    },
    "whatwhen": {
        "argv": ["whatwhen", "--quick", "--n-neurons", "200", "--threads", "1"],
        "compare": ("arrays.npz", "examples.npz"),
    },
    "continual": {
        "argv": [
            "continual", "--method", "hlop", "--benchmark", "digits", "--quick", "--no-plots",
            "--threads", "1",
        ],
        # R, the accuracy matrix; the file's other arrays are wall times
        "compare": ("accuracy.npz:R",),
    },
}  # fmt: skip
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGINT": signal.SIGINT}


def _command(argv: list[str], out: Path, resume: bool) -> list[str]:
    extra = ["--resume"] if resume else []
    return [sys.executable, "-m", "spikesub.cli", *argv, "--quiet", "--out", str(out), *extra]


def _start(argv: list[str], out: Path, resume: bool) -> subprocess.Popen:
    return subprocess.Popen(
        _command(argv, out, resume),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C's default action, even when this script runs in the background
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _reference(argv: list[str], out: Path) -> float:
    started = time.perf_counter()
    process = _start(argv, out, resume=False)
    _, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"reference run failed ({process.returncode}): {err.strip()}")
    return time.perf_counter() - started


def _cut_run(
    argv: list[str], out: Path, cycles: int, span_s: float, rng: random.Random
) -> dict[str, Any]:
    """Kill the job ``cycles`` times at random moments within its expected run time, each
    time resuming, then let it finish; returns what happened."""
    kills = {name: 0 for name in SIGNALS}
    statuses = []
    resume = False
    for _ in range(cycles):
        process = _start(argv, out, resume)
        time.sleep(rng.uniform(0.1, 0.4) * span_s)
        if process.poll() is not None:  # it finished before the kill
            process.communicate()
            statuses.append(process.returncode)
            break
        name = rng.choice(list(SIGNALS))
        process.send_signal(SIGNALS[name])
        process.communicate()
        statuses.append(process.returncode)
        kills[name] += 1
        resume = (out / "config.json").exists()
    process = _start(argv, out, resume)
    _, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"final resume failed ({process.returncode}): {err.strip()}")
    return {"kills": kills, "exit_statuses": statuses}


def _differences(reference: Path, cut: Path, files: tuple[str, ...]) -> list[str]:
    """The arrays that differ; an entry ``"file.npz:key"`` compares that array alone."""
    differ = []
    for entry in files:
        name, _, only = entry.partition(":")
        a, b = load_npz(reference / name), load_npz(cut / name)
        for key in [only] if only else sorted(set(a) | set(b)):
            x, y = a.get(key), b.get(key)
            nan_ok = x is not None and y is not None and x.dtype.kind == y.dtype.kind == "f"
            if x is None or y is None or not np.array_equal(x, y, equal_nan=nan_ok):
                differ.append(f"{name}:{key}")
    return differ


def run_job(name: str, out: Path, cycles: int, rng: random.Random) -> dict[str, Any]:
    """Reference run, cut run, comparison for one job."""
    job = JOBS[name]
    reference, cut = out / f"{name}-reference", out / f"{name}-cut"
    for folder in (reference, cut):
        shutil.rmtree(folder, ignore_errors=True)
    wall = _reference(job["argv"], reference)
    cut_run = _cut_run(job["argv"], cut, cycles, wall, rng)
    differ = _differences(reference, cut, job["compare"])
    return {
        "job": name,
        "reference_wall_s": wall,
        "kills_sigkill": cut_run["kills"]["SIGKILL"],
        "kills_sigint": cut_run["kills"]["SIGINT"],
        "exit_statuses": cut_run["exit_statuses"],
        "compared": list(job["compare"]),
        "identical": not differ,
        "differences": differ,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| job | kills (SIGKILL / SIGINT) | resumes | result against an uninterrupted run |",
        "|:---|---:|---:|:---|",
    ]
    for row in rows:
        kills = row["kills_sigkill"] + row["kills_sigint"]
        verdict = (
            f"identical ({', '.join(row['compared'])})"
            if row["identical"]
            else "differs: " + ", ".join(row["differences"][:5])
        )
        lines.append(
            f"| {row['job']} | {row['kills_sigkill']} / {row['kills_sigint']} | {kills} | "
            f"{verdict} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", default=",".join(JOBS), help="comma-separated job names")
    parser.add_argument("--cycles", type=int, default=4, help="kills per job (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    parser.add_argument("--out", default="runs/kill-resume", help="run folder")
    add_job_arguments(parser)
    args = parser.parse_args(argv)
    apply_job_arguments(args)
    jobs = [j.strip() for j in args.jobs.split(",") if j.strip()]
    unknown = [j for j in jobs if j not in JOBS]
    if unknown or not jobs:
        parser.error(f"--jobs must name jobs from {', '.join(JOBS)}; got {args.jobs!r}")
    if args.cycles < 1:
        parser.error(f"--cycles must be >= 1; got {args.cycles}")
    out = make_run_dir(args.out)
    write_json(out / "config.json", {"jobs": jobs, "cycles": args.cycles, "seed": args.seed})
    rng = random.Random(args.seed)
    rows = []
    for name in jobs:
        row = run_job(name, out, args.cycles, rng)
        rows.append(row)
        print(table([row]).splitlines()[-1], flush=True)
    write_json(out / "metrics.json", {"rows": rows, "cpu_count": os.cpu_count()})
    atomic_write_bytes(out / "kill_resume.md", table(rows).encode())
    print(table(rows))
    return 0 if all(row["identical"] for row in rows) else 1


if __name__ == "__main__":
    run_script(main, "kill_resume.py")
