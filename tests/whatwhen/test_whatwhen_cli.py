"""``spikesub whatwhen``: options generated from the configuration, the --quick preset,
--resume, and errors in one line."""

from __future__ import annotations

import argparse

import pytest

from spikesub.cli import main as spikesub_main
from spikesub.runs import read_json, run_config_document, write_json
from spikesub.whatwhen import cli as ww_cli
from spikesub.whatwhen.config import WhatWhenConfig

# a run of a few seconds: 60 neurons, 3 blocks of 4 trials, short delays
SMALL = ["--n-neurons", "60", "--n-blocks", "3", "--trials-per-block", "4",
         "--delays-ms", "80,100,120,140", "--onset-ms", "20", "--tail-ms", "60",
         "--what-start-ms", "20", "--bump-sigma-ms", "10", "--delay-switch-block", "1",
         "--delay-switch-ms", "130", "--probability-switch-block", "2", "--eval-blocks", "1",
         "--recovery-run", "1", "--random-angle-draws", "10"]  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spikesub")
    sub = parser.add_subparsers(dest="command")
    ww_cli.register(sub)
    return parser


def test_cli_registers_whatwhen_with_its_options():
    parser = _parser()
    args = parser.parse_args(["whatwhen", "--quick", "--out", "x", "--seed", "3", "--quiet",
                              "--n-neurons", "200", "--backend", "numpy"])  # fmt: skip
    assert args.command == "whatwhen"
    cfg = ww_cli.config_from_args(args)
    assert cfg.n_neurons == 200 and cfg.seed == 3 and cfg.backend == "numpy"
    assert cfg == WhatWhenConfig.quick(n_neurons=200, seed=3, backend="numpy")
    assert cfg.tf_attention and cfg.tf_when_normalised
    plain = parser.parse_args(["whatwhen", "--no-attention", "--no-when-normalised"])
    assert not ww_cli.config_from_args(plain).tf_attention
    assert not ww_cli.config_from_args(plain).tf_when_normalised
    assert ww_cli.config_from_args(parser.parse_args(["whatwhen"])) == WhatWhenConfig()


def test_every_setting_is_an_option():
    parser = _parser()
    argv = ["whatwhen", "--n-blocks", "8", "--tf-learning-rate", "0.002",
            "--delays-ms", "150,250,350,450", "--tau-adapt-ms", "20,400",
            "--delay-switch-block", "3", "--probability-switch-block", "5",
            "--no-attention", "--ridge", "0.5", "--eval-blocks", "1"]  # fmt: skip
    cfg = ww_cli.config_from_args(parser.parse_args(argv))
    assert cfg.n_blocks == 8 and cfg.tf_learning_rate == 0.002 and cfg.ridge == 0.5
    assert cfg.delays_ms == (150.0, 250.0, 350.0, 450.0) and cfg.tau_adapt_ms == (20.0, 400.0)
    assert (cfg.delay_switch_block, cfg.probability_switch_block) == (3, 5)
    assert not cfg.tf_attention and not cfg.quick_run


def test_help_groups_the_options(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["whatwhen", "--help"])
    text = capsys.readouterr().out
    for title in ("reservoir", "paradigm", "three-factor readout", "FORCE and ridge", "run"):
        assert f"\n{title}" in text, title
    assert "--tf-learning-rate" in text and "--quick" in text and "n-blocks 11" in text


def test_cli_bad_parameter_is_one_line_and_status_2(tmp_path, capsys):
    argv = ["--quick", "--quiet", "--n-neurons", "5", "--out", str(tmp_path / "r")]
    assert ww_cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "n_neurons" in err


def test_resume_keeps_the_saved_settings(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    config = ww_cli.config_from_args(_parser().parse_args(["whatwhen", "--quick", *SMALL]))
    write_json(out / "config.json", run_config_document("whatwhen", config.to_dict()))
    resumed = _parser().parse_args(["whatwhen", "--resume", "--out", str(out)])
    assert ww_cli.config_from_args(resumed) == config
    other = _parser().parse_args(["whatwhen", "--resume", "--out", str(out), "--seed", "8"])
    assert ww_cli.config_from_args(other) == config.replace(seed=8)


def test_spikesub_whatwhen_writes_a_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert spikesub_main(["whatwhen", *SMALL, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "three-factor" in printed and f"run folder: {out}" in printed
    assert read_json(out / "metrics.json")["status"] == "complete"
    assert (out / "outputs.png").exists()
    # a finished run resumes to itself
    assert spikesub_main(["whatwhen", "--resume", "--out", str(out), "--quiet"]) == 0


def test_settings_that_do_not_fit_together_end_in_one_line(tmp_path, capsys):
    argv = ["whatwhen", *SMALL, "--probability-switch-block", "1", "--out", str(tmp_path / "r")]
    assert spikesub_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "delay_switch_block and probability_switch_block must differ" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--delays-ms", "200,x", "needs comma-separated numbers"),
        ("--delays-ms", ",", "needs at least one number"),
        ("--delays-ms", "200,-300,400,500", "delays_ms must be numbers"),
        ("--probabilities", "0.2,0.4,1.5,0.9", "probabilities must be numbers"),
        ("--tau-adapt-ms", "10,nan", "tau_adapt_ms must be numbers"),
        ("--bias-pa", "1e400,2", "bias_pa must be numbers"),
    ],
)
def test_bad_lists_of_numbers_end_in_one_line(option, value, message, tmp_path, capsys):
    argv = ["whatwhen", "--quick", "--quiet", f"{option}={value}", "--out", str(tmp_path / "r")]
    try:
        status = spikesub_main(argv)
    except SystemExit as stop:  # argparse's usage errors
        status = stop.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert message in err.splitlines()[-1] and "Traceback" not in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        # a gate outside [0, 1]: the attention-scaled gate's floor
        (["--tf-attention-floor", "1.5"], "tf_attention_floor must be a finite number in [0, 1]"),
        (["--tf-attention-floor", "-0.2"], "tf_attention_floor must be a finite number in [0, 1]"),
        # a cue set whose lists do not match, or a switch of a cue that is not there
        (["--probabilities", "0.2,0.4,0.6"], "need one entry per cue; got 4 and 3"),
        (["--delay-switch-cue", "7"], "delay_switch_cue must be one of the 4 cues"),
        # a learning rate that makes the rule diverge: the step, the restored weights, the cure
        (
            ["--tf-learning-rate", "1000", "--no-when-normalised"],
            "three-factor readout diverged in trial 0 (block 0) at step",
        ),
    ],
)
def test_bad_input_ends_in_one_line_and_status_2(options, message, tmp_path, capsys):
    out = tmp_path / "r"
    assert spikesub_main(["whatwhen", *SMALL, "--quiet", *options, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert message in err
    if "diverged" in message:
        assert "weights were restored to their values before the trial" in err
        assert "lower tf_learning_rate (now 1000)" in err
        assert read_json(out / "metrics.json")["status"].startswith("diverged")
    else:
        assert not out.exists()
