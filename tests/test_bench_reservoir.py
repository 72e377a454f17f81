"""The reservoir benchmark (job ``bench_reservoir``): its configuration, its bookkeeping
(comparisons, machine limit, resume keys), a tiny run through the registry and the script,
and the machine-limit script, without simulating anything long."""

from __future__ import annotations

import json

import pytest

from spikesub.bench.reservoir import run as bench
from spikesub.bench.reservoir.config import BenchReservoirConfig
from spikesub.jobs import run_job
from spikesub.roofline import MachineLimits, measure_machine, reservoir_bound
from spikesub.scripting import ArgumentParser

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


def test_comparisons_take_the_fastest_brian2_with_the_same_threads():
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


def test_bounds_use_the_limits_of_the_row_thread_count():
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


def _parse(argv):
    from spikesub.bench.reservoir.cli import add_arguments

    parser = ArgumentParser(prog="bench_reservoir.py")
    add_arguments(parser)
    return BenchReservoirConfig.from_args(parser.parse_args(argv))


def test_config_defaults_and_refusals():
    config = BenchReservoirConfig()
    assert config.sizes == (1000, 10000) and config.durations_s == (1.0, 10.0)
    assert config.brian2_target_names == ("cython", "cpp_standalone")
    assert config.brian2 and not config.nest and config.machine_limit
    assert config.threads == 0 and config.thread_count is None and config.repeat == 1
    for bad, name in (
        ({"precisions": "float16"}, "precisions"),
        ({"brian2_targets": "cpp"}, "brian2_targets"),
        ({"backends": "numba,jax"}, "backends"),
        ({"sizes": (5,)}, "sizes"),
        ({"durations_s": (0.0,)}, "durations_s"),
        ({"repeat": 0}, "repeat"),
        ({"threads": -1}, "threads"),
    ):
        with pytest.raises(ValueError, match=name):
            BenchReservoirConfig(**bad)


def test_jobs_and_thread_counts():
    config = _parse(["--sizes", "100,5000", "--threads", "2", "--precisions", "float64,float32"])
    assert config.brian2_target_names == ("cython", "cpp_standalone")  # the default
    assert bench.plan_jobs(config)[:4] == [
        (100, "spikesub-numba", 2),
        (100, "spikesub-numba-f32", 2),
        (100, "brian2-cython", 1),
        (100, "brian2-cpp_standalone", 2),
    ]
    assert bench.expected_threads(100, None) == 1  # automatic: one thread below 2048 neurons
    assert _parse(["--brian2-target", "numpy"]).brian2_targets == "numpy"
    assert not _parse(["--no-brian2", "--no-machine-limit"]).brian2
    assert _parse(["--durations", "0.5,2"]).durations_s == (0.5, 2.0)
    with pytest.raises(ValueError, match="precisions"):
        _parse(["--precisions", "float16"])
    with pytest.raises(SystemExit):
        _parse(["--repeat", "x"])


def test_tiny_run_through_the_registry_and_the_script(tmp_path, experiment_script, capsys):
    settings = {"sizes": (100,), "durations_s": (0.01,), "brian2": False, "threads": 1}
    settings["machine_limit"] = False
    out = run_job("bench_reservoir", settings, out=tmp_path / "run", quiet=True)
    saved = json.loads((out / "config.json").read_text())
    assert saved["job"] == "bench_reservoir"
    assert saved["config"] == BenchReservoirConfig(**settings).to_dict()
    rows = json.loads((out / "metrics.json").read_text())["rows"]
    assert [(r["n_neurons"], r["simulator"], r["threads"]) for r in rows] == [
        (100, "spikesub-numba", 1)
    ]
    assert rows[0]["neuron_updates"] == 100 * 100 and rows[0]["brian2_over_spikesub"] is None
    assert (out / "bench.md").read_text().startswith("| N | T s | simulator |")
    # another job's folder is refused, on resume too
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"job": "simulate", "config": {}}')
    with pytest.raises(ValueError, match="simulate run"):
        run_job("bench_reservoir", settings, out=tmp_path / "other", resume=True, quiet=True)
    # the script: the same options, the table printed, bad values in one line
    script = experiment_script("bench_reservoir")
    argv = ["--sizes", "100", "--durations", "0.01", "--no-brian2", "--threads", "1"]
    argv += ["--no-machine-limit", "--quiet", "--out", str(out), "--resume"]
    capsys.readouterr()
    assert script.main(argv) == 0
    assert capsys.readouterr().out.startswith("| N | T s | simulator |")
    assert json.loads((out / "metrics.json").read_text())["rows"] == rows  # resumed, kept


