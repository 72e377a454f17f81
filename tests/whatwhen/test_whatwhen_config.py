"""The what-and-when configuration: its checks, its presets and config.json."""

from __future__ import annotations

import dataclasses

import pytest

from spikesub.runs import config_fingerprint, read_json, write_json
from spikesub.whatwhen.config import QUICK_SETTINGS, WhatWhenConfig

# The settings of config.json files written before the configuration was typed: every one
# of them must still load.
SAVED_FIELDS = (
    "seed backend n_neurons excitatory_fraction connection_p w_exc_pa w_inh_pa tau_syn_ms "
    "tau_adapt_ms adapt_jump_pa bias_pa noise_std_pa cue_fraction cue_drive_pa sim_dt_ms "
    "trace_tau_ms delays_ms probabilities n_blocks trials_per_block onset_ms tail_ms trial_ms "
    "bump_sigma_ms what_start_ms gate_tail_sigmas delay_switch_block delay_switch_cue "
    "delay_switch_ms probability_switch_block probability_switch_cue probability_switch_value "
    "tf_learning_rate tf_consolidation_rate tf_consolidate_every tf_when_normalised tf_when_rate "
    "tf_when_highpass_ms tf_tau_eligibility_ms "
    "tf_attention tf_attention_rate tf_attention_floor tf_attention_ref force_alpha "
    "force_update_every ridge timing_tolerance probability_tolerance recovery_run eval_blocks "
    "random_angle_draws quick_run"
).split()


def test_the_settings_keep_their_names_and_order():
    assert [f.name for f in dataclasses.fields(WhatWhenConfig)] == SAVED_FIELDS


def test_the_fingerprints_of_saved_runs_are_unchanged():
    # the fingerprints of the default and quick runs' config.json (since the normalised "when"
    # step became the default): folders written with these settings still resume
    assert config_fingerprint("whatwhen", WhatWhenConfig().to_dict()) == "785651ed400cfbe4"
    assert config_fingerprint("whatwhen", WhatWhenConfig.quick().to_dict()) == "46c2689ac8c5489d"
    # quick runs of the 10-block preset keep theirs: they resume from their own config.json
    quick_10 = WhatWhenConfig.quick(n_blocks=10).to_dict()
    assert config_fingerprint("whatwhen", quick_10) == "5dcfbb46f12320a3"


def test_a_saved_config_loads_with_tuples():
    saved = {**WhatWhenConfig.quick(seed=4).to_dict(), "tau_adapt_ms": [10, 500]}
    cfg = WhatWhenConfig.from_dict(saved)
    assert cfg.tau_adapt_ms == (10.0, 500.0) and isinstance(cfg.delays_ms, tuple)
    assert cfg.to_dict()["delays_ms"] == [200.0, 300.0, 400.0, 500.0]


def test_delay_longer_than_a_fixed_trial_is_refused():
    with pytest.raises(ValueError, match="delays_ms"):
        WhatWhenConfig(trial_ms=400.0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"probabilities": (0.2, 0.45, 1.5, 0.95)}, "probabilities"),
        ({"delays_ms": (200.0, 300.0, 0.0, 500.0)}, "delays_ms"),
        ({"delays_ms": (200.0, 300.0)}, "delays_ms and probabilities"),
        ({"probability_switch_value": 1.5}, "probability_switch_value"),
        ({"n_neurons": 5}, "n_neurons"),
        ({"tf_learning_rate": 0.0}, "tf_learning_rate"),
        ({"force_update_every": 0}, "force_update_every"),
        ({"delay_switch_block": 20}, "delay_switch_block must be in"),
        ({"delay_switch_cue": 4}, "delay_switch_cue must be one of the 4 cues"),
        (
            {"probability_switch_cue": 3, "delays_ms": (200.0, 300.0), "probabilities": (0.2, 0.5)},
            "probability_switch_cue",
        ),
        ({"delay_switch_block": 8}, "delay_switch_block and probability_switch_block"),
        ({"tf_attention_rate": 0.0}, "tf_attention_rate"),
        ({"tf_attention_floor": 1.5}, "tf_attention_floor"),
        ({"tf_attention_ref": -1.0}, "tf_attention_ref"),
        ({"eval_blocks": 15}, "eval_blocks"),
        ({"trials_per_block": 6}, "trials_per_block"),
        ({"tau_adapt_ms": (10.0, 500.0, 900.0)}, "tau_adapt_ms"),
        ({"bias_pa": (250.0, 150.0)}, "bias_pa"),
        ({"cue_fraction": 0.0005}, "cue_fraction"),
        ({"backend": "tpu"}, "backend"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_config_names_the_setting(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        WhatWhenConfig(**kwargs)


def test_config_round_trips_through_json(tmp_path):
    cfg = WhatWhenConfig.quick(seed=5)
    write_json(tmp_path / "c.json", cfg.to_dict())
    assert WhatWhenConfig.from_dict(read_json(tmp_path / "c.json")) == cfg
    with pytest.raises(ValueError, match="unknown"):
        WhatWhenConfig.from_dict({"nope": 1})


def test_quick_is_the_preset_with_overrides():
    cfg = WhatWhenConfig.quick(n_neurons=200)
    assert cfg.quick_run and cfg.n_neurons == 200
    assert all(getattr(cfg, k) == v for k, v in QUICK_SETTINGS.items() if k != "n_neurons")
    assert cfg.n_blocks < WhatWhenConfig().n_blocks


def test_switches_and_timing_follow_the_settings():
    cfg = WhatWhenConfig(probability_switch_block=None, delay_switch_ms=420.0)
    assert [(s.kind, s.block, s.value) for s in cfg.switches()] == [("delay", 4, 420.0)]
    assert cfg.timing().dt_ms == 1.0 and cfg.timing().onset_ms == cfg.onset_ms
    assert cfg.reservoir_params().n_cues == len(cfg.delays_ms)
