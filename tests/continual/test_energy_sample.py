"""experiments/continual_energy_sample.py on the bundled digits."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "continual_energy_sample.py"


def _load():
    spec = importlib.util.spec_from_file_location("continual_energy_sample", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_exact_basis_bounds_the_others_and_the_small_sample_asks_for_fewer(tmp_path, one_thread):
    script = _load()
    argv = ["--benchmark", "digits", "--samples", "40", "--record", "400", "--out", str(tmp_path)]
    assert script.main(argv) == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    # the exact principal subspace holds the most energy of any subspace of its size
    assert m["energy_exact_basis"] >= m["energy_sample_basis"] - 1e-9
    assert m["energy_exact_basis"] >= m["energy_hebbian"] - 1e-6
    # the Hebbian circuit gets close to it, and 40 inputs understate what all of them need
    assert m["energy_hebbian"] > m["energy_exact_basis"] - 0.03
    assert m["k_from_samples"] < m["k_from_all"] and m["energy_exact_basis"] < 0.98
