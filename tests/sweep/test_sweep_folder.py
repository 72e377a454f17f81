"""The sweep folder: what it may already hold, checked before any trial starts (no Ray)."""

from __future__ import annotations

import pytest
from sweep_files import TINY_SIMULATION

from spikesub.models.errors import RunFolderError
from spikesub.sweep import load_sweep
from spikesub.sweep.run import prepare_sweep_dir
from spikesub.sweep.trial import execute_trial, trial_status

SEEDS = TINY_SIMULATION + "\n[grid]\nseed = [1, 2]\n"


def test_a_folder_of_other_files_is_refused(sweep_file, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="holds files but no sweep.json"):
        prepare_sweep_dir(load_sweep(sweep_file(SEEDS)), out)


def test_a_sweep_of_another_job_is_refused(sweep_file, tmp_path):
    out = prepare_sweep_dir(load_sweep(sweep_file(SEEDS)), tmp_path / "out")
    other = sweep_file('job = "continual"\n[grid]\nseed = [1]\n', name="other.toml")
    with pytest.raises(RunFolderError, match="holds a sweep of job simulate, not continual"):
        prepare_sweep_dir(load_sweep(other), out)


def test_a_trial_folder_with_other_settings_is_refused_naming_them(sweep_file, tmp_path):
    sweep = load_sweep(sweep_file(SEEDS))
    out = prepare_sweep_dir(sweep, tmp_path / "out")
    trial = sweep.trials[0]
    record = execute_trial("simulate", trial.settings, out / "trials" / trial.name)
    assert record["status"] == "done" and trial_status(out / "trials" / trial.name) == "done"

    edited = load_sweep(sweep_file(SEEDS.replace("duration_ms = 50.0", "duration_ms = 60.0")))
    with pytest.raises(RunFolderError, match=r"duration_ms: 60.0 != 50.0"):
        prepare_sweep_dir(edited, out)
    more_seeds = load_sweep(sweep_file(SEEDS.replace("[1, 2]", "[1, 2, 3]")))
    assert prepare_sweep_dir(more_seeds, out) == out  # added trials are fine


def test_a_search_continues_only_with_its_own_file(sweep_file, tmp_path):
    search = """
        job = "continual"
        [base]
        quick = true
        validation = 0.2
        [search]
        metric = "ACC"
        trials = 3
        [search.space]
        lr = { low = 0.01, high = 0.1 }
    """
    out = prepare_sweep_dir(load_sweep(sweep_file(search)), tmp_path / "out")
    longer = load_sweep(sweep_file(search.replace("trials = 3", "trials = 6")))
    assert prepare_sweep_dir(longer, out) == out  # more trials extend it
    other = load_sweep(sweep_file(search.replace("high = 0.1", "high = 0.2")))
    with pytest.raises(RunFolderError, match="holds a search with other search than"):
        prepare_sweep_dir(other, out)


def test_a_failed_trial_keeps_its_error_and_is_retried(tmp_path):
    run_dir = tmp_path / "trial"
    settings = {"n_exc": 80, "n_inh": 20, "duration_ms": 50.0, "backend": "numba"}
    failed = execute_trial("simulate", settings, run_dir, memory=16 * 1024)
    assert failed["status"] == "failed" and trial_status(run_dir) == "failed"
    text = (run_dir / "error.txt").read_text()
    assert text.splitlines()[0] == failed["error"] and "Traceback" in text

    retried = execute_trial("simulate", settings, run_dir)
    assert retried["status"] == "done" and trial_status(run_dir) == "done"
    assert not (run_dir / "error.txt").exists()
