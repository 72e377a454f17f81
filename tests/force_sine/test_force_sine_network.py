"""The FORCE network: static weights (scale, sparsity, row balance), CSR, what is drawn."""

from __future__ import annotations

import numpy as np
import pytest

from spikesub.force_sine import ForceSineConfig, build_network, csr_by_presynaptic, force_weights


def test_weights_scale_sparsity_and_row_balance():
    rng = np.random.default_rng(3)
    w = force_weights(400, gain_pA=5e3, p_connect=0.1, rng=rng)
    nonzero = w != 0.0
    assert nonzero.mean() == pytest.approx(0.1, abs=0.01)
    assert w[nonzero].std() == pytest.approx(5e3 / (np.sqrt(400) * 0.1), rel=0.05)
    balanced = force_weights(400, p_connect=0.1, balance_rows=True, rng=np.random.default_rng(3))
    np.testing.assert_allclose(balanced.sum(axis=1), 0.0, atol=1e-6)
    assert np.array_equal(balanced != 0.0, nonzero)
    indptr, indices, values = csr_by_presynaptic(w)
    dense = np.zeros_like(w)
    for pre in range(400):
        dense[indices[indptr[pre] : indptr[pre + 1]], pre] = values[indptr[pre] : indptr[pre + 1]]
    np.testing.assert_array_equal(dense, w)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"n_neurons": 0}, ValueError, "n_neurons"),
        ({"n_neurons": 2.0}, TypeError, "n_neurons"),
        ({"p_connect": 1.5}, ValueError, "p_connect"),
        ({"p_connect": 0.0}, ValueError, "p_connect"),
    ],
)
def test_weights_refuse_bad_arguments(kwargs, error, name):
    arguments = {"n_neurons": 10, **kwargs}
    with pytest.raises(error, match=name):
        force_weights(arguments.pop("n_neurons"), rng=np.random.default_rng(0), **arguments)


def test_network_of_a_config_in_the_loops_argument_groups():
    config = ForceSineConfig(n_neurons=30, seed=5, **{"b_nS": -2.0, "v_t_mV": -19.2})
    network = build_network(config)
    assert network.n_neurons == 30
    C, k, v_r, v_t, a, b, v_reset, d, bias, v_peak, dt = network.neuron
    assert all(
        x.shape == (30,) and x.dtype == np.float64 and x.flags.writeable for x in network.neuron[:9]
    )
    assert (C[0], k[0], v_r[0], v_t[0], b[0], bias[0]) == (250.0, 2.5, -60.0, -19.2, -2.0, 1000.0)
    assert (v_peak, dt) == (30.0, 0.04)
    v, u, *filters, z = network.state
    assert np.all((v >= -60.0) & (v <= 30.0)) and np.all(u == 0.0)
    assert all(np.all(f == 0.0) for f in filters) and z.shape == (1,)
    assert network.encoder.shape == (30, 1) and np.all(np.abs(network.encoder) <= 5e3)
    assert len(network.connections) == 4


def test_same_seed_same_network():
    a, b = (build_network(ForceSineConfig(n_neurons=40, seed=1)) for _ in range(2))
    first, second = (*a.weights, a.encoder, a.state[0]), (*b.weights, b.encoder, b.state[0])
    for x, y in zip(first, second, strict=True):
        np.testing.assert_array_equal(x, y)
    c = build_network(ForceSineConfig(n_neurons=40, seed=2))
    assert not np.array_equal(a.encoder, c.encoder)
