"""Sweeps on a local Ray of two CPUs: failures, interruptions and resumption, searches."""

from __future__ import annotations

import json

import pytest
import torch  # noqa: F401  (imported before the threads are set, so that they apply)
from sweep_files import TINY_SIMULATION

from spikesub.jobs import run_job
from spikesub.runs import read_json
from spikesub.scripting import set_threads
from spikesub.sweep import load_sweep, run_sweep
from spikesub.sweep.run import prepare_sweep_dir
from spikesub.sweep.trial import trial_status

pytest.importorskip("ray")

SEEDS = TINY_SIMULATION + "\n[grid]\nseed = [1, 2, 3]\n"

QUICK_CONTINUAL = """
    job = "continual"
    [base]
    benchmark = "digits"
    quick = true
    n_tasks = 2
    method = "finetune"
"""


def _rates(summary):
    return {name: r["metrics"]["mean_rate_hz"] for name, r in summary["trials"].items()}


class _Interrupt:
    """An ``on_result`` that stops the sweep (as Ctrl-C does) after ``after`` trials."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.seen: list[str] = []

    def __call__(self, trial, record) -> None:
        self.seen.append(trial.name)
        if len(self.seen) >= self.after:
            raise KeyboardInterrupt


def test_a_killed_sweep_resumes_and_ends_as_a_straight_run(local_ray, sweep_file, tmp_path):
    sweep = load_sweep(sweep_file(SEEDS))
    straight = run_sweep(sweep, tmp_path / "straight", max_parallel=1, plots=False)
    assert straight.summary["counts"] == {"done": 3, "failed": 0, "pending": 0}

    out = tmp_path / "killed"
    stop = _Interrupt(after=1)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, out, max_parallel=1, plots=False, on_result=stop)
    interrupted = read_json(out / "summary.json")  # written on the way out
    assert interrupted["counts"] == {"done": 1, "failed": 0, "pending": 2}
    (first,) = stop.seen
    record = (out / "trials" / first / "trial.json").read_text()

    resumed = run_sweep(sweep, out, plots=False)
    assert resumed.skipped == [first]
    assert sorted(resumed.ran) == sorted(t.name for t in sweep.trials if t.name != first)
    assert (out / "trials" / first / "trial.json").read_text() == record  # not run again
    assert resumed.summary["counts"]["done"] == 3
    assert _rates(resumed.summary) == _rates(straight.summary)
    groups = [g["metrics"]["mean_rate_hz"] for g in resumed.summary["groups"]]
    assert groups == [g["metrics"]["mean_rate_hz"] for g in straight.summary["groups"]]


def test_an_interrupted_trial_resumes_its_run(local_ray, sweep_file, tmp_path):
    sweep = load_sweep(sweep_file(QUICK_CONTINUAL + "\n[grid]\nseed = [0]\n"))
    (trial,) = sweep.trials
    straight = run_sweep(sweep, tmp_path / "straight", plots=False)

    # a sweep killed while its trial had finished its first task: what the job leaves
    out = prepare_sweep_dir(sweep, tmp_path / "resumed")
    set_threads(1)  # the trials' thread count: the same sums as on the workers
    run_job("continual", trial.settings, out / "trials" / trial.name, stop_after=1)
    assert trial_status(out / "trials" / trial.name) == "started"

    resumed = run_sweep(sweep, out, plots=False)
    assert read_json(out / "trials" / trial.name / "trial.json")["resumed"] is True
    mine = resumed.summary["trials"][trial.name]["metrics"]
    theirs = straight.summary["trials"][trial.name]["metrics"]
    assert (mine["ACC"], mine["BWT"]) == (theirs["ACC"], theirs["BWT"])


def test_a_failing_trial_is_reported_and_the_others_finish(local_ray, sweep_file, tmp_path):
    path = sweep_file(
        TINY_SIMULATION + "\n[grid]\nn_inh = [20, 100_000_000]\n"  # the second: no memory
    )
    sweep = load_sweep(path)
    out = tmp_path / "out"
    outcome = run_sweep(sweep, out, plots=False)
    ok, bad = (t.name for t in sweep.trials)
    assert outcome.summary["counts"] == {"done": 1, "failed": 1, "pending": 0}
    assert list(outcome.failed) == [bad]
    assert "over the memory budget" in outcome.failed[bad]
    assert "over the memory budget" in (out / "trials" / bad / "error.txt").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials"][ok]["metrics"]["mean_rate_hz"] > 0
    assert "Failed trials" in (out / "summary.md").read_text()

    again = run_sweep(sweep, out, plots=False)  # the failed trial is retried, alone
    assert again.skipped == [ok] and again.ran == [bad]


def test_the_command_ends_in_one_line_and_exit_2_when_a_trial_failed(
    local_ray, sweep_file, tmp_path, capsys
):
    from spikesub.cli import main

    path = sweep_file(TINY_SIMULATION + "\n[grid]\nn_inh = [20, 100_000_000]\n")
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("n_inh-100000000: failed: ")
    assert "over the memory budget" in err[0]
    assert err[-1].startswith("spikesub sweep: error: 1 of 2 trials failed (first: n_inh-")
    assert "the others' results are in" in err[-1]
    assert trial_status(out / "trials" / "n_inh-20") == "done"


def test_a_trial_runs_within_the_memory_of_its_resources(local_ray, sweep_file, tmp_path):
    path = sweep_file(TINY_SIMULATION + '\n[resources]\nmemory = "16K"\n')
    outcome = run_sweep(load_sweep(path), tmp_path / "out", plots=False)
    (line,) = outcome.failed.values()
    assert "over the memory budget of 16 KiB" in line


def test_a_trial_killed_by_rays_memory_monitor_says_so_in_one_line():
    from ray.exceptions import OutOfMemoryError, WorkerCrashedError

    from spikesub.sweep.engine import _ray_error_line

    line = _ray_error_line(OutOfMemoryError("Task was killed due to the node running low"))
    assert line.startswith("out of memory: Ray's memory monitor killed the trial's worker")
    assert "[resources] memory" in line and "--max-parallel" in line
    assert "died" in _ray_error_line(WorkerCrashedError())


SEARCH = (
    QUICK_CONTINUAL.replace('method = "finetune"', 'method = "hlop"')
    + """
    validation = 0.2

    [search]
    metric = "ACC"
    trials = 3
    seed = 0

    [search.space]
    lr = { low = 0.02, high = 0.2, log = true }
    hlop_threshold = [0.9, [0.97, 0.9]]
