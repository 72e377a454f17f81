"""Smoke tests of the SNN training benchmark (job ``bench_snn``, experiments/bench_snn.py) on
tiny sizes and synthetic data."""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("snntorch")

TINY = [
    "--synthetic",
    "--hidden",
    "24,16",
    "--T",
    "4",
    "--batch",
    "8",
    "--steps",
    "3",
    "--warmup",
    "1",
    "--ob-n",
    "24",
    "--ob-steps",
    "6",
    "--ob-batch",
    "3",
    "--ob-repeats",
    "2",
    "--ob-warmup",
    "1",
    "--quiet",
]
TWO = ["--frameworks", "snntorch,spikesub"]


@pytest.fixture(scope="module")
def bench():
    """The benchmark's functions, and ``main(argv)``: the script's options -> its metrics."""
    from spikesub.bench.snn import cli, run, workloads
    from spikesub.bench.snn.config import BenchSnnConfig
    from spikesub.scripting import ArgumentParser

    def main(argv):
        parser = ArgumentParser(prog="bench_snn.py")
        cli.add_arguments(parser)
        args = parser.parse_args(argv)
        out = run.run(BenchSnnConfig.from_args(args), args.out, quiet=args.quiet)
        return json.loads((out / "metrics.json").read_text())

    public = {**vars(workloads), **vars(run)}
    public = {k: v for k, v in public.items() if not k.startswith("__")}
    return types.SimpleNamespace(**{**public, "main": main})


def _check_run_folder(out: Path, metrics: dict, frameworks=("snntorch", "spikesub")) -> None:
    saved = json.loads((out / "config.json").read_text())
    config = saved["config"]
    assert config["hidden"] == [24, 16]
    assert config["synthetic"] is True
    assert set(saved["versions"]) == {"torch", *frameworks}
    assert "--hidden 24,16 --synthetic" in saved["command"]
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    table = (out / "bench.md").read_text()
    assert "| snnTorch / spikesub | SpikingJelly / spikesub |" in table
    for framework in frameworks:
        assert table.count(f"| {framework} |") == 2
    assert "MLP 784-24-16-10, T=4, B=8" in table
    assert "Linear+LIF n=24, T=6, B=3" in table


