"""experiments/distal_reward.py --quick writes a complete run folder with sensible numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest


def test_quick_run_writes_folder(experiment_script, tmp_path):
    script = experiment_script("distal_reward")
    out = tmp_path / "run"
    script.main(["--quick", "--quiet", "--out", str(out)])
    for name in ("config.json", "metrics.json", "distal_reward.npz", "distal_reward.png"):
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert m["simulated_minutes"] == pytest.approx(1.0 / 3.0)
    assert m["n_others"] == 79_999
    assert 0.0 <= m["chosen_weight_final"] <= 4.0
    assert 0.3 < m["mean_rate_hz"] < 5.0
    with np.load(out / "distal_reward.npz") as a:
        assert a["w"].shape == a["mean"].shape == (20,)
        assert a["dopamine"].shape == (2000,)
        assert a["w"][0] < 1.0  # the chosen synapse starts at 0
        assert np.all(a["reward_ms"] >= 1000.0)


def test_quick_run_is_reproducible(experiment_script, tmp_path):
    script = experiment_script("distal_reward")
    runs = []
    for name in ("a", "b"):
        script.main(["--minutes", "0.1", "--quiet", "--seed", "5", "--out", str(tmp_path / name)])
        with np.load(tmp_path / name / "distal_reward.npz") as a:
            runs.append({k: a[k] for k in a.files})
    for key in runs[0]:
        np.testing.assert_array_equal(runs[0][key], runs[1][key], err_msg=key)


def test_bad_minutes_refused(experiment_script, tmp_path):
    script = experiment_script("distal_reward")
    with pytest.raises(SystemExit):
        script.main(["--minutes", "-1", "--out", str(tmp_path / "x")])