"""
)


def test_a_search_of_three_trials_saves_its_choice_and_history(local_ray, sweep_file, tmp_path):
    sweep = load_sweep(sweep_file(SEARCH))
    out = tmp_path / "search"
    stop = _Interrupt(after=1)
    with pytest.raises(KeyboardInterrupt):  # one suggestion finished, one cancelled running
        run_sweep(sweep, out, plots=False, on_result=stop)
    assert read_json(out / "search.json")["counts"] == {"complete": 1, "fail": 0, "running": 1}

    outcome = run_sweep(sweep, out)
    search = read_json(out / "search.json")
    assert search["counts"] == {"complete": 3, "fail": 0, "running": 0}
    assert search["evaluated_on"] == "validation" and search["split"] == {"validation": 0.2}
    suggested = [json.dumps(t["params"], sort_keys=True) for t in search["trials"]]
    assert len(set(suggested)) == 3  # the resumed search did not repeat itself
    values = [t["value"] for t in search["trials"]]
    assert search["best"]["value"] == max(values)
    best = search["best"]
    assert best["settings"]["lr"] == best["params"]["lr"]
    assert best["settings"]["validation"] == 0.2
    for entry in search["trials"]:
        metrics = read_json(out / entry["run_dirs"][0] / "metrics.json")
        assert metrics["evaluated_on"] == "validation"
        assert metrics["ACC"] == entry["value"]
    assert (out / "search_history.png").exists() and (out / "versus_lr.png").exists()
    assert len(outcome.summary["groups"]) == 3

    again = run_sweep(sweep, out, plots=False)  # finished: nothing runs
    assert again.ran == [] and len(again.skipped) == 3
