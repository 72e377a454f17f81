"""experiments/continual_energy_sample.py on the bundled digits."""

from __future__ import annotations

import json

import pytest


def test_exact_basis_bounds_the_others_and_the_small_sample_asks_for_fewer(
    tmp_path, one_thread, experiment_script
):
    script = experiment_script("continual_energy_sample")
    argv = ["--benchmark", "digits", "--samples", "40", "--record", "400", "--out", str(tmp_path)]
    assert script.main(argv) == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    # the exact principal subspace holds the most energy of any subspace of its size
    assert m["energy_exact_basis"] >= m["energy_sample_basis"] - 1e-9
    assert m["energy_exact_basis"] >= m["energy_hebbian"] - 1e-6
    # the Hebbian circuit gets close to it, and 40 inputs understate what all of them need
    assert m["energy_hebbian"] > m["energy_exact_basis"] - 0.03
    assert m["k_from_samples"] < m["k_from_all"] and m["energy_exact_basis"] < 0.98


def test_missing_data_ends_with_status_2_and_one_line(tmp_path, capsys, experiment_script):
    from spikesub.scripting import run_script

    script = experiment_script("continual_energy_sample")
    argv = ["--benchmark", "pmnist", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as stop:
        run_script(lambda: script.main(argv), "continual_energy_sample.py")
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("continual_energy_sample.py: error: MNIST files missing")
    assert "train-images-idx3-ubyte" in err and "\n" not in err
