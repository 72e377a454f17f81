"""The reservoir benchmark's bookkeeping (comparisons, machine limit, resume keys) and the
machine-limit script, without simulating anything long."""

from __future__ import annotations

import json

import pytest

from spikesub.roofline import MachineLimits, measure_machine, reservoir_bound

LIMITS = MachineLimits(
    threads=1,
    stream_read_gbs=40.0,
    triad_gbs=32.0,
    cache_read_gbs=100.0,
    updates_per_s_float64=2.0e9,
    updates_per_s_float32=4.0e9,
    events_per_s=2.5e9,
    llc_bytes=32 * 2**20,
)


def _row(simulator, wall_s, threads=1, n=10_000, rate=8.0, **extra):
    return {
        "n_neurons": n,
        "duration_s": 1.0,
        "simulator": simulator,
        "threads": threads,
        "wall_s": wall_s,
        "rate_hz": rate,
        "n_synapses": n * 1000,
        "neuron_updates": n * 10_000,
        "syn_events": 8.0e7,
        **extra,
    }


def test_reservoir_bound_is_the_larger_of_arithmetic_and_memory():
    bound = reservoir_bound(
        LIMITS,
        neuron_updates=1e8,
        synaptic_events=8e7,
        bytes_per_event=8,
        csr_bytes=80e6,
        state_bytes_per_update=40,
    )
    assert bound["update_s"] == pytest.approx(0.05)
    assert bound["delivery_s"] == pytest.approx(0.032)
    assert bound["arithmetic_s"] == pytest.approx(0.082)
    assert bound["csr_memory_s"] == pytest.approx(0.016)  # 80 MB > the 32 MiB cache
    assert bound["state_memory_s"] == pytest.approx(0.04)
    assert bound["bound_s"] == pytest.approx(0.082)
    fast = reservoir_bound(
        LIMITS, neuron_updates=1e8, synaptic_events=8e7, bytes_per_event=8, csr_bytes=80e6,
        state_bytes_per_update=28, precision="float32",
    )  # fmt: skip
    assert fast["update_s"] == pytest.approx(0.025)
    # weights that fit the last-level cache are not streamed from memory
    small = reservoir_bound(
        LIMITS, neuron_updates=1e3, synaptic_events=1e8, bytes_per_event=8, csr_bytes=1e6,
        state_bytes_per_update=40,
    )  # fmt: skip
    assert small["csr_memory_s"] == 0.0


def test_comparisons_take_the_fastest_brian2_with_the_same_threads(experiment_script):
    bench = experiment_script("bench_reservoir")
    rows = [
        _row("spikesub-numba", 0.1, threads=1, rate=8.08),
        _row("spikesub-numba", 0.06, threads=2),
        _row("brian2-cython", 1.0, threads=1),
        _row("brian2-cpp_standalone", 0.4, threads=1, rate=8.0),
        _row("brian2-cpp_standalone", 0.3, threads=2, rate=8.0),
        _row("spikesub-numba", 0.5, threads=4),  # no Brian2 on four threads
    ]
    bench.add_comparisons(rows)
    one, two, *_, four = rows
    assert one["brian2_reference"] == "brian2-cpp_standalone"
    assert one["brian2_over_spikesub"] == pytest.approx(4.0)
    assert one["rate_diff_pct"] == pytest.approx(1.0)
    assert two["brian2_over_spikesub"] == pytest.approx(5.0)
    assert four["brian2_reference"] is None and four["brian2_over_spikesub"] is None
    assert rows[2]["brian2_over_spikesub"] is None


def test_bounds_use_the_limits_of_the_row_thread_count(experiment_script):
    bench = experiment_script("bench_reservoir")
    rows = [
        _row("spikesub-numba", 0.164, threads=1),
        _row("spikesub-numba-f32", 0.1, threads=1, precision="float32"),
        _row("spikesub-numba", 0.1, threads=2),
    ]
    bench.add_bounds(rows, {1: LIMITS.to_dict()})
    assert rows[0]["bound_s"] == pytest.approx(0.082)
    assert rows[0]["bound_fraction"] == pytest.approx(0.5)
    assert rows[1]["bound"]["update_s"] == pytest.approx(0.025)
    assert rows[2]["bound_s"] is None and rows[2]["bound_fraction"] is None
    table = bench.markdown_table(rows)
    assert "| 50% |" in table and "| - | - |" in table


def test_jobs_and_thread_counts(experiment_script):
    bench = experiment_script("bench_reservoir")
    args = bench.parse_args(
        ["--sizes", "100,5000", "--threads", "2", "--precisions", "float64,float32"]
    )
    assert args.brian2_targets == ["cython", "cpp_standalone"]  # the default
    assert bench.plan_jobs(args)[:4] == [
        (100, "spikesub-numba", 2),
        (100, "spikesub-numba-f32", 2),
        (100, "brian2-cython", 1),
        (100, "brian2-cpp_standalone", 2),
    ]
    assert bench.expected_threads(100, None) == 1  # automatic: one thread below 2048 neurons
    assert bench.parse_args(["--brian2-target", "numpy"]).brian2_targets == ["numpy"]
    for bad in (["--precisions", "float16"], ["--brian2-targets", "cpp"]):
        with pytest.raises(SystemExit):
            bench.parse_args(bad)


def test_measure_machine_reports_positive_rates():
    limits = measure_machine(1, seconds=0.001)
    for name, value in limits.to_dict().items():
        if name != "llc_bytes":
            assert value > 0, name
    with pytest.raises(ValueError, match="threads"):
        measure_machine(0)


def test_machine_limit_script_writes_its_run_folder(tmp_path, experiment_script):
    script = experiment_script("machine_limit")
    out = tmp_path / "limits"
    assert script.main(["--threads", "1", "--seconds", "0.001", "--out", str(out), "--quiet"]) == 0
    rows = json.loads((out / "metrics.json").read_text())["rows"]
    assert [r["threads"] for r in rows] == [1] and rows[0]["stream_read_gbs"] > 0
    assert (out / "limits.md").read_text().startswith("| threads |")
    with pytest.raises(SystemExit):
        script.parse_args(["--threads", "0"])
