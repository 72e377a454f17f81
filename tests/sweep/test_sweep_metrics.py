"""The measures a sweep reads from each job's metrics.json."""

from __future__ import annotations

import pytest

from spikesub.sweep.metrics import HEADLINES, METRICS, metric_value, metrics_of


def test_every_job_headline_is_one_of_its_measures():
    for job, names in HEADLINES.items():
        assert [m.name for m in metrics_of(job)] == list(names)


def test_rc_measures_read_each_task_and_model_from_the_run_folder_layout():
    saved = {
        "tasks": {
            "mc": {"izhikevich": {"test_mean": 2.5}, "esn": {"test_mean": 6.8}},
            "narma10": {"lif": {"test_mean": 0.79}},
        }
    }
    table = METRICS["rc"]
    assert metric_value(saved, table["mc_izhikevich"]) == 2.5
    assert metric_value(saved, table["mc_esn"]) == 6.8
    assert metric_value(saved, table["narma10_lif"]) == 0.79
    assert metric_value(saved, table["mg84_lif"]) is None  # a task that was not run
    assert table["mc_lif"].better == "higher" and table["narma10_lif"].better == "lower"


def test_an_unknown_measure_is_named_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown rc metric.*mc_gru.*known: mc_izhikevich"):
        metrics_of("rc", ["mc_gru"])


def test_reservoir_continual_measures_read_each_methods_means():
    saved = {
        "methods": {
            "hlop": {"ACC_mean": 0.98, "BWT_mean": -0.02},
            "unprotected": {"ACC_mean": 0.42, "BWT_mean": -0.7},
            "ridge": {"ACC_mean": 1.0},
        }
    }
    table = METRICS["reservoir-continual"]
    assert metric_value(saved, table["ACC_hlop"]) == 0.98
    assert metric_value(saved, table["BWT_unprotected"]) == -0.7
    assert metric_value(saved, table["ACC_ridge"]) == 1.0
    assert metric_value(saved, table["ACC_gpm"]) is None  # a method that was not run
    assert table["ACC_hlop"].scale == 100.0
