"""PlasticNetwork and its rules: validation, reproducibility, learning where it should."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikesub.models.errors import NonFiniteStateError
from spikesub.models.network.plasticity import STDP, PlasticNetwork, RewardSTDP


def _small(backend="numba", rule=None, seed=3):
    return PlasticNetwork.izhikevich_2007(
        40, 10, synapses_per_neuron=8, rule=rule, seed=seed, backend=backend
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        (dict(a_plus=-0.1), ValueError, "a_plus"),
        (dict(a_minus="x"), TypeError, "a_minus"),
        (dict(tau_plus_ms=0.0), ValueError, "tau_plus_ms"),
        (dict(tau_minus_ms=math.inf), ValueError, "tau_minus_ms"),
        (dict(w_min=1.0, w_max=1.0), ValueError, "w_max"),
        (dict(bounds="soft"), ValueError, "bounds"),
        (dict(trace=1), TypeError, "trace"),
        (dict(same_step="both"), ValueError, "same_step"),
    ],
)
def test_stdp_refuses_bad_parameters(kwargs, error, name):
    with pytest.raises(error, match=name):
        STDP(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        (dict(stdp="STDP"), TypeError, "stdp"),
        (dict(tau_e_ms=-1.0), ValueError, "tau_e_ms"),
        (dict(tau_dopamine_ms=0), ValueError, "tau_dopamine_ms"),
        (dict(lr=-0.1), ValueError, "lr"),
        (dict(tonic_dopamine=math.nan), ValueError, "tonic_dopamine"),
        (dict(update_every_ms=0.0), ValueError, "update_every_ms"),
    ],
)
def test_reward_stdp_refuses_bad_parameters(kwargs, error, name):
    with pytest.raises(error, match=name):
        RewardSTDP(**kwargs)


def test_update_period_must_be_whole_steps():
    with pytest.raises(ValueError, match="update_every_ms"):
        RewardSTDP(update_every_ms=2.5).dopamine(1.0)
    assert RewardSTDP(update_every_ms=10.0).update_every_steps(0.5) == 20


def test_kernel_rule_decays_are_exponentials_of_dt():
    rule = STDP(tau_plus_ms=10.0, tau_minus_ms=40.0, bounds="multiplicative").kernel_rule(0.5)
    assert rule.decay_pre == math.exp(-0.05) and rule.decay_post == math.exp(-0.5 / 40)
    assert rule.bound_mode == 1 and not rule.to_eligibility


def test_same_step_picks_the_kernel_order():
    assert not STDP().kernel_rule(1.0).post_first
    assert STDP(same_step="ltd").kernel_rule(1.0).post_first


def test_izhikevich_2007_steps_like_the_published_code():
    """daspnet.m with 1 ms steps: traces x 0.95 per ms, LTP 0.1 * 0.95**(k - 1) at a lag of k
    ms, LTD 0.15 * 0.95**k, eligibility x 0.99 and ``w += (0.002 + DA) * c`` every 10 ms,
    DA x 0.995 per ms, weights in [0, 4]."""
    rule = RewardSTDP.izhikevich_2007()
    k = rule.stdp.kernel_rule(1.0, to_eligibility=True)
    assert k.decay_pre == pytest.approx(0.95, rel=1e-14)
    assert k.decay_post == pytest.approx(0.95, rel=1e-14)
    assert k.a_plus * k.decay_pre == pytest.approx(0.1, rel=1e-14)
    assert k.a_minus == 0.15 and k.post_first and k.trace_mode == 1
    assert (k.w_min, k.w_max, k.bound_mode) == (0.0, 4.0, 0)
    d = rule.dopamine(1.0)
    assert d.decay == pytest.approx(0.995, rel=1e-14)
    assert d.decay_e == pytest.approx(0.99, rel=1e-14)
    assert d.update_every == 10 and d.tonic == 0.002
    assert d.gain_per_dopamine == pytest.approx(1.0, rel=1e-14)


def test_izhikevich_2007_self_synapses_do_not_run_away():
    """A neuron's synapse onto itself sees its own spikes in the same step: post-before-pre in
    the published code, so tonic dopamine alone must not drive it to the bound."""
    net = PlasticNetwork.izhikevich_2007(seed=1)
    pre, post = net.sparse_weights().pre_post()
    self_exc = (pre == post) & net.plastic
    assert self_exc.sum() > 20
    out = net.run(20_000.0)
    assert out.weights[self_exc].max() < 1.0
    assert out.weights[net.plastic].max() < 2.0


def test_network_refuses_bad_arguments():
    net = _small()
    pop, w = net.population, net.sparse_weights()
    with pytest.raises(TypeError, match="rule"):
        PlasticNetwork(pop, w, "stdp")
    with pytest.raises(ValueError, match="plastic"):
        PlasticNetwork(pop, w, STDP(), plastic=np.ones(3, bool))
    with pytest.raises(ValueError, match="dt_ms"):
        PlasticNetwork(pop, w, STDP(), dt_ms=0.0)
    with pytest.raises(ValueError, match="noise_amp"):
        PlasticNetwork(pop, w, STDP(), noise_amp=np.ones(3))
    with pytest.raises(ValueError, match="duration_ms"):
        net.run(10.5)
    with pytest.raises(ValueError, match="reward"):
        net.run(10.0, reward=np.ones(3))
    with pytest.raises(ValueError, match="reward needs a RewardSTDP"):
        PlasticNetwork(pop, w, STDP()).run(5.0, reward=np.zeros(5))
    with pytest.raises(ValueError, match="watch"):
        net.run(5.0, snapshot_every_ms=5.0, watch=[10**6])


def test_same_seed_same_bits_and_numpy_equals_numba():
    runs = [
        _small(backend).run(300.0, snapshot_every_ms=100.0)
        for backend in ("numba", "numba", "numpy")
    ]
    for other in runs[1:]:
        np.testing.assert_array_equal(runs[0].spikes.times_ms, other.spikes.times_ms)
        np.testing.assert_array_equal(runs[0].spikes.indices, other.spikes.indices)
        np.testing.assert_array_equal(runs[0].weight_snapshots, other.weight_snapshots)
    assert len(runs[0].spikes) > 0
    different = _small(seed=4).run(300.0)
    assert not np.array_equal(different.spikes.indices, runs[0].spikes.indices)


def test_run_in_pieces_equals_one_run():
    whole = _small()
    one = whole.run(400.0)
    pieces = _small()
    a, b = pieces.run(150.0), pieces.run(250.0)
    np.testing.assert_array_equal(
        np.concatenate([a.spikes.times_ms, b.spikes.times_ms]), one.spikes.times_ms
    )
    np.testing.assert_array_equal(b.weights, one.weights)
    assert b.spikes.t_start_ms == 150.0 and pieces.step == 400


def test_snapshots_and_watch():
    net = _small()
    slot = net.synapse_index(0, int(net.sparse_weights().indices[0]))
    out = net.run(100.0, snapshot_every_ms=25.0, watch=[slot])
    assert out.snapshot_times_ms.tolist() == [25.0, 50.0, 75.0, 100.0]
    assert out.weight_snapshots.shape == (4, 1)
    assert out.weight_snapshots[-1, 0] == out.weights[slot]
    with pytest.raises(ValueError, match="no synapse"):
        net.synapse_index(0, 0 if 0 not in net.sparse_weights().indices[:8] else 49)


def test_without_dopamine_only_tonic_learning_and_inhibitory_weights_fixed():
    rule = RewardSTDP.izhikevich_2007()
    net = _small(rule=rule)
    before = net.weights_array()
    out = net.run(500.0)
    inh = ~net.plastic
    np.testing.assert_array_equal(out.weights[inh], before[inh])
    assert np.all(out.dopamine == 0.0)
    assert np.all((out.weights[net.plastic] >= 0.0) & (out.weights[net.plastic] <= 4.0))


def test_reward_moves_weights_along_eligibility():
    rule = RewardSTDP(stdp=STDP(a_plus=0.1, a_minus=0.15, w_max=4.0), tonic_dopamine=0.0)
    quiet, rewarded = _small(rule=rule), _small(rule=rule)
    quiet.run(200.0)
    assert np.array_equal(quiet.weights_array(), _small(rule=rule).weights_array())
    reward = np.zeros(200)
    reward[::20] = 0.5
    out = rewarded.run(200.0, reward=reward)
    assert rewarded.dopamine_level > 0
    assert not np.array_equal(out.weights, quiet.weights_array())
    assert np.abs(rewarded.eligibility).max() > 0


def test_non_finite_state_raises_with_step():
    net = _small(backend="numpy")
    bad = PlasticNetwork(net.population, net.sparse_weights(), STDP(), bias=1e300, noise_amp=0.0)
    with pytest.raises(NonFiniteStateError, match="step 0"):
        bad.run(10.0)
