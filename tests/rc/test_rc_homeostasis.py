"""experiments/rc_homeostasis.py --quick: a complete run folder whose numbers are consistent."""

from __future__ import annotations

import json

import numpy as np


def test_quick_sweep_writes_scores_for_every_gain_and_condition(experiment_script, tmp_path):
    script = experiment_script("rc_homeostasis")
    out = tmp_path / "run"
    script.main(["--quick", "--quiet", "--out", str(out)])
    for name in ("config.json", "metrics.json", "homeostasis_sweep.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    summary = metrics["summary"]
    assert summary["gains"] == [0.25, 4.0]
    assert len(metrics["runs"]) == 2 * 3  # gains x conditions, one seed
    for run in metrics["runs"]:
        assert 0.0 <= run["mc"] <= 20.0  # at most one per delay
        assert len(run["mc_per_delay"]) == 20
        assert np.isclose(run["mc"], sum(run["mc_per_delay"]))
        assert 0.0 < run["narma10_nrmse"] < 2.0
        if run["condition"] == "fixed":
            assert run["mc_gain_mean"] == 1.0  # no homeostasis: the gains stay 1
        else:
            assert run["mc_gain_mean"] != 1.0  # adapted, then frozen
    for condition in ("fixed", "adapted", "heterogeneous"):
        row = summary["by_condition"][condition]
        assert len(row["mc"]) == len(row["narma10_nrmse"]) == 2
        claim = summary["claim"][condition]
        assert claim["worst_mc_over_best_fixed"] <= claim["mean_mc_over_best_fixed"]
    fixed = summary["by_condition"]["fixed"]["mc"]
    worst = summary["claim"]["fixed"]["worst_mc_over_best_fixed"]
    assert np.isclose(max(fixed) * worst, min(fixed))
    # the figure is drawn again from the run folder alone
    (out / "homeostasis_sweep.png").unlink()
    script.main(["--plot-only", "--out", str(out)])
    assert (out / "homeostasis_sweep.png").is_file()
    again = json.loads((out / "metrics.json").read_text())["summary"]
    assert again["claim"] == summary["claim"]
