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
        # the control: same network and noise, as many rewards at random times
        assert a["control_w"].shape == a["control_p99"].shape == (20,)
        assert a["control_dopamine"].shape == (2000,)
        assert a["control_reward_ms"].size == a["reward_ms"].size
        assert a["control_w"][0] == a["w"][0]  # identical until the first reward
    c = m["control"]
    assert m["control_kind"] == "random"
    assert c["n_rewards"] == m["n_rewards"] and c["n_others"] == 79_999
    for run in (m, c):
        assert 1 <= run["chosen_rank"] <= 80_000
        assert run["chosen_rank"] <= run["others_at_or_above_chosen"] + 1
        assert 0.0 <= run["chosen_percentile"] <= 100.0


def test_quick_run_is_reproducible(experiment_script, tmp_path):
    script = experiment_script("distal_reward")
    runs = []
    for name in ("a", "b"):
        script.main(["--minutes", "0.1", "--quiet", "--seed", "5", "--out", str(tmp_path / name)])
        with np.load(tmp_path / name / "distal_reward.npz") as a:
            runs.append({k: a[k] for k in a.files})
    for key in runs[0]:
        np.testing.assert_array_equal(runs[0][key], runs[1][key], err_msg=key)


@pytest.mark.parametrize("control", ["none", "off"])
def test_control_without_rewards_or_without_control(experiment_script, tmp_path, control):
    script = experiment_script("distal_reward")
    out = tmp_path / control
    script.main(["--minutes", "0.05", "--quiet", "--control", control, "--out", str(out)])
    m = json.loads((out / "metrics.json").read_text())
    assert m["control_kind"] == control
    with np.load(out / "distal_reward.npz") as a:
        if control == "off":
            assert m["control"] is None and "control_w" not in a.files
        else:
            assert m["control"]["n_rewards"] == 0 and a["control_reward_ms"].size == 0
            assert np.all(a["control_dopamine"] == 0.0)


def test_bad_minutes_refused(experiment_script, tmp_path):
    script = experiment_script("distal_reward")
    with pytest.raises(SystemExit):
        script.main(["--minutes", "-1", "--out", str(tmp_path / "x")])
