"""spikesub.continual.config: the energy-threshold option that scripts parse."""

from __future__ import annotations

import argparse

import pytest

from spikesub.continual.config import parse_energy_thresholds


def test_energy_thresholds_parse_one_or_one_per_layer():
    assert parse_energy_thresholds("0.97") == 0.97
    assert parse_energy_thresholds("0.97,0.99, 0.9") == [0.97, 0.99, 0.9]
    for bad in ("1.5", "abc", "", "0.9,0"):
        with pytest.raises(argparse.ArgumentTypeError, match="energy threshold"):
            parse_energy_thresholds(bad)
