"""ForceSineConfig: the paper's defaults, the presets, and bad settings named."""

from __future__ import annotations

import argparse

import pytest

from spikesub.force_sine import MATLAB_NEURONS, QUICK, ForceSineConfig


def test_defaults_are_the_full_run_of_the_paper():
    config = ForceSineConfig()
    assert config.n_neurons == 2000
    assert (config.train_start_ms, config.train_stop_ms, config.duration_ms) == (
        5000.0,
        10000.0,
        15000.0,
    )
    assert (config.b_nS, config.v_t_mV, config.balance_rows) == (0.0, -40.0, True)
    assert (config.dt_ms, config.rls_alpha, config.update_every) == (0.04, 0.5, 20)
    assert config.job == "force_sine"


def test_quick_preset_with_overrides():
    config = ForceSineConfig.quick(seed=3, n_neurons=300)
    assert config.n_neurons == 300 and config.seed == 3
    assert config.duration_ms == QUICK["duration_ms"]
    assert config.train_stop_ms == QUICK["train_stop_ms"]
    assert config.b_nS == 0.0  # the paper's neurons


def test_matlab_preset_and_both_presets():
    matlab = ForceSineConfig.matlab()
    assert (matlab.b_nS, matlab.v_t_mV, matlab.balance_rows) == (-2.0, -19.2, False)
    assert matlab.n_neurons == 2000
    both = ForceSineConfig.quick(**{**MATLAB_NEURONS, "v_t_mV": -20.0})
    assert (both.n_neurons, both.b_nS, both.v_t_mV) == (500, -2.0, -20.0)


def test_round_trip_through_a_dict():
    config = ForceSineConfig.quick(seed=4, backend="numpy")
    data = config.to_dict()
    assert "quick" not in data and data["n_neurons"] == 500
    assert ForceSineConfig.from_dict(data) == config
    with pytest.raises(ValueError, match="unknown force_sine setting"):
        ForceSineConfig.from_dict({**data, "quick": True})


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        ({"dt_ms": 0.0}, "dt_ms"),
        ({"dt_ms": -0.04}, "dt_ms"),
        ({"tau_rise_ms": 0.0}, "tau_rise_ms"),
        ({"tau_decay_ms": -1.0}, "tau_decay_ms"),
        ({"update_every": 0}, "update_every"),
        ({"n_neurons": 0}, "n_neurons"),
        ({"frequency_hz": float("nan")}, "frequency_hz"),
        ({"amplitude": 0.0}, "amplitude"),
        ({"train_start_ms": 3000.0, "train_stop_ms": 2000.0}, "train_start_ms"),
        ({"train_stop_ms": 9000.0}, "duration_ms"),
        ({"rls_alpha": 0.0}, "rls_alpha"),
        ({"p_connect": 1.5}, "p_connect"),
        ({"p_connect": 0.0}, "p_connect"),
        ({"gain_static_pA": -1.0}, "gain_static_pA"),
        ({"seed": -1}, "seed"),
        ({"backend": "cuda"}, "backend"),
    ],
)
def test_bad_settings_name_themselves(settings, name):
    with pytest.raises(ValueError, match=name):
        ForceSineConfig.quick(**settings)


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        ({"n_neurons": 2.5}, "n_neurons"),
        ({"balance_rows": 1}, "balance_rows"),
        ({"seed": "0"}, "seed"),
    ],
)
def test_settings_of_the_wrong_type_name_themselves(settings, name):
    with pytest.raises(TypeError, match=name):
        ForceSineConfig(**settings)


def test_auto_backend_runs_the_numba_loop():
    assert ForceSineConfig(backend="auto").loop_backend == "numba"
    assert ForceSineConfig(backend="numpy").loop_backend == "numpy"


def test_every_setting_is_a_command_line_option():
    parser = argparse.ArgumentParser()
    ForceSineConfig.add_arguments(parser)
    args = parser.parse_args(["--b-nS", "-2", "--no-balance-rows", "--rls-alpha", "1"])
    config = ForceSineConfig.from_args(args)
    assert (config.b_nS, config.balance_rows, config.rls_alpha) == (-2.0, False, 1.0)
    options = {a.dest for a in parser._actions}
    assert set(ForceSineConfig().to_dict()) <= options
