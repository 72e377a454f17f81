"""The what-and-when run: its folder, its determinism, divergence and attention."""

from __future__ import annotations

import numpy as np
import pytest

from spikesub.jobs import run_job
from spikesub.readouts import ThreeFactorReadout
from spikesub.runs import load_npz, read_json
from spikesub.whatwhen.config import WhatWhenConfig
from spikesub.whatwhen.figures import plot
from spikesub.whatwhen.paradigm import WHEN, Trial, trial_targets
from spikesub.whatwhen.run import run
from spikesub.whatwhen.runner import WhatWhenDivergedError


def _metrics(run_dir):
    return read_json(run_dir / "metrics.json")


def test_tiny_run_writes_the_folder(tiny_run, tiny_config):
    out, metrics = tiny_run
    assert metrics["status"] == "complete"
    assert metrics["n_trials_done"] == 12
    for name in ("config.json", "metrics.json", "arrays.npz", "examples.npz", "paradigm.npz",
                 "raster_trial.npz", "raster_trial.json"):  # fmt: skip
        assert (out / name).exists(), name
    assert not (out / "checkpoint.npz").exists()
    config = read_json(out / "config.json")
    assert config["experiment"] == "whatwhen" and config["job"] == "whatwhen"
    assert metrics["config"] == tiny_config().to_dict() == config["config"]
    arrays = load_npz(out / "arrays.npz")
    for m in ("three_factor", "force", "force_reset", "ridge"):
        assert np.isfinite(arrays[f"peak_time_ms__{m}"]).all()
        assert arrays[f"weights__{m}"].shape == (3, 3, 60)
        res = metrics["methods"][m]
        assert [r["kind"] for r in res["recovery"]] == ["delay", "probability"]
        assert len(res["angles"]["per_block_deg"]) == 3
    examples = load_npz(out / "examples.npz")
    assert examples["outputs__ridge"].shape == examples["targets"].shape
    assert metrics["targets"]["random_reference_angle_deg"] > 60


def test_same_seed_same_numbers(tmp_path, tiny_config):
    config = tiny_config(n_blocks=2, probability_switch_block=None)
    a = run(config, tmp_path / "a", progress=False)
    b = run(config, tmp_path / "b", progress=False)
    assert _metrics(a)["methods"] == _metrics(b)["methods"]
    arrays_a, arrays_b = load_npz(a / "arrays.npz"), load_npz(b / "arrays.npz")
    for name, value in arrays_a.items():
        np.testing.assert_array_equal(value, arrays_b[name], err_msg=name)


def test_the_registry_runs_the_job_from_a_dict(tmp_path, tiny_config):
    settings = tiny_config(n_blocks=2, probability_switch_block=None).to_dict()
    run_dir = run_job("whatwhen", settings, out=tmp_path / "r", progress=False)
    assert _metrics(run_dir)["status"] == "complete"
    with pytest.raises(TypeError, match="WhatWhenConfig"):
        run(settings, tmp_path / "dict")


def test_diverging_readout_stops_and_keeps_the_folder(tmp_path, tiny_config):
    out = tmp_path / "run"
    with pytest.raises(WhatWhenDivergedError, match="diverged"):
        run(tiny_config(tf_learning_rate=1e3, tf_when_normalised=False), out, progress=False)
    assert read_json(out / "config.json")["experiment"] == "whatwhen"
    assert _metrics(out)["status"].startswith("diverged")


