"""``spikesub rc``: the configuration, the searched settings, the run folder, the figures, the
command and the script, and one-line errors with exit status 2."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikesub.rc import run as rc_run
from spikesub.rc.config import RcConfig
from spikesub.rc.reservoirs import SPACES, check_fixed, draw_setting, model_states
from spikesub.rc.run import split_series
from spikesub.runs import load_npz, read_json


def test_the_run_folder_holds_every_task_and_model(tiny_run):
    metrics = read_json(tiny_run / "metrics.json")
    assert set(metrics["tasks"]) == {"mc", "narma10", "mg1", "mg84"}
    assert metrics["seeds"] == [0, 1] and metrics["search"]["budget"] == 2
    arrays = load_npz(tiny_run / "rc.npz")
    for task, by_model in metrics["tasks"].items():
        assert set(by_model) == {"izhikevich", "lif", "esn"}
        for model, found in by_model.items():
            assert set(found["test_by_seed"]) == {"0", "1"}
            assert len(found["trials"]) == 2 and "ridge" in found["setting"]
            assert math.isfinite(found["test_mean"]) and found["test_std"] >= 0.0
            if task == "mc":
                curve = arrays[f"mc__{model}__capacity"]
                assert curve.shape == (2, 10) and 0.0 <= curve.min() and curve.max() <= 1.0
                assert found["test_mean"] == pytest.approx(curve.sum(axis=1).mean())
            else:
                assert arrays[f"{task}__{model}__test_prediction"].shape == (2, 60)
                assert 0.0 < found["test_mean"] < 5.0
    assert arrays["narma10__target"].shape == (60,)
    assert metrics["tasks"]["mc"]["esn"]["test_mean"] > 1.0  # an ESN remembers a few inputs
    table = (tiny_run / "results.md").read_text()
    assert "| narma10 NRMSE (test) |" in table and "seeds 0, 1" in table
    for name in ("rc_memory.png", "rc_predictions.png"):
        assert (tiny_run / name).stat().st_size > 10_000


def test_the_search_draws_the_same_settings_and_keeps_fixed_ones():
    a = draw_setting("lif", np.random.default_rng(3))
    assert a == draw_setting("lif", np.random.default_rng(3))
    b = draw_setting("lif", np.random.default_rng(3), {"input_scaling": 2.0})
    assert b["input_scaling"] == 2.0 and b["spectral_radius"] == a["spectral_radius"]
    for model, space in SPACES.items():
        setting = draw_setting(model, np.random.default_rng(0))
        for param in space:
            if param.choices is None:
                assert param.low <= setting[param.name] <= param.high
    fixed = check_fixed({"spectral_radius": 0.5, "esn.leak_rate": 0.3}, ("lif", "esn"))
    assert fixed == {
        "lif": {"spectral_radius": 0.5},
        "esn": {"spectral_radius": 0.5, "leak_rate": 0.3},
    }


@pytest.mark.parametrize("model", ["izhikevich", "lif", "esn"])
def test_every_model_gives_one_state_row_per_sample(model):
    setting = draw_setting(model, np.random.default_rng(1))
    states = model_states(model, setting, np.linspace(-1, 1, 25), n_neurons=20, seed=4)
    width = 20 if model == "esn" else 60  # three trace time constants
    assert states.shape == (25, width) and np.all(np.isfinite(states))


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (
            {"tasks": "mc,narma"},
            "tasks must be from mc, narma10, mg1, mg84; unknown name(s) 'narma'",
        ),
        ({"models": "esn,gru"}, "models must be from izhikevich, lif, esn; unknown name(s) 'gru'"),
        ({"models": " , "}, "models must name at least one"),
        ({"fixed": {"spectral_radius": -1.0}}, "spectral_radius must be a finite number > 0"),
        ({"fixed": {"esn.spectral_radius": float("inf")}}, "esn.spectral_radius must be a finite"),
        ({"fixed": {"input_scaling": 0.0}}, "input_scaling must be a finite number > 0"),
        ({"fixed": {"lif.gain": 1.0}}, "lif has no setting 'gain'"),
        ({"fixed": {"leak_rate": 2.0}}, "esn.leak_rate must be in"),
        ({"mc_max_delay": 50, "washout": 30}, "mc_max_delay (50) must be at most the washout"),
        ({"n_train": 3}, "n_train must be"),
        ({"seeds": (1, 1)}, "seeds must be distinct"),
    ],
)
def test_bad_settings_name_themselves(settings, named, tiny):
    with pytest.raises((ValueError, TypeError)) as caught:
        RcConfig(**{**tiny, **settings})
    assert named in str(caught.value)


def test_a_series_too_short_for_its_splits_is_refused():
    assert split_series(100, washout=10, n_train=50, n_valid=20, n_test=20)["test"] == slice(
        80, 100
    )
    with pytest.raises(ValueError, match="too short for its washout and splits"):
        split_series(99, washout=10, n_train=50, n_valid=20, n_test=20)


def test_without_reservoirpy_the_esn_column_is_skipped_in_one_line(
    tmp_path, capsys, monkeypatch, tiny
):
    monkeypatch.setattr(rc_run, "esn_available", lambda: False)
    small = {**tiny, "tasks": "narma10", "models": "lif,esn", "budget": 1, "seeds": (0,)}
    run_dir = rc_run.run(RcConfig(**small), tmp_path / "run", progress=False)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "esn column is skipped" in err[0] and "ReservoirPy" in err[0]
    metrics = read_json(run_dir / "metrics.json")
    assert set(metrics["tasks"]["narma10"]) == {"lif"} and "esn" in metrics["skipped"]


def test_command_prints_the_table(tmp_path, capsys, tiny_options):
    from spikesub.cli import main

    out = tmp_path / "run"
    options = [*tiny_options, "--tasks", "mg1", "--models", "lif", "--budget", "1"]
    assert main(["rc", *options, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| mg1 NRMSE (test) |" in printed and str(out) in printed
    assert read_json(out / "config.json")["config"]["n_neurons"] == 30


def test_script_runs_quietly(tmp_path, capsys, experiment_script, tiny_options):
    script = experiment_script("bench_rc")
    options = [*tiny_options, "--tasks", "mc", "--models", "izhikevich", "--budget", "1"]
    assert script.main([*options, "--quiet", "--out", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "rc_memory.png").is_file()
    assert capsys.readouterr().out == ""


def test_quick_preset():
    from spikesub.rc.cli import add_arguments, config_from_args
    from spikesub.scripting import ArgumentParser

    parser = ArgumentParser()
    add_arguments(parser)
    assert config_from_args(parser.parse_args(["--quick", "--budget", "5"])) == RcConfig.quick(
        budget=5
    )


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--tasks", "mc,foo"], "tasks must be from mc, narma10, mg1, mg84; unknown name(s) 'foo'"),
        (["--models", "bar"], "models must be from izhikevich, lif, esn; unknown name(s) 'bar'"),
        (["--option", "spectral_radius=-1"], "spectral_radius must be a finite number > 0"),
        (["--option", "input_scaling=NaN"], "input_scaling"),
        (["--option", "lif.input_scaling=0"], "lif.input_scaling must be a finite number > 0"),
        (["--mc-max-delay", "500"], "mc_max_delay (500) must be at most the washout"),
        (["--n-valid", "1"], "n_valid must be"),
        (["--budget", "0"], "budget must be"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(options, named, capsys, tmp_path, tiny_options):
    from spikesub.cli import main

    out = tmp_path / "bad"
    try:
        status = main(["rc", *tiny_options, "--quiet", "--out", str(out), *options])
    except SystemExit as stop:  # a usage error, one line as well
        status = stop.code
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1
    assert err[0].startswith("spikesub rc: error:") and named in err[0]
    assert not out.exists()


def test_resume_keeps_finished_pairs_and_ends_as_an_uninterrupted_run(tiny, tmp_path, monkeypatch):
    config = RcConfig(**{**tiny, "tasks": "mc,narma10", "models": "lif,esn"})
    whole = rc_run.run(config, tmp_path / "whole", progress=False)
    calls = []
    real = rc_run.evaluate

    def interrupted_in_the_third_pair(cfg, model, setting, data, seed):
        calls.append((data.group, model))
        if len(set(calls)) == 3:
            raise KeyboardInterrupt
        return real(cfg, model, setting, data, seed)

    monkeypatch.setattr(rc_run, "evaluate", interrupted_in_the_third_pair)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        rc_run.run(config, out, progress=False)
    assert sorted(p.name for p in (out / "parts").glob("*.json")) == [
        "mc__esn.json",
        "mc__lif.json",
    ]
    monkeypatch.setattr(rc_run, "evaluate", real)
    seen = []
    monkeypatch.setattr(rc_run, "evaluate", lambda *a: seen.append((a[3].group, a[1])) or real(*a))
    rc_run.run(config, out, progress=False, resume=True)
    assert {name for name, _ in seen} == {"narma10"}  # the mc pairs were read back
    resumed, fresh = read_json(out / "metrics.json"), read_json(whole / "metrics.json")
    assert resumed["tasks"] == fresh["tasks"]
    a, b = load_npz(out / "rc.npz"), load_npz(whole / "rc.npz")
    assert set(a) == set(b)
    for key in b:
        np.testing.assert_array_equal(a[key], b[key])
