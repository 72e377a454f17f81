"""experiments/continual_forgetting_by_layer.py on the quick digits benchmark."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture
def script(experiment_script):
    return experiment_script("continual_forgetting_by_layer")


def test_the_end_mixes_are_the_accuracy_matrix_entries(tmp_path, one_thread, script):
    out = tmp_path / "fbl"
    assert script.main(["--benchmark", "digits", "--quick", "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    R = np.load(out / "run" / "accuracy.npz")["R"]
    layers = metrics["layers"]
    mixes = {tuple(m["final_layers"]): m["accuracy"] for m in metrics["mixes"]}
    assert len(mixes) == 2 ** len(layers) and len(layers) >= 2
    # no layer at its final weights: the task just after training; all of them: at the end
    assert mixes[()] == pytest.approx(R[0, 0])
    assert mixes[tuple(layers)] == pytest.approx(R[-1, 0])
    assert metrics["ACC"] == pytest.approx(R[-1].mean())
    assert "| none |" in (out / "forgetting.md").read_text()


def test_the_last_task_has_nothing_after_it(tmp_path, script):
    with pytest.raises(ValueError, match="--task must be below the last task"):
        script.main(["--benchmark", "digits", "--quick", "--task", "99", "--out", str(tmp_path)])


def test_threshold_reaches_the_strategy_and_is_refused_where_it_means_nothing(tmp_path, script):
    out = tmp_path / "fbl"
    argv = ["--benchmark", "digits", "--quick", "--energy-threshold", "0.9,0.8", "--out", str(out)]
    assert script.main([*argv, "--activity", "spikes", "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["hlop_threshold"] == [0.9, 0.8]
    assert metrics["config"]["hlop_activity"] == "spikes"
    with pytest.raises(ValueError, match="--energy-threshold is an option of gpm and hlop"):
        script.main(["--method", "ewc", *argv[:-2], "--out", str(tmp_path / "e")])