@pytest.mark.slow
def test_bench_reservoir_script_writes_its_run_folder(tmp_path, experiment_script):
    """experiments/bench_reservoir.py with Brian2 on tiny networks: one row per size, duration,
    simulator and thread count, the comparison columns on the spikesub rows (against the
    fastest Brian2 with the same threads), a Markdown table; --resume keeps rows and adds
    other thread counts."""
    bench = experiment_script("bench_reservoir")
    out = tmp_path / "bench"
    args = ["--sizes", "100,200", "--durations", "0.02", "--out", str(out), "--quiet"]
    args += ["--threads", "1", "--no-machine-limit"]
    assert bench.main([*args, "--brian2-targets", "cython"]) == 0
    rows = json.loads((out / "metrics.json").read_text())["rows"]
    assert [(r["n_neurons"], r["simulator"], r["threads"]) for r in rows] == [
        (100, "spikesub-numba", 1),
        (100, "brian2-cython", 1),
        (200, "spikesub-numba", 1),
        (200, "brian2-cython", 1),
    ]
    for r in rows:
        assert r["duration_s"] == 0.02 and r["wall_s"] > 0 and r["spikes"] > 0
        assert r["rate_hz"] == pytest.approx(r["spikes"] / r["n_neurons"] / 0.02)
        assert r["mean_fan_out"] == pytest.approx(r["n_synapses"] / r["n_neurons"])
        assert r["neuron_updates"] == r["n_neurons"] * 200
        assert r["bound_s"] is None  # --no-machine-limit
    ours, ref = rows[0], rows[1]
    assert ours["brian2_over_spikesub"] == pytest.approx(ref["wall_s"] / ours["wall_s"])
    assert ours["brian2_reference"] == "brian2-cython"
    expected = 100 * (ours["rate_hz"] - ref["rate_hz"]) / ref["rate_hz"]
    assert ours["rate_diff_pct"] == pytest.approx(expected)
    assert ref["brian2_over_spikesub"] is None
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["sizes"] == [100, 200] and config["durations_s"] == [0.02]
    table = (out / "bench.md").read_text().splitlines()
    assert table[0].startswith("| N | T s | simulator |") and len(table) == 2 + len(rows)
    # a second call with --resume keeps the rows and runs nothing new
    assert bench.main([*args, "--resume", "--no-brian2"]) == 0
    assert json.loads((out / "metrics.json").read_text())["rows"] == rows
    # the standalone program and the float32 arithmetic, on two threads, add their rows; the
    # spikesub rows on two threads compare with the standalone row on two threads
    two = ["--sizes", "100", "--durations", "0.02", "--out", str(out), "--quiet", "--resume"]
    two += ["--threads", "2", "--no-machine-limit", "--precisions", "float64,float32"]
    assert bench.main([*two, "--brian2-targets", "cpp_standalone,cython"]) == 0
    rows = json.loads((out / "metrics.json").read_text())["rows"]
    keys = [(r["n_neurons"], r["simulator"], r["threads"]) for r in rows]
    assert keys[:6] == [
        (100, "spikesub-numba", 1),
        (100, "brian2-cython", 1),
        (100, "spikesub-numba", 2),
        (100, "spikesub-numba-f32", 2),
        (100, "brian2-cpp_standalone", 2),
        (200, "spikesub-numba", 1),
    ]
    standalone = rows[4]
    assert standalone["compile_s"] > 0 and standalone["binary_s"] >= standalone["wall_s"] > 0
    for r in rows[2:4]:
        assert r["brian2_reference"] == "brian2-cpp_standalone"
        assert r["brian2_over_spikesub"] == pytest.approx(standalone["wall_s"] / r["wall_s"])
    assert rows[3]["precision"] == "float32"


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
