"""The job: its run folder, its numbers, its figures from the folder alone, its command."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from spikesub.cli import main as spikesub_main
from spikesub.jobs import JOBS, figures_of
from spikesub.runs import load_npz, read_json


def test_run_folder_holds_config_metrics_and_arrays(tiny_run):
    config = read_json(tiny_run / "config.json")
    assert config["job"] == "reservoir-continual"
    metrics = read_json(tiny_run / "metrics.json")
    assert set(metrics["methods"]) == {"unprotected", "hlop", "gpm", "ridge"}
    arrays = load_npz(tiny_run / "accuracy.npz")
    R = arrays["R__hlop"][0]
    assert R.shape == (3, 3)
    assert np.isnan(R[np.triu_indices(3, 1)]).all()
    assert np.isfinite(R[np.tril_indices(3)]).all()
    assert (tiny_run / "results.md").read_text().startswith("| method |")


def test_projected_readouts_forget_less_than_the_unprotected_one(tiny_run):
    methods = read_json(tiny_run / "metrics.json")["methods"]
    unprotected = methods["unprotected"]["BWT_mean"]
    assert unprotected < -0.15  # an honest forgetting signal
    for method in ("hlop", "gpm"):
        assert methods[method]["BWT_mean"] > unprotected / 2
        assert methods[method]["ACC_mean"] > methods["unprotected"]["ACC_mean"]
    assert methods["ridge"]["ACC_mean"] > 0.9


def test_hlop_and_gpm_protect_subspaces_of_similar_size(tiny_run):
    arrays = load_npz(tiny_run / "accuracy.npz")
    hlop, gpm = arrays["k__hlop"][0], arrays["k__gpm"][0]
    assert hlop[0] == gpm[0] > 0  # the first task: the same energy criterion on no old rows
    assert np.all(np.abs(hlop - gpm) <= 0.25 * gpm + 3)


def test_figures_are_drawn_from_a_saved_folder_alone(tiny_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    paths = figures_of("reservoir-continual")(copy)
    assert [p.name for p in paths] == [
        "accuracy_matrices.png",
        "subspace_angles.png",
        "subspace_dims.png",
    ]
    assert all(p.stat().st_size > 10_000 for p in paths)
    assert spikesub_main(["plot", str(copy)]) == 0


def test_job_is_registered():
    job = JOBS["reservoir-continual"]
    assert job.load("config").job == "reservoir-continual"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--gate", "1.5"], "gate must be a finite number in [0, 1]; got 1.5"),
        (["--learning-rate", "50"], "diverged at step"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(tmp_path, capsys, options, message):
    out = str(tmp_path / "run")
    argv = ["reservoir-continual", "--quick", "--n-tasks", "2", "--n-neurons", "60",
            "--n-train", "10", "--n-test", "4", "--out", out, "--quiet"]  # fmt: skip
    assert spikesub_main(argv + options) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


def test_resume_keeps_the_finished_seeds_and_runs_the_rest(tmp_path, monkeypatch):
    from spikesub.reservoir_continual import run as run_module
    from spikesub.reservoir_continual.config import ReservoirContinualConfig
    from spikesub.runs import RunFolderError

    tiny = {"n_tasks": 2, "n_neurons": 200, "n_train": 60, "n_test": 40, "epochs": 10,
            "hebbian_epochs": 30}  # fmt: skip
    config = ReservoirContinualConfig.from_dict({**tiny, "seeds": (1, 2)})
    calls = []
    real = run_module.run_seed

    def interrupted_after_one_seed(cfg, seed, bar=None):
        calls.append(seed)
        if seed == 2 and len(calls) == 2:
            raise KeyboardInterrupt
        return real(cfg, seed, bar)

    monkeypatch.setattr(run_module, "run_seed", interrupted_after_one_seed)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_module.run(config, out, progress=False)
    assert (out / "seeds" / "seed-1.npz").is_file() and not (out / "metrics.json").exists()
    run_module.run(config, out, progress=False, resume=True)
    assert calls == [1, 2, 2]  # seed 1 was read back, not run again
    whole = run_module.run(config, tmp_path / "whole", progress=False)
    resumed, fresh = load_npz(out / "accuracy.npz"), load_npz(whole / "accuracy.npz")
    for key in fresh:
        np.testing.assert_array_equal(resumed[key], fresh[key])
    other = ReservoirContinualConfig.from_dict({**tiny, "seeds": (1, 3)})
    with pytest.raises(RunFolderError, match="seeds"):
        run_module.run(other, out, progress=False, resume=True)
