"""Every benchmark is a registered job that a sweep file can name."""

from __future__ import annotations

import pytest

from spikesub.jobs import get_job
from spikesub.sweep.spec import SweepFileError, parse_sweep

BENCHMARKS = (
    "bench_reservoir",
    "bench_threads",
    "bench_snn",
    "bench_snn_breakdown",
    "bench_snntorch_swap",
    "crosscheck_brian2",
)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_registered_with_a_config_and_a_run(name):
    job = get_job(name)
    config = job.load("config")()
    assert config.job == name
    assert type(config).from_dict(config.to_dict()) == config
    assert callable(job.load("run"))


def test_a_sweep_file_sets_benchmark_settings_and_is_checked():
    data = {"job": "bench_reservoir", "base": {"brian2": False}, "grid": {"sizes": [[100], [200]]}}
    sweep = parse_sweep(data)
    assert [p["sizes"] for p in sweep.points()] == [[100], [200]]
    with pytest.raises(SweepFileError, match="repeat"):
        parse_sweep({"job": "bench_reservoir", "base": {"repeat": 0}})
