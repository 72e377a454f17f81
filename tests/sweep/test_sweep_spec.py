"""Sweep files: what they define, and what is refused before any trial starts."""

from __future__ import annotations

import pytest
from sweep_files import QUICK, REPO, TINY_SIMULATION

from spikesub.cli import main
from spikesub.sweep import SweepFileError, load_sweep

SWEEPS = sorted((REPO / "sweeps").glob("*.toml"))


def test_the_quick_sweep_has_four_trials_named_by_what_varies():
    sweep = load_sweep(QUICK)
    assert sweep.job == "continual"
    assert [t.name for t in sweep.trials] == [
        "method-hlop_seed-0",
        "method-hlop_seed-1",
        "method-finetune_seed-0",
        "method-finetune_seed-1",
    ]
    first = sweep.trials[0]
    assert first.settings == {
        "benchmark": "digits",
        "quick": True,
        "n_tasks": 2,
        "method": "hlop",
        "seed": 0,
    }
    assert first.group == {"method": "hlop"}
    assert sweep.resources.threads == 1


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.name)
def test_every_sweep_file_of_the_repository_is_valid(path):
    sweep = load_sweep(path)
    assert sweep.trials or sweep.search is not None


def test_variants_cross_the_grid_and_may_override_the_base(sweep_file):
    path = sweep_file(
        TINY_SIMULATION
        + """
        [grid]
        seed = [1, 2]

        [[variants]]
        n_exc = 40

        [[variants]]
        n_exc = 60
        noise_std_exc = 4.0
        """
    )
    sweep = load_sweep(path)
    assert [t.name for t in sweep.trials] == [
        "n_exc-40_seed-1",
        "n_exc-40_seed-2",
        "n_exc-60_noise_std_exc-4.0_seed-1",
        "n_exc-60_noise_std_exc-4.0_seed-2",
    ]
    assert sweep.trials[2].settings["n_exc"] == 60
    assert sweep.trials[2].group == {"n_exc": 60, "noise_std_exc": 4.0}


def test_a_yaml_file_reads_as_the_toml_one(tmp_path):
    path = tmp_path / "quick.yaml"
    path.write_text(
        "job: continual\nbase: {benchmark: digits, quick: true, n_tasks: 2}\n"
        "grid: {method: [hlop, finetune], seed: [0, 1]}\n"
        "summary: {metrics: [ACC, BWT, cost]}\n"
    )
    assert [t.settings for t in load_sweep(path).trials] == [
        t.settings for t in load_sweep(QUICK).trials
    ]


def test_a_search_file_is_checked_at_both_ends_of_every_range(sweep_file):
    path = sweep_file(
        """
        job = "continual"
        [base]
        quick = true
        method = "hlop"
        validation = 0.2
        [search]
        metric = "ACC"
        trials = 3
        [search.space]
        lr = { low = 0.01, high = 0.2, log = true }
        hlop_epochs = { low = 1, high = 3 }
        hlop_threshold = [0.9, [0.98, 0.9]]
        """
    )
    search = load_sweep(path).search
    assert search.direction == "maximize"
    lr, epochs, threshold = search.space
    assert lr.log and not lr.integer
    assert epochs.integer
    assert threshold.choices == (0.9, [0.98, 0.9])


BAD = {
    "unknown job": ('job = "simulat"', "unknown job 'simulat'; jobs: simulate, whatwhen"),
    "no job": ("[base]\nseed = 1", "job is missing"),
    "unknown top-level key": (
        'job = "simulate"\n[grids]\nseed = [1]',
        "unknown top-level key(s) grids; allowed: job, name",
    ),
    "unknown setting": (
        'job = "simulate"\n[base]\nn_exitatory = 3',
        "trial trial: unknown simulate setting(s) n_exitatory; known: backend",
    ),
    "value out of range": (
        'job = "continual"\n[grid]\nlr = [0.1, -0.1]',
        "trial lr--0.1: lr must be a finite number > 0; got -0.1",
    ),
    "value not among the choices": (
        'job = "continual"\n[grid]\nmethod = ["hlop", "lwf"]',
        "trial method-lwf: method must be one of hlop, gpm, ewc, finetune, multitask",
    ),
    "empty axis": ('job = "simulate"\n[grid]\nseed = []', "grid.seed is empty"),
    "axis not a list": ('job = "simulate"\n[grid]\nseed = 3', "grid.seed must be a list"),
    "setting in the grid and a variant": (
        'job = "simulate"\n[grid]\nseed = [2]\n[[variants]]\nseed = 1',
        "seed is in [grid] and in a variant",
    ),
    "unknown metric": (
        'job = "simulate"\n[summary]\nmetrics = ["ACC"]',
        "unknown simulate metric(s) ACC; known: mean_rate_hz",
    ),
    "no CPUs": ('job = "simulate"\n[resources]\ncpus = 0', "resources.cpus must be a number > 0"),
    "memory not a size": (
        'job = "simulate"\n[resources]\nmemory = "4 gigs"',
        "resources.memory: memory size '4 gigs' is not a size",
    ),
    "search without validation split": (
        'job = "continual"\n[search]\nmetric = "ACC"\ntrials = 2\n[search.space]\n'
        "lr = { low = 0.01, high = 0.1 }",
        "set validation > 0 in [base]",
    ),
    "search of a job without a split": (
        'job = "simulate"\n[search]\nmetric = "mean_rate_hz"\ntrials = 2\n[search.space]\n'
        "n_exc = { low = 10, high = 20 }",
        "job simulate has none",
    ),
    "search range out of the setting's": (
        'job = "continual"\n[base]\nvalidation = 0.1\n[search]\nmetric = "ACC"\ntrials = 2\n'
        "[search.space]\nmomentum = { low = 0.5, high = 1.5 }",
        "search.space.momentum = 1.5: momentum must be a finite number in [0, 1)",
    ),
    "empty search space": (
        'job = "continual"\n[base]\nvalidation = 0.1\n[search]\nmetric = "ACC"\ntrials = 2\n'
        "[search.space]",
        "search.space is empty",
    ),
    "not TOML": ('job = "simulate"\n[base\n', "not valid TOML: "),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_file_is_refused_in_one_line_naming_what_is_allowed(sweep_file, case):
    text, expected = BAD[case]
    path = sweep_file(text)
    with pytest.raises(SweepFileError) as caught:
        load_sweep(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_the_command_refuses_a_bad_file_with_exit_2_before_anything_is_written(
    sweep_file, tmp_path, capsys
):
    path = sweep_file('job = "continual"\n[grid]\nlr = [0.1, -0.1]\n')
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("spikesub sweep: error: ")
    assert "lr must be a finite number > 0; got -0.1" in err
    assert "\n" not in err
    assert not out.exists()


def test_a_missing_file_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "nothing.toml"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"spikesub sweep: error: sweep file {tmp_path / 'nothing.toml'} does not exist"


def test_dry_run_lists_the_trials_and_runs_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(QUICK), "--out", str(out), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "4 trials, each 1 CPU(s)" in lines[0]
    assert lines[1].strip() == "method-hlop_seed-0: method=hlop, seed=0"
    assert not out.exists()
