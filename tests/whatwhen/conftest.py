"""Shared pieces of the what-and-when tests: a tiny configuration and one run of it."""

from __future__ import annotations

import pytest

from spikesub.runs import read_json
from spikesub.whatwhen.config import WhatWhenConfig
from spikesub.whatwhen.run import run

DELAYS = (200.0, 300.0, 400.0, 500.0)
PROBS = (0.2, 0.45, 0.7, 0.95)


def _tiny_config(**overrides) -> WhatWhenConfig:
    """A run of a few seconds: 60 neurons, 3 blocks of 4 trials, short delays."""
    base = dict(
        n_neurons=60,
        delays_ms=(80.0, 100.0, 120.0, 140.0),
        onset_ms=20.0,
        tail_ms=60.0,
        what_start_ms=20.0,
        bump_sigma_ms=10.0,
        n_blocks=3,
        trials_per_block=4,
        delay_switch_block=1,
        delay_switch_ms=130.0,
        probability_switch_block=2,
        force_update_every=4,
        eval_blocks=1,
        recovery_run=1,
        random_angle_draws=10,
    )
    base.update(overrides)
    return WhatWhenConfig(**base)


@pytest.fixture
def tiny_config():
    """``tiny_config(**overrides)``: the tiny run's configuration."""
    return _tiny_config


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The tiny run's folder and its metrics (run once for all tests)."""
    out = run(_tiny_config(), tmp_path_factory.mktemp("whatwhen") / "run", progress=False)
    return out, read_json(out / "metrics.json")
