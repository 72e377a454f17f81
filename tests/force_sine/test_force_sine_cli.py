"""``spikesub force-sine`` and ``experiments/force_sine.py``: options from the configuration,
the presets, a run with its figure, and one-line errors with exit status 2."""

from __future__ import annotations

import argparse

import pytest

from spikesub.force_sine import ForceSineConfig
from spikesub.force_sine.cli import add_arguments, config_from_args
from spikesub.runs import read_json
from spikesub.scripting import run_command


def _config(options: list[str]) -> ForceSineConfig:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return config_from_args(parser.parse_args(options))


def test_options_keep_their_meaning():
    assert _config([]) == ForceSineConfig()
    assert _config(["--quick", "--seed", "3"]) == ForceSineConfig.quick(seed=3)
    assert _config(["--matlab-neurons"]) == ForceSineConfig.matlab()
    both = _config(["--quick", "--matlab-neurons", "--n-neurons", "200", "--b-nS", "-1"])
    assert both == ForceSineConfig.quick(n_neurons=200, b_nS=-1.0, v_t_mV=-19.2, balance_rows=False)


def test_every_setting_has_its_option(capsys):
    from spikesub.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["force-sine", "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    for option in ("--quick", "--matlab-neurons", "--seed", "--out", "--quiet", "--threads"):
        assert option in text
    for name in ForceSineConfig().to_dict():
        assert "--" + name.replace("_", "-") in text


def test_command_writes_the_run_folder_and_its_figure(tmp_path, capsys, small_options):
    from spikesub.cli import main

    out = tmp_path / "run"
    assert main(["force-sine", *small_options, "--out", str(out)]) == 0
    assert (out / "force_sine.png").stat().st_size > 10_000
    assert read_json(out / "config.json")["config"]["n_neurons"] == 50
    printed = capsys.readouterr().out
    assert "test relative RMSE" in printed and str(out) in printed


def test_script_runs_quietly(tmp_path, capsys, experiment_script, small_options):
    out = tmp_path / "run"
    script = experiment_script("force_sine")
    assert script.main([*small_options, "--quiet", "--out", str(out)]) == 0
    assert (out / "force_sine.png").is_file() and (out / "metrics.json").is_file()
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--dt-ms", "0"], "dt_ms"),
        (["--train-stop-ms", "9000"], "duration_ms"),
        (["--p-connect", "1.5"], "p_connect"),
        (["--backend", "cuda"], "argument --backend: invalid choice: 'cuda'"),
        (["--n-neurons", "ten"], "argument --n-neurons"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(options, named, capsys, tmp_path):
    from spikesub.cli import main

    out = tmp_path / "bad"
    try:
        status = main(["force-sine", "--quick", "--quiet", "--out", str(out), *options])
    except SystemExit as stop:  # a usage error, one line as well
        status = stop.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err and "Traceback" not in err
    assert not out.exists()  # checked before anything is written


def test_script_turns_errors_into_exit_status_2(tmp_path, capsys, experiment_script):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    script = experiment_script("force_sine")
    argv = ["--quick", "--quiet", "--out", str(not_a_folder)]
    assert run_command(script.main, argv, prog="force_sine.py") == 2
    err = capsys.readouterr().err
    assert "force_sine.py: error:" in err and "exists and is a file" in err