def test_in_process_run_matches_snntorch_losses(bench, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    metrics = bench.main([*TINY, *TWO, "--in-process", "--out", str(out)])
    rows = metrics["rows"]
    assert [(r["bench"], r["framework"]) for r in rows] == [
        ("mlp", "snntorch"),
        ("mlp", "spikesub"),
        ("ob", "snntorch"),
        ("ob", "spikesub"),
    ]
    for row in rows:
        n_timed = 3 if row["bench"] == "mlp" else 2
        assert len(row["times_s"]) == n_timed
        assert row["step_ms"] == pytest.approx(1e3 * float(np.median(row["times_s"])))
        assert row["samples_per_s"] == pytest.approx(row["batch"] / (row["step_ms"] / 1e3))
        assert row["peak_rss_mib"] > 0
        assert all(np.isfinite(row["losses"]))
    mlp_ref, mlp_ours = rows[0]["losses"], rows[1]["losses"]
    assert len(mlp_ref) == len(mlp_ours) == 4
    # same weights, same batches: the first loss (before any update) agrees to float32 rounding
    assert mlp_ours[0] == pytest.approx(mlp_ref[0], rel=1e-5)
    # ob: the loss is a spike count; both frameworks see identical input and weights
    assert rows[2]["losses"] == rows[3]["losses"]
    assert rows[2]["losses"][0] > 0
    comparisons = {c["bench"]: c for c in metrics["comparisons"]}
    assert set(comparisons) == {"mlp", "ob"}
    assert {c["reference"] for c in metrics["comparisons"]} == {"snntorch"}
    for c in comparisons.values():
        assert c["speedup"] == pytest.approx(
            rows[0 if c["bench"] == "mlp" else 2]["step_ms"]
            / rows[1 if c["bench"] == "mlp" else 3]["step_ms"]
        )
    # a few SGD steps of a tiny net: the two frameworks stay within float32 rounding
    assert comparisons["mlp"]["loss_max_rel_diff"] < 1e-4
    assert comparisons["mlp"]["loss_steps_within_1e-3"] == 4
    assert comparisons["ob"]["loss_max_abs_diff"] == 0
    _check_run_folder(out, metrics)


def test_compare_reports_divergence(bench) -> None:
    results = {
        "snntorch": {"losses": [2.0, 1.5, 1.0], "step_ms": 30.0, "peak_rss_mib": 400.0},
        "spikesub": {"losses": [2.0, 1.5, 1.1], "step_ms": 10.0, "peak_rss_mib": 200.0},
    }
    c = bench.compare(results, "mlp")
    assert c["reference"] == "snntorch"
    assert c["loss_mean_last10_snntorch"] == pytest.approx(1.5)
    assert c["speedup"] == pytest.approx(3.0)
    assert c["memory_ratio"] == pytest.approx(2.0)
    assert c["loss_max_abs_diff"] == pytest.approx(0.1)
    assert c["loss_steps_within_1e-3"] == 2
    assert bench.compare({"spikesub": results["spikesub"]}, "mlp") == {}
    assert bench.compare(results, "mlp", "spikingjelly") == {}
    results["spikingjelly"] = {"losses": [2.0, 1.0, 1.0], "step_ms": 20.0, "peak_rss_mib": 1.0}
    sj = bench.compare(results, "mlp", "spikingjelly")
    assert sj["reference"] == "spikingjelly"
    assert sj["speedup"] == pytest.approx(2.0)
    assert sj["loss_steps_within_1e-3"] == 1
    assert "loss_mean_last10_spikingjelly" in sj


def test_synthetic_data_is_seeded_and_labelled(bench) -> None:
    x1, y1 = bench.synthetic_mnist(50, seed=3)
    x2, y2 = bench.synthetic_mnist(50, seed=3)
    assert x1.shape == (50, 28, 28) and x1.dtype == np.uint8
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert set(np.unique(y1)) <= set(range(10))


def test_config_defaults_and_refusals() -> None:
    from spikesub.bench.snn.config import BenchSnnConfig

    config = BenchSnnConfig()
    assert config.bench_names == ("mlp", "ob")
    assert config.framework_names == ("snntorch", "spikingjelly", "spikesub")
    assert (config.steps, config.batch, config.T, config.hidden) == (50, 64, 20, (800, 800))
    assert (config.ob_n, config.ob_steps, config.ob_batch) == (4096, 500, 16)
    assert config.threads == 0 and config.rounds == 1 and config.omp_passive == "spikesub"
    for bad, name in (
        ({"bench": "cnn"}, "bench"),
        ({"frameworks": "norse"}, "frameworks"),
        ({"steps": 0}, "steps"),
        ({"rounds": 0}, "rounds"),
        ({"ob_warmup": -1}, "ob_warmup"),
        ({"dtype": "float16"}, "dtype"),
    ):
        with pytest.raises(ValueError, match=name):
            BenchSnnConfig(**bad)


def test_bad_options_exit_with_message(bench, tmp_path: Path, experiment_script, capsys) -> None:
    with pytest.raises(ValueError, match="bench must be from mlp, ob"):
        bench.main(["--bench", "cnn", "--out", str(tmp_path)])
    with pytest.raises(FileNotFoundError, match="data_dir"):
        bench.main(["--bench", "mlp", "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path)])
    # the script: one line, exit status 2
    from spikesub.scripting import run_command

    script = experiment_script("bench_snn")
    assert run_command(script.main, ["--steps", "0"], prog="bench_snn.py") == 2
    assert "steps must be an integer >= 1" in capsys.readouterr().err


def test_registry_and_script_run_the_job(tmp_path: Path, experiment_script, capsys) -> None:
    from spikesub.jobs import run_job

    ob = {"ob_n": 24, "ob_steps": 6, "ob_batch": 3, "ob_repeats": 2, "ob_warmup": 1}
    settings = {"bench": "ob", "frameworks": "spikesub", "in_process": True, **ob}
    out = run_job("bench_snn", settings, out=tmp_path / "run", quiet=True)
    (row,) = json.loads((out / "metrics.json").read_text())["rows"]
    assert (row["bench"], row["framework"], len(row["times_s"])) == ("ob", "spikesub", 2)
    script = experiment_script("bench_snn")
    argv = ["--bench", "ob", "--frameworks", "spikesub", "--in-process", "--ob-n", "24"]
    argv += [
        "--ob-steps",
        "6",
        "--ob-batch",
        "3",
        "--ob-repeats",
        "1",
        "--out",
        str(tmp_path / "s"),
    ]
    assert script.main(argv) == 0
    assert "| Linear+LIF n=24, T=6, B=3 | spikesub |" in capsys.readouterr().out


def test_bad_options_exit_with_message_for_missing_frameworks(bench, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "spikingjelly" else real(name)
    )
    with pytest.raises(ValueError, match="spikingjelly is not installed.*--frameworks"):
        bench.main(["--synthetic", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="frameworks must be from"):
        bench.main(["--synthetic", "--frameworks", "norse", "--out", str(tmp_path)])


def test_child_env_makes_only_the_named_processes_passive(bench, monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert bench.child_env("spikesub", "spikesub")["OMP_WAIT_POLICY"] == "PASSIVE"
    assert "OMP_WAIT_POLICY" not in bench.child_env("snntorch", "spikesub")
    assert bench.child_env("spikingjelly", "all")["OMP_WAIT_POLICY"] == "PASSIVE"
    assert "OMP_WAIT_POLICY" not in bench.child_env("spikesub", "none")
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # a user's own choice is kept
    assert bench.child_env("spikesub", "spikesub")["OMP_WAIT_POLICY"] == "ACTIVE"


@pytest.mark.slow
def test_subprocess_run_writes_run_folder(bench, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    out = tmp_path / "bench"
    metrics = bench.main([*TINY, *TWO, "--out", str(out)])
    assert len(metrics["rows"]) == 4
    # each child reports its own peak memory
    assert all(r["peak_rss_mib"] >= r["base_rss_mib"] > 0 for r in metrics["rows"])
    assert {r["framework"]: r["omp_wait_policy"] for r in metrics["rows"]} == {
        "snntorch": "",
        "spikesub": "PASSIVE",
    }
    _check_run_folder(out, metrics)


def test_rounds_take_turns_and_pool_the_timed_steps(bench, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    metrics = bench.main(
        [*TINY, *TWO, "--bench", "ob", "--rounds", "2", "--in-process", "--out", str(out)]
    )
    ref, ours = metrics["rows"]
    for row in (ref, ours):
        assert len(row["round_step_ms"]) == 2
        assert len(row["times_s"]) == 4  # two timed runs per round, pooled
        assert row["step_ms"] == pytest.approx(1e3 * float(np.median(row["times_s"])))
    (c,) = metrics["comparisons"]
    assert c["speedup_rounds"] == pytest.approx(
        [a / b for a, b in zip(ref["round_step_ms"], ours["round_step_ms"], strict=True)]
    )
    assert "per round (frameworks taking turns)" in (out / "bench.md").read_text()
    with pytest.raises(ValueError, match="rounds"):
        bench.main(["--synthetic", "--rounds", "0", "--out", str(tmp_path)])


def test_merge_rounds_keeps_first_losses_and_largest_memory(bench) -> None:
    rounds = [
        {"times_s": [0.01, 0.03], "step_ms": 20.0, "batch": 4, "peak_rss_mib": 100.0,
         "losses": [1.0]},
        {"times_s": [0.02], "step_ms": 20.0, "batch": 4, "peak_rss_mib": 120.0,
         "losses": [1.0]},
    ]  # fmt: skip
    merged = bench.merge_rounds(rounds)
    assert merged["times_s"] == [0.01, 0.03, 0.02]
    assert merged["step_ms"] == pytest.approx(20.0)
    assert merged["step_ms_min"] == pytest.approx(10.0)
    assert merged["samples_per_s"] == pytest.approx(200.0)
    assert merged["peak_rss_mib"] == 120.0
    assert merged["round_step_ms"] == [20.0, 20.0]


def test_quick_run_with_spikingjelly(bench, tmp_path: Path) -> None:
    """All three frameworks in the quick mode: rows in turn order, both ratios in the table,
    SpikingJelly's loss curve compared with spikesub's."""
    pytest.importorskip("spikingjelly", reason="SpikingJelly is in the bench extra")
    out = tmp_path / "bench"
    metrics = bench.main([*TINY, "--in-process", "--out", str(out)])
    rows = metrics["rows"]
    assert [(r["bench"], r["framework"]) for r in rows] == [
        (bench, framework)
        for bench in ("mlp", "ob")
        for framework in ("snntorch", "spikingjelly", "spikesub")
    ]
    for row in rows:
        assert all(np.isfinite(row["losses"]))
        assert row["step_ms"] > 0
    by = {(r["bench"], r["framework"]): r for r in rows}
    # before any update the MLP's loss agrees where the dynamics agree: no hidden neuron of
    # this tiny net fires twice within T = 4 steps of the first batch
    first = [by["mlp", f]["losses"][0] for f in ("snntorch", "spikingjelly", "spikesub")]
    assert first[1] == pytest.approx(first[0], rel=1e-4)
    assert first[2] == pytest.approx(first[0], rel=1e-5)
    pairs = {(c["bench"], c["reference"]) for c in metrics["comparisons"]}
    assert pairs == {(b, r) for b in ("mlp", "ob") for r in ("snntorch", "spikingjelly")}
    table = (out / "bench.md").read_text()
    assert "SpikingJelly and spikesub loss curves" in table
    _check_run_folder(out, metrics, ("snntorch", "spikingjelly", "spikesub"))
