"""The kernel breakdown (job ``bench_snn_breakdown``, experiments/bench_snn_breakdown.py) on a
tiny batch and synthetic images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spikesub.bench.snn_breakdown import run as breakdown
from spikesub.bench.snn_breakdown.config import BenchSnnBreakdownConfig
from spikesub.jobs import run_job

TINY = {"synthetic": True, "train_steps": 1, "repeats": 2, "batch": 4, "T": 3}


def test_config_defaults_and_refusals() -> None:
    config = BenchSnnBreakdownConfig()
    assert (config.threads, config.train_steps, config.repeats, config.batch, config.T) == (
        1, 30, 20, 64, 20,
    )  # fmt: skip
    for bad, name in (({"repeats": 0}, "repeats"), ({"threads": 0}, "threads"),
                      ({"train_steps": -1}, "train_steps"), ({"lr": 0.0}, "lr")):  # fmt: skip
        with pytest.raises(ValueError, match=name):
            BenchSnnBreakdownConfig(**bad)


def test_every_kernel_timed_and_the_step_accounted_for(tmp_path: Path) -> None:
    out = run_job("bench_snn_breakdown", TINY, out=tmp_path / "run")
    result = json.loads((out / "metrics.json").read_text())
    names = [row["kernel"] for row in result["rows"]]
    assert len(names) == 17 and len(set(names)) == 17
    assert all(row["wall_ms"] > 0 and row["cpu_ms"] >= 0 for row in result["rows"])
    assert set(result["densities"]) == {"layer 1 spikes", "layer 2 spikes"}
    groups = result["in_training_cpu_ms"]
    assert set(groups) == {
        *breakdown.KERNEL_GROUPS.values(), "dense products (oneDNN)", "rest", "whole step",
    }  # fmt: skip
    parts = sum(ms for name, ms in groups.items() if name != "whole step")
    assert parts == pytest.approx(groups["whole step"])
    # the layers' kernels are restored after being timed inside training
    import spikesub.kernels.event_matmul as em

    assert em.event_matmul_csr_numba.__module__ == "spikesub.kernels.event_matmul"
    table = (out / "breakdown.md").read_text()
    assert "| whole training step (median of 2) |" in table
    assert "Inside training" in table
    saved = json.loads((out / "config.json").read_text())
    assert saved["config"]["threads"] == 1 and saved["threads_used"] == 1


def test_script_and_bad_options(tmp_path: Path, experiment_script, capsys) -> None:
    from spikesub.scripting import run_command

    script = experiment_script("bench_snn_breakdown")
    argv = ["--synthetic", "--train-steps", "0", "--repeats", "1", "--batch", "2", "--T", "2"]
    assert script.main([*argv, "--out", str(tmp_path / "s")]) == 0
    assert "| sum of the kernels |" in capsys.readouterr().out
    assert run_command(script.main, ["--synthetic", "--repeats", "0"], prog="x") == 2
    assert "repeats must be an integer >= 1" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="data_dir"):
        run_job("bench_snn_breakdown", {"data_dir": str(tmp_path / "none")}, out=tmp_path / "r")
