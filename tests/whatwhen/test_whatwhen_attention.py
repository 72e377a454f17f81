"""Surprise-driven attention of the three-factor "when" output."""

from __future__ import annotations

import numpy as np
import pytest

from spikesub.whatwhen.attention import (
    associability_trace,
    attention_gate,
    trial_surprise,
    update_associability,
)


def test_surprise_is_the_relative_timing_error():
    assert trial_surprise(300.0, 300.0) == 0.0
    assert trial_surprise(300.0, 450.0) == pytest.approx(1.0 / 3.0)
    assert trial_surprise(480.0, 400.0) == pytest.approx(0.2)
    assert trial_surprise(float("nan"), 400.0) == 1.0
    with pytest.raises(ValueError, match="delay_ms"):
        trial_surprise(100.0, 0.0)


def test_associability_rises_after_a_surprise_and_decays_after():
    # good predictions, one switch (surprise 1/3 for two trials), good predictions again
    surprises = np.array([0.02] * 10 + [1 / 3, 1 / 3] + [0.02] * 10)
    alpha = associability_trace(surprises, rate=0.5, initial=1.0)
    np.testing.assert_allclose(alpha[0], 0.51)
    assert np.all(np.diff(alpha[:10]) < 0) and alpha[9] == pytest.approx(0.02, abs=1e-3)
    assert alpha[10] > alpha[9] and alpha[11] > alpha[10]
    assert alpha[11] == pytest.approx(0.75 * (1 / 3) + 0.25 * alpha[9])
    assert np.all(np.diff(alpha[11:]) < 0) and alpha[-1] == pytest.approx(0.02, abs=1e-3)
    gates = [attention_gate(x, 0.1, 0.15) for x in alpha]
    assert gates[11] == 1.0 and gates[9] < 0.25 and gates[-1] < 0.25
    assert update_associability(0.4, 0.0, 1.0) == 0.0


def test_attention_gate_bounds():
    alphas = np.concatenate([np.linspace(0.0, 3.0, 61), [1e9]])
    for floor in (0.0, 0.1, 0.5, 1.0):
        g = np.array([attention_gate(x, floor, 0.2) for x in alphas])
        assert np.all((g >= floor) & (g <= 1.0))
        assert np.all(np.diff(g) >= 0)
        assert g[0] == floor and g[-1] == 1.0
    assert attention_gate(0.1, 0.2, 0.2) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="floor"):
        attention_gate(0.1, -0.1, 0.2)
    with pytest.raises(ValueError, match="ref"):
        attention_gate(0.1, 0.1, 0.0)
    with pytest.raises(ValueError, match="rate"):
        update_associability(0.1, 0.2, 0.0)
