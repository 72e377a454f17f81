"""Smoke test of experiments/bench_snn_breakdown.py on a tiny batch and synthetic images."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "experiments" / "bench_snn_breakdown.py"
TINY = ["--synthetic", "--train-steps", "1", "--repeats", "2", "--batch", "4", "--T", "3"]


@pytest.fixture(scope="module")
def breakdown():
    spec = importlib.util.spec_from_file_location("bench_snn_breakdown", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_snn_breakdown"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_snn_breakdown", None)


def test_every_kernel_timed_and_the_step_accounted_for(breakdown, tmp_path: Path) -> None:
    result = breakdown.main([*TINY, "--quiet", "--out", str(tmp_path)])
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
    table = (tmp_path / "breakdown.md").read_text()
    assert "| whole training step (median of 2) |" in table
    assert "Inside training" in table
    assert json.loads((tmp_path / "config.json").read_text())["threads"] == 1


def test_bad_options(breakdown, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--repeats"):
        breakdown.main(["--synthetic", "--repeats", "0", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="--data-dir"):
        breakdown.main(["--data-dir", str(tmp_path / "none"), "--out", str(tmp_path)])
