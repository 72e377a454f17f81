"""The what-and-when paradigm: the trial schedule, switches, targets and gates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikesub.whatwhen.paradigm import Switch, Trial, TrialTiming, make_schedule, trial_targets

DELAYS = (200.0, 300.0, 400.0, 500.0)
PROBS = (0.2, 0.45, 0.7, 0.95)


def test_schedule_is_seeded_and_balanced():
    a = make_schedule(DELAYS, PROBS, n_blocks=5, trials_per_block=8, seed=3)
    b = make_schedule(DELAYS, PROBS, n_blocks=5, trials_per_block=8, seed=3)
    c = make_schedule(DELAYS, PROBS, n_blocks=5, trials_per_block=8, seed=4)
    assert a.trials == b.trials
    assert a.trials != c.trials
    cols = a.arrays()
    assert len(a) == 40 and cols["block"].tolist() == np.repeat(np.arange(5), 8).tolist()
    for block in range(5):
        counts = np.bincount(cols["cue"][cols["block"] == block], minlength=4)
        assert counts.tolist() == [2, 2, 2, 2]
    assert np.unique(cols["noise_seed"]).size == 40
    np.testing.assert_array_equal(cols["delay_ms"], np.asarray(DELAYS)[cols["cue"]])
    np.testing.assert_array_equal(cols["probability"], np.asarray(PROBS)[cols["cue"]])


def test_switches_apply_from_their_block_on():
    switches = [Switch(2, 1, "delay", 450.0), Switch(3, 0, "probability", 0.95)]
    s = make_schedule(DELAYS, PROBS, n_blocks=5, trials_per_block=4, switches=switches, seed=0)
    assert s.delays_ms[:2, 1].tolist() == [300.0, 300.0]
    assert s.delays_ms[2:, 1].tolist() == [450.0] * 3
    assert s.probabilities[:3, 0].tolist() == [0.2] * 3
    assert s.probabilities[3:, 0].tolist() == [0.95] * 2
    for t in s.trials:
        assert t.delay_ms == s.delays_ms[t.block, t.cue]
        assert t.probability == s.probabilities[t.block, t.cue]
    assert [sw.block for sw in s.switches] == [2, 3]


def test_outcome_frequencies_match_probabilities():
    s = make_schedule(DELAYS, PROBS, n_blocks=100, trials_per_block=20, seed=1)
    cols = s.arrays()
    for c, p in enumerate(PROBS):
        outcomes = cols["outcome"][cols["cue"] == c]
        freq = float(np.mean(outcomes == 0))
        sigma = math.sqrt(p * (1 - p) / outcomes.size)
        assert abs(freq - p) < 4 * sigma + 1e-9, (c, freq, p)


def test_targets_and_gates_are_placed():
    timing = TrialTiming(onset_ms=100.0, tail_ms=200.0, bump_sigma_ms=25.0, what_start_ms=50.0)
    trial = Trial(index=0, block=0, cue=2, delay_ms=400.0, probability=0.7, outcome=1,
                  noise_seed=0)  # fmt: skip
    y, g = trial_targets(trial, timing)
    assert y.shape == g.shape == (700, 3)
    assert int(np.argmax(y[:, 0])) == 500 and y[500, 0] == pytest.approx(1.0)
    assert y[475, 0] == pytest.approx(math.exp(-0.5))
    # outcome B: what_B holds 1 over the expectation window [150, 500), what_A stays 0
    assert np.all(y[:, 1] == 0)
    assert np.flatnonzero(y[:, 2]).tolist() == list(range(150, 500))
    assert np.flatnonzero(g[:, 1]).tolist() == list(range(150, 500))
    assert np.array_equal(g[:, 1], g[:, 2])
    # when gate: cue onset to outcome + 3 sigma
    assert np.flatnonzero(g[:, 0]).tolist() == list(range(100, 576))
    assert set(np.unique(g)) <= {0.0, 1.0}


def test_fixed_trial_length():
    timing = TrialTiming(trial_ms=800.0)
    trial = Trial(0, 0, 0, 200.0, 0.5, 0, 0)
    y, _ = trial_targets(trial, timing)
    assert y.shape == (800, 3)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"probabilities": (0.2, 1.2, 0.5, 0.5)}, "probabilities"),
        ({"probabilities": (-0.1, 0.2, 0.5, 0.5)}, "probabilities"),
        ({"delays_ms": (200.0, 0.0, 300.0, 400.0)}, "delays_ms"),
        ({"delays_ms": (200.0, -5.0, 300.0, 400.0)}, "delays_ms"),
        ({"trials_per_block": 6}, "trials_per_block"),
    ],
)
def test_bad_paradigm_parameters_name_themselves(kwargs, name):
    args = {"delays_ms": DELAYS, "probabilities": PROBS, "trials_per_block": 8}
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        make_schedule(args["delays_ms"], args["probabilities"], n_blocks=2,
                      trials_per_block=args["trials_per_block"])  # fmt: skip


def test_delay_longer_than_trial_is_refused():
    timing = TrialTiming(onset_ms=100.0, trial_ms=500.0)
    with pytest.raises(ValueError, match="delays_ms"):
        make_schedule((200.0, 450.0), (0.5, 0.5), n_blocks=1, trials_per_block=2, timing=timing)
    with pytest.raises(ValueError, match="switch delay"):
        make_schedule((200.0, 300.0), (0.5, 0.5), n_blocks=2, trials_per_block=2,
                      timing=timing, switches=[Switch(1, 0, "delay", 600.0)])  # fmt: skip
