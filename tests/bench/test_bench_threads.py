"""The thread benchmark (job ``bench_threads``): its configuration, and a run through the
registry and the script with the rounds' processes replaced by recorded rows (a real round
builds the 10k network)."""

from __future__ import annotations

import json

import pytest

from spikesub.bench.threads import run as threads_run
from spikesub.bench.threads.config import BenchThreadsConfig
from spikesub.jobs import run_job


def test_config_defaults_and_refusals():
    config = BenchThreadsConfig()
    assert (config.threads, config.duration_ms, config.rounds, config.busy) == (
        "1,2,auto", 1000.0, 5, 2,
    )  # fmt: skip
    assert config.layer_names == ("default",) and config.seed == 1
    assert BenchThreadsConfig.quick(busy=0) == BenchThreadsConfig(
        duration_ms=20.0, rounds=1, busy=0
    )
    assert threads_run.settings_of(BenchThreadsConfig(threads="0,1,1")) == ["auto", "1"]
    for bad, name in (
        ({"threads": "1,x"}, "threads"),
        ({"threads": "-2"}, "threads"),
        ({"layers": "tbb,gnu"}, "layers"),
        ({"rounds": 0}, "rounds"),
        ({"busy": -1}, "busy"),
        ({"duration_ms": 0.01}, "duration_ms"),
    ):
        with pytest.raises(ValueError, match=name):
            BenchThreadsConfig(**bad)


def _fake_round(config, settings, layer, round_index):
    rows = []
    for load in ("quiet", "busy") if config.busy else ("quiet",):
        for label in settings:
            n = 2 if label == "auto" else int(label)
            rows.append({
                "round": round_index, "load": load, "threads": label, "wall_s": 1.0 / n,
                "cpu_s": 1.0, "spikes": 5, "spike_digest": "abc", "n_threads": n,
                "threaded_fraction": 1.0 if n > 1 else 0.0, "switches": 0, "probes": 0,
                "layer": "default (tbb)", "layer_used": "tbb",
            })  # fmt: skip
    return {"rows": rows, "thread_info": {"threading_layer": "tbb"}}


def test_run_through_the_registry_and_the_script(tmp_path, monkeypatch, experiment_script, capsys):
    monkeypatch.setattr(threads_run, "spawn_round", _fake_round)
    out = run_job("bench_threads", {"rounds": 2, "busy": 1}, out=tmp_path / "run", quiet=True)
    saved = json.loads((out / "config.json").read_text())
    assert saved["job"] == "bench_threads" and saved["config"]["rounds"] == 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["rows"]) == 2 * 2 * 3 and metrics["same_spikes_in_every_run"]
    two = [s for s in metrics["summary"] if s["threads"] == "2" and s["load"] == "quiet"]
    assert two[0]["vs_one_thread"] == pytest.approx(0.5) and two[0]["rounds"] == 2
    assert (out / "bench.md").read_text().startswith("| layer | load | threads |")
    script = experiment_script("bench_threads")
    assert script.main(["--quick", "--busy", "0", "--out", str(tmp_path / "s"), "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("| layer | load | threads |")
    assert (tmp_path / "s" / "bench_threads.png").is_file()
    config = json.loads((tmp_path / "s" / "config.json").read_text())["config"]
    assert (config["duration_ms"], config["rounds"], config["busy"]) == (20.0, 1, 0)