@pytest.mark.slow
def test_quick_experiment_learns(tmp_path):
    out = run(WhatWhenConfig.quick(), tmp_path / "quick", progress=False)
    metrics = _metrics(out)
    tf = metrics["methods"]["three_factor"]
    force = metrics["methods"]["force"]
    ridge = metrics["methods"]["ridge"]
    # floors with a wide margin under seed 0's values (timing 2.8 %, ridge 1.6 %, r 0.958,
    # slope 1.1, angle 88.6 deg; seed 1: 3.3 %, r 0.930, 88.5 deg)
    assert tf["timing_max_abs_error_pct"] < 10.0
    assert ridge["timing_max_abs_error_pct"] < 10.0
    assert tf["probability"]["correlation"] > 0.8
    assert tf["probability"]["slope"] > 0.5
    assert tf["angles"]["final_deg"] > 70.0
    # the full run's story: after the delay switch the three-factor rule is back in a trial or
    # two where FORCE without a reset takes several (seed 0: 1 against 5; seed 1: 1 against
    # 6); after the probability switch it recovers (16 of 25 trials; seed 1: 12) and FORCE
    # without a reset never does
    delay_tf, prob_tf = (r["trials_to_recover"] for r in tf["recovery"])
    delay_fo, prob_fo = (r["trials_to_recover"] for r in force["recovery"])
    assert delay_tf is not None and delay_tf <= 2 and delay_fo is not None and delay_fo > delay_tf
    assert prob_tf is not None and prob_fo is None and force["recovery"][1]["never"]
    assert len(plot(out)) == 8


# ----------------------------------------------------------------------------------------------
# Attention in a run


def _gates_seen(monkeypatch, config, out):
    """Run ``config`` and return the gates the three-factor readout was trained with."""
    seen = []
    original = ThreeFactorReadout.fit_online

    def recording(self, traces, targets, *, gate=None):
        seen.append(np.array(gate))
        return original(self, traces, targets, gate=gate)

    monkeypatch.setattr(ThreeFactorReadout, "fit_online", recording)
    run_dir = run(config, out, progress=False)
    monkeypatch.undo()
    return seen, _metrics(run_dir)


def test_attention_off_is_the_fixed_gate(monkeypatch, tmp_path, tiny_config):
    cfg = tiny_config(n_blocks=2, probability_switch_block=None, tf_learning_rate=1e-3)
    off = WhatWhenConfig.from_dict({**cfg.to_dict(), "tf_attention": False})
    seen, metrics = _gates_seen(monkeypatch, off, tmp_path / "off")
    arrays = load_npz(tmp_path / "off" / "arrays.npz")
    trials = [
        Trial(i, int(b), int(c), float(d), float(p), int(o), 0)
        for i, (b, c, d, p, o) in enumerate(
            zip(arrays["block"], arrays["cue"], arrays["delay_ms"], arrays["probability"],
                arrays["outcome"], strict=True)
        )
    ]  # fmt: skip
    assert len(seen) == len(trials)
    for g, trial in zip(seen, trials, strict=True):
        np.testing.assert_array_equal(g, trial_targets(trial, off.timing())[1])
    assert metrics["attention"]["on"] is False
    np.testing.assert_array_equal(arrays["attention_gate__three_factor"], 1.0)
    # a gate that never leaves 1 is the same run, number for number
    full = WhatWhenConfig.from_dict(
        {**cfg.to_dict(), "tf_attention": True, "tf_attention_floor": 1.0}
    )
    same = run(full, tmp_path / "full", progress=False)
    assert _metrics(same)["methods"] == metrics["methods"]


def test_attention_scales_the_when_gate_only(monkeypatch, tmp_path, tiny_config):
    cfg = tiny_config(
        n_blocks=2,
        probability_switch_block=None,
        tf_attention=True,
        tf_attention_floor=0.2,
        tf_attention_ref=5.0,
    )
    seen, metrics = _gates_seen(monkeypatch, cfg, tmp_path / "on")
    arrays = load_npz(tmp_path / "on" / "arrays.npz")
    level = arrays["attention_gate__three_factor"]
    assert metrics["attention"]["on"] is True
    assert np.all((level >= 0.2) & (level <= 1.0)) and level.min() < 1.0
    for g, lv in zip(seen, level, strict=True):
        when = g[:, WHEN]
        assert set(np.unique(when)) <= {0.0, np.float32(lv)}
        assert set(np.unique(np.delete(g, WHEN, axis=1))) <= {0.0, 1.0}
    # the first trial of every cue learns with the associability of a silent output, 1
    for c in range(4):
        assert level[np.flatnonzero(arrays["cue"] == c)[0]] == pytest.approx(0.2 + 0.8 / 5.0)
    assoc = arrays["associability__three_factor"]
    assert assoc.shape == (level.size, 4) and np.all(assoc >= 0)
