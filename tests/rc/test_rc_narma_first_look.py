"""experiments/rc_narma_first_look.py --quick: one setting per model, scored and written."""

from __future__ import annotations

import json


def test_quick_run_writes_the_chosen_settings_and_their_scores(tmp_path, experiment_script):
    script = experiment_script("rc_narma_first_look")
    assert script.main(["--quick", "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    spiking = metrics["spiking"]
    assert len(spiking["settings"]) == 1
    best = spiking["best"]
    assert best["gain"] == 0.3 and best["sample_ms"] == 1.0
    # NRMSE is positive and finite; an untuned spiking reservoir is far from perfect
    assert 0.3 < best["valid_nrmse"] < 5.0 and 0.3 < best["test_nrmse"] < 5.0
