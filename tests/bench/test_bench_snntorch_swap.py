"""The snnTorch swap benchmark (job ``bench_snntorch_swap``) on a few tiny steps."""

from __future__ import annotations

import json

import pytest

from spikesub.bench.snntorch_swap.config import BenchSnntorchSwapConfig
from spikesub.jobs import run_job

pytest.importorskip("snntorch")


def test_config_defaults_and_refusals():
    config = BenchSnntorchSwapConfig()
    assert (config.rounds, config.steps, config.batch, config.threads) == (30, 20, 64, 0)
    for bad, name in (
        ({"rounds": 0}, "rounds"),
        ({"batch": 0}, "batch"),
        ({"threads": -1}, "threads"),
    ):
        with pytest.raises(ValueError, match=name):
            BenchSnntorchSwapConfig(**bad)


def test_registry_and_script(tmp_path, experiment_script, capsys):
    out = run_job("bench_snntorch_swap", {"rounds": 1, "steps": 2, "batch": 2}, out=tmp_path / "r")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["snntorch_ms"] > 0 and metrics["swapped_ms"] > 0
    assert metrics["loss_difference"] < 1e-4
    assert json.loads((out / "config.json").read_text())["config"]["rounds"] == 1
    script = experiment_script("bench_snntorch_swap")
    argv = ["--rounds", "1", "--steps", "2", "--batch", "2", "--threads", "1"]
    assert script.main([*argv, "--out", str(tmp_path / "s")]) == 0
    assert "ratio_snntorch_over_swapped:" in capsys.readouterr().out
