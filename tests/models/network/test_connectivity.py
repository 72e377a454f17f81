"""Sparse weights and random connectivity: known answers, statistics, determinism, errors."""

from __future__ import annotations

import json
import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesub.models.network.connectivity import (
    SparseWeights,
    dale_weights,
    izhikevich_2003_weights,
    random_connectivity,
    scale_weights,
)
from spikesub.models.network.neurons import IzhikevichPopulation


def _same(a: SparseWeights, b: SparseWeights) -> bool:
    return (
        a.shape == b.shape
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and a.weights.dtype == b.weights.dtype
        and np.array_equal(a.weights, b.weights)
    )


def _assert_csr_invariants(c: SparseWeights) -> None:
    assert c.indptr.dtype == np.int64 and c.indptr.shape == (c.n_pre + 1,)
    assert c.indices.dtype == np.int32 and c.weights.shape == (c.nnz,)
    for i in range(c.n_pre):
        row = c.indices[c.indptr[i] : c.indptr[i + 1]]
        assert np.all(np.diff(row) > 0)


# -- random_connectivity: probability --------------------------------------------------------


def test_p_zero_gives_no_synapses():
    c = random_connectivity(30, 40, p=0.0, seed=1)
    assert c.nnz == 0
    assert c.shape == (40, 30)  # (n_post, n_pre)
    assert np.array_equal(c.to_dense().T, np.zeros((30, 40), np.float32))


def test_p_one_gives_all_pairs():
    c = random_connectivity(17, 23, p=1.0, seed=1)
    assert c.nnz == 17 * 23
    assert c.weights.dtype == np.float32
    assert np.array_equal(c.to_dense().T, np.ones((17, 23), np.float32))


def test_p_one_without_autapses_gives_all_off_diagonal_pairs():
    c = random_connectivity(20, 20, p=1.0, allow_autapses=False, seed=1)
    expected = np.ones((20, 20), np.float32) - np.eye(20, dtype=np.float32)
    assert np.array_equal(c.to_dense().T, expected)


@pytest.mark.parametrize("p", [0.01, 0.1, 0.5, 0.9])
def test_empirical_probability_within_a_few_sigma(p):
    n_pre, n_post = 300, 400
    c = random_connectivity(n_pre, n_post, p=p, seed=7)
    pairs = n_pre * n_post
    sigma = math.sqrt(pairs * p * (1 - p))
    assert abs(c.nnz - p * pairs) < 5 * sigma
    _assert_csr_invariants(c)
    # rows and columns are equally likely: no position bias in the geometric skips
    in_deg = c.in_degree()
    out_deg = c.out_degree()
    assert abs(in_deg[: n_post // 2].mean() - in_deg[n_post // 2 :].mean()) < 6 * math.sqrt(
        n_pre * p * (1 - p) / (n_post / 4)
    )
    assert abs(out_deg.mean() - n_post * p) < 5 * math.sqrt(n_post * p * (1 - p) / n_pre)


def test_probability_without_autapses_has_empty_diagonal_and_right_density():
    n, p = 400, 0.3
    c = random_connectivity(n, n, p=p, allow_autapses=False, seed=3)
    dense = c.to_dense().T
    assert np.all(np.diag(dense) == 0)
    pairs = n * (n - 1)
    assert abs(c.nnz - p * pairs) < 5 * math.sqrt(pairs * p * (1 - p))


def test_each_pair_appears_with_probability_p_over_seeds():
    # first and last positions of a row get no special treatment
    n_pre, n_post, p, seeds = 4, 6, 0.25, 400
    counts = np.zeros((n_pre, n_post))
    for s in range(seeds):
        counts += random_connectivity(n_pre, n_post, p=p, seed=s).to_dense().T
    sigma = math.sqrt(seeds * p * (1 - p))
    assert np.all(np.abs(counts - seeds * p) < 5 * sigma)


# -- random_connectivity: fixed in-degree ----------------------------------------------------


@pytest.mark.parametrize("allow_autapses", [True, False])
@pytest.mark.parametrize(("n_pre", "n_post", "k"), [(50, 50, 7), (50, 50, 25), (40, 60, 39)])
def test_fixed_in_degree_is_exact_without_duplicates(n_pre, n_post, k, allow_autapses):
    c = random_connectivity(n_pre, n_post, in_degree=k, allow_autapses=allow_autapses, seed=11)
    assert c.nnz == k * n_post
    assert np.all(c.in_degree() == k)
    _assert_csr_invariants(c)  # strictly ascending rows: no duplicate synapse
    dense = c.to_dense().T
    assert np.all(dense.sum(axis=0) == k)  # distinct partners
    if not allow_autapses:
        m = min(n_pre, n_post)
        assert np.all(dense[np.arange(m), np.arange(m)] == 0)


def test_full_in_degree_without_autapses_is_all_off_diagonal():
    c = random_connectivity(15, 15, in_degree=14, allow_autapses=False, seed=0)
    assert np.array_equal(c.to_dense().T, 1 - np.eye(15, dtype=np.float32))
    c = random_connectivity(15, 9, in_degree=15, seed=0)
    assert np.array_equal(c.to_dense().T, np.ones((15, 9), np.float32))


def test_fixed_in_degree_picks_presynaptic_neurons_uniformly():
    n_pre, n_post, k = 50, 4000, 10
    c = random_connectivity(n_pre, n_post, in_degree=k, seed=5)
    q = k / n_pre
    expected = n_post * q
    sigma = math.sqrt(n_post * q * (1 - q))
    out_deg = c.out_degree()
    assert out_deg.sum() == k * n_post
    assert np.all(np.abs(out_deg - expected) < 5 * sigma)


def test_in_degree_zero_gives_no_synapses():
    c = random_connectivity(10, 12, in_degree=0, seed=1)
    assert c.nnz == 0 and np.all(c.in_degree() == 0)


# -- determinism -------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{"p": 0.2}, {"in_degree": 12}])
def test_same_seed_same_matrix_different_seed_different(kwargs):
    a = random_connectivity(200, 150, seed=42, **kwargs)
    b = random_connectivity(200, 150, seed=42, **kwargs)
    c = random_connectivity(200, 150, seed=43, **kwargs)
    assert _same(a, b)
    assert not np.array_equal(a.to_dense().T, c.to_dense().T)


@pytest.mark.parametrize("kwargs", [{"p": 0.2}, {"in_degree": 30}])
def test_result_does_not_depend_on_the_number_of_threads(kwargs):
    assert numba.config.NUMBA_NUM_THREADS >= 2  # tests/conftest.py provides two threads
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = random_connectivity(500, 700, seed=9, **kwargs)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = random_connectivity(500, 700, seed=9, **kwargs)
    finally:
        numba.set_num_threads(before)
    assert _same(one, many)


def test_generator_and_seed_sequence_seeds():
    a = random_connectivity(50, 50, p=0.3, seed=np.random.default_rng(1))
    b = random_connectivity(50, 50, p=0.3, seed=np.random.default_rng(1))
    assert _same(a, b)
    rng = np.random.default_rng(1)
    first = random_connectivity(50, 50, p=0.3, seed=rng)
    second = random_connectivity(50, 50, p=0.3, seed=rng)  # the generator has moved on
    assert not _same(first, second)
    ss = np.random.SeedSequence(3)
    assert _same(
        random_connectivity(50, 50, in_degree=5, seed=ss),
        random_connectivity(50, 50, in_degree=5, seed=np.random.SeedSequence(3)),
    )


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"p": 1.5}, ValueError, "p must be in"),
        ({"p": -0.1}, ValueError, "p must be in"),
        ({"p": float("nan")}, ValueError, "p must be in"),
        ({"in_degree": 11}, ValueError, "in_degree must be in"),
        ({"in_degree": 10, "allow_autapses": False}, ValueError, r"in_degree must be in \[0, 9\]"),
        ({"in_degree": -1}, ValueError, "in_degree"),
        ({"p": 0.1, "in_degree": 3}, ValueError, "exactly one of p"),
        ({}, ValueError, "exactly one of p"),
        ({"p": "0.1"}, TypeError, "p must be"),
        ({"in_degree": 2.5}, TypeError, "in_degree"),
        ({"p": 0.1, "seed": -3}, ValueError, "seed"),
        ({"p": 0.1, "seed": "x"}, TypeError, "seed"),
    ],
)
def test_random_connectivity_rejects_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        random_connectivity(10, 10, **kwargs)


@pytest.mark.parametrize(("n_pre", "n_post", "name"), [(-1, 5, "n_pre"), (5, -2, "n_post")])
def test_negative_sizes_raise(n_pre, n_post, name):
    with pytest.raises(ValueError, match=name):
        random_connectivity(n_pre, n_post, p=0.5, seed=0)


def test_sparse_weights_validation_names_the_field():
    indptr = np.array([0, 2, 3])
    indices = np.array([0, 2, 1])
    with pytest.raises(ValueError, match="weights must be finite"):
        SparseWeights(indptr, indices, np.array([1.0, np.nan, 2.0]), 2, 3)
    with pytest.raises(ValueError, match="weights must be finite"):
        SparseWeights(indptr, indices, np.array([1.0, 2.0, np.inf], np.float32), 2, 3)
    with pytest.raises(ValueError, match="indices must lie in"):
        SparseWeights(indptr, np.array([0, 3, 1]), np.ones(3), 2, 3)
    with pytest.raises(ValueError, match="indices must lie in"):
        SparseWeights(indptr, np.array([0, -1, 1]), np.ones(3), 2, 3)
    with pytest.raises(ValueError, match="strictly ascending"):
        SparseWeights(indptr, np.array([2, 0, 1]), np.ones(3), 2, 3)
    with pytest.raises(ValueError, match="strictly ascending"):
        SparseWeights(indptr, np.array([1, 1, 1]), np.ones(3), 2, 3)
    with pytest.raises(ValueError, match="non-decreasing"):
        SparseWeights(np.array([0, 3, 2, 3]), np.array([0, 1, 2]), np.ones(3), 3, 3)
    with pytest.raises(ValueError, match="indptr must start at 0"):
        SparseWeights(np.array([0, 2, 4]), indices, np.ones(3), 2, 3)
    with pytest.raises(ValueError, match="indptr must have shape"):
        SparseWeights(indptr, indices, np.ones(3), 3, 3)
    with pytest.raises(ValueError, match="weights must have shape"):
        SparseWeights(indptr, indices, np.ones(4), 2, 3)
    with pytest.raises(TypeError, match="weights"):
        SparseWeights(indptr, indices, np.array(["a", "b", "c"]), 2, 3)
    with pytest.raises(ValueError, match="n_pre"):
        SparseWeights(np.array([0]), np.array([], np.int32), np.array([]), -1, 3)


def test_sparse_weights_arrays_are_read_only_and_typed():
    c = SparseWeights(np.array([0, 2, 3]), np.array([0, 2, 1]), np.array([1, 2, 3]), 2, 3)
    assert c.weights.dtype == np.float32  # integer weights become float32
    assert c.indices.dtype == np.int32 and c.indptr.dtype == np.int64
    with pytest.raises(ValueError):
        c.weights[0] = 5.0
    with pytest.raises(ValueError):
        c.indices[0] = 1


# -- conversions -------------------------------------------------------------------------------


def test_dense_round_trip_and_orientation():
    rng = np.random.default_rng(0)
    dense = rng.normal(size=(7, 5)) * (rng.random((7, 5)) < 0.4)
    # dense matrices are W[post, pre]: 5 postsynaptic neurons, 7 presynaptic ones
    c = SparseWeights.from_dense(dense.T, dtype=np.float64)
    assert (c.n_pre, c.n_post) == (7, 5) and c.shape == (5, 7)
    assert c.nnz == np.count_nonzero(dense)
    assert np.array_equal(c.to_dense(), dense.T)
    # CSR row i lists the targets of presynaptic neuron i: column i of W[post, pre]
    for i in range(7):
        row = c.indices[c.indptr[i] : c.indptr[i + 1]]
        assert np.array_equal(row, np.flatnonzero(dense.T[:, i]))
    c32 = SparseWeights.from_dense(dense.T)
    assert c32.weights.dtype == np.float32
    assert np.array_equal(c32.to_dense(), dense.T.astype(np.float32))
    # the earlier layout, W[pre, post], through its named argument, with a warning
    with pytest.warns(DeprecationWarning, match=r"W\[post, pre\]"):
        old = SparseWeights.from_dense(pre_post=dense, dtype=np.float64)
    assert _same(old, c)
    with pytest.raises(TypeError, match="one matrix"):
        SparseWeights.from_dense(dense, pre_post=dense)
    with pytest.raises(ValueError, match="weights must be finite"):
        SparseWeights.from_dense(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="W must be 2-D"):
        SparseWeights.from_dense(np.ones(3))


def test_pre_post_round_trip_and_duplicates():
    rng = np.random.default_rng(2)
    c = dale_weights(
        random_connectivity(40, 30, p=0.2, seed=1), rng.random(40) < 0.8, w_exc=(0, 1), seed=2
    )
    pre, post = c.pre_post()
    assert pre.dtype == np.int32 and post.dtype == np.int32
    order = rng.permutation(c.nnz)
    back = SparseWeights.from_pre_post(pre[order], post[order], c.weights[order], 40, 30)
    assert _same(back, c)
    with pytest.raises(ValueError, match="duplicate"):
        SparseWeights.from_pre_post([0, 1, 0], [2, 2, 2], [1.0, 2.0, 3.0], 2, 3)
    summed = SparseWeights.from_pre_post(
        [0, 1, 0], [2, 2, 2], [1.0, 2.0, 3.0], 2, 3, duplicates="sum"
    )
    assert np.array_equal(summed.to_dense().T, [[0, 0, 4.0], [0, 0, 2.0]])
    assert summed.weights.dtype == np.float64
    with pytest.raises(ValueError, match="post must lie in"):
        SparseWeights.from_pre_post([0], [3], [1.0], 2, 3)
    with pytest.raises(ValueError, match="weights must be finite"):
        SparseWeights.from_pre_post([0], [1], [np.nan], 2, 3)


@settings(max_examples=25, deadline=None)
@given(
    n_pre=st.integers(1, 12),
    n_post=st.integers(1, 12),
    data=st.data(),
)
def test_from_pre_post_matches_dense_accumulation(n_pre, n_post, data):
    nnz = data.draw(st.integers(0, 40))
    pre = np.array(data.draw(st.lists(st.integers(0, n_pre - 1), min_size=nnz, max_size=nnz)))
    post = np.array(data.draw(st.lists(st.integers(0, n_post - 1), min_size=nnz, max_size=nnz)))
    w = np.array(
        data.draw(st.lists(st.integers(-5, 5), min_size=nnz, max_size=nnz)), dtype=np.float64
    )
    c = SparseWeights.from_pre_post(
        pre.astype(np.int64), post.astype(np.int64), w, n_pre, n_post, duplicates="sum"
    )
    expected = np.zeros((n_pre, n_post))
    np.add.at(expected, (pre.astype(int), post.astype(int)), w)
    assert np.array_equal(c.to_dense().T, expected)
    pairs = {(int(i), int(j)) for i, j in zip(pre, post, strict=True)}
    assert c.nnz == len(pairs)
    expected_in = np.bincount([j for _, j in pairs], minlength=n_post)
    assert np.array_equal(c.in_degree(), expected_in)
    _assert_csr_invariants(c)


def test_degrees_scaled_astype_with_weights_to_dict():
    dense = np.array([[0, 2, 0, 1], [0, 0, 0, 0], [3, -4, 0, 0]], dtype=np.float32)  # [pre, post]
    c = SparseWeights.from_dense(dense.T)
    assert np.array_equal(c.in_degree(), [1, 2, 0, 1])
    assert np.array_equal(c.out_degree(), [2, 0, 2])
    assert np.array_equal(c.scaled(0.5).to_dense().T, dense * 0.5)
    # the product is taken in float64 and rounded once
    factor = 1 / math.sqrt(1000)
    assert np.array_equal(
        c.scaled(factor).weights, (c.weights.astype(np.float64) * factor).astype(np.float32)
    )
    c64 = c.astype(np.float64)
    assert c64.weights.dtype == np.float64 and np.array_equal(c64.to_dense().T, dense)
    with pytest.raises(TypeError, match="dtype"):
        c.astype(np.int32)
    assert np.array_equal(c.with_weights(np.arange(4.0)).weights, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="new_weights must have shape"):
        c.with_weights(np.ones(3))
    with pytest.raises(ValueError, match="weights must be finite"):
        c.with_weights(np.array([1, 2, np.nan, 3]))
    with pytest.raises(ValueError, match="factor must be finite"):
        c.scaled(float("inf"))
    summary = c.to_dict()
    json.dumps(summary)
    assert summary["nnz"] == 4 and summary["n_negative"] == 1 and summary["n_positive"] == 3
    assert summary["weights"]["min"] == -4.0 and summary["in_degree"]["max"] == 2.0


# -- Dale's law and scaling --------------------------------------------------------------------


def test_dale_weights_one_sign_per_row():
    rng = np.random.default_rng(0)
    exc = rng.random(120) < 0.8
    conn = random_connectivity(120, 90, p=0.3, seed=4)
    w = dale_weights(conn, exc, w_exc=(0.1, 0.5), w_inh=(0.2, 1.0), seed=5)
    assert np.array_equal(w.indices, conn.indices) and np.array_equal(w.indptr, conn.indptr)
    for i in range(120):
        row = w.weights[w.indptr[i] : w.indptr[i + 1]]
        if exc[i]:
            assert np.all((row >= 0.1) & (row <= 0.5))
        else:
            assert np.all((row <= -0.2) & (row >= -1.0))
    # magnitudes are spread over the range
    exc_w = w.to_dense().T[exc]
    exc_w = exc_w[exc_w != 0]
    assert abs(exc_w.mean() - 0.3) < 0.02
    assert _same(w, dale_weights(conn, exc, w_exc=(0.1, 0.5), w_inh=(0.2, 1.0), seed=5))
    assert not _same(w, dale_weights(conn, exc, w_exc=(0.1, 0.5), w_inh=(0.2, 1.0), seed=6))


def test_dale_constant_magnitudes():
    conn = random_connectivity(6, 6, p=1.0, seed=0)
    exc = np.array([True, True, False, True, False, False])
    w = dale_weights(conn, exc, w_exc=0.25, w_inh=2.0).to_dense().T
    assert np.all(w[exc] == np.float32(0.25))
    assert np.all(w[~exc] == np.float32(-2.0))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"w_inh": -1.0}, ValueError, "w_inh"),
        ({"w_exc": (0.5, 0.1)}, ValueError, "w_exc"),
        ({"w_inh": (-1.0, 0.0)}, ValueError, "w_inh"),
        ({"w_exc": (0.1, 0.2, 0.3)}, ValueError, "w_exc"),
        ({"w_exc": float("nan")}, ValueError, "w_exc"),
        ({"w_exc": "big"}, TypeError, "w_exc"),
    ],
)
def test_dale_rejects_bad_magnitudes(kwargs, exc, match):
    conn = random_connectivity(5, 5, p=0.5, seed=0)
    with pytest.raises(exc, match=match):
        dale_weights(conn, np.ones(5, bool), **kwargs)


def test_dale_rejects_bad_excitatory_mask():
    conn = random_connectivity(5, 5, p=0.5, seed=0)
    with pytest.raises(ValueError, match="excitatory"):
        dale_weights(conn, np.ones(4, bool))
    with pytest.raises(TypeError, match="excitatory"):
        dale_weights(conn, np.full(5, 0.5))


def test_scale_weights_modes():
    conn = random_connectivity(100, 50, in_degree=16, seed=0)
    assert scale_weights(conn, "none") is conn
    assert np.all(scale_weights(conn, "1/sqrt(K)").weights == np.float32(0.25))
    assert np.all(scale_weights(conn, "1/K").weights == np.float32(1 / 16))
    assert np.all(scale_weights(conn, 3.0).weights == 3.0)
    with pytest.raises(ValueError, match="mode must be"):
        scale_weights(conn, "1/N")
    empty = random_connectivity(10, 10, p=0.0, seed=0)
    assert scale_weights(empty, "1/K").nnz == 0


# -- Izhikevich (2003) network weights ---------------------------------------------------------


def test_izhikevich_2003_weights_reference_network():
    pop = IzhikevichPopulation.izhikevich_2003(80, 20, seed=0)
    # N = 100, p = 1: factor 1000 / 100 = 10
    w = izhikevich_2003_weights(pop, seed=1).to_dense().T
    assert w.shape == (100, 100) and np.count_nonzero(w) >= 100 * 100 - 5
    assert np.all((w[:80] >= 0) & (w[:80] < 0.5 * 10))
    assert np.all((w[80:] <= 0) & (w[80:] > -1.0 * 10))
    # k_reference equal to N: exactly the original distributions
    w1 = izhikevich_2003_weights(pop, k_reference=100, seed=1).to_dense().T
    assert np.all((w1[:80] >= 0) & (w1[:80] < 0.5)) and np.all((w1[80:] <= 0) & (w1[80:] > -1))
    assert abs(w1[:80].mean() - 0.25) < 0.01 and abs(w1[80:].mean() + 0.5) < 0.03
    assert np.allclose(w, w1 * 10, rtol=1e-6, atol=0)


@pytest.mark.parametrize("kwargs", [{"p": 0.1}, {"in_degree": 200}])
def test_izhikevich_2003_weights_keep_the_mean_input(kwargs):
    # N = 2000: K = 200 either way, factor 1000 / 200 = 5
    pop = IzhikevichPopulation.izhikevich_2003(1600, 400, seed=0)
    w = izhikevich_2003_weights(pop, seed=3, **kwargs)
    column_sums = w.to_dense().T.astype(np.float64).sum(axis=0)
    # reference: 800 exc inputs of mean 0.25, 200 inh of mean -0.5 -> 100
    assert abs(column_sums.mean() - 100.0) < 3.0
    assert np.all(w.to_dense().T[:1600] >= 0) and np.all(w.to_dense().T[1600:] <= 0)
    again = izhikevich_2003_weights(pop, seed=3, **kwargs)
    assert _same(w, again)


def test_izhikevich_2003_weights_errors():
    pop = IzhikevichPopulation.izhikevich_2003(8, 2, seed=0)
    with pytest.raises(ValueError, match="exactly one of p"):
        izhikevich_2003_weights(pop, p=0.5, in_degree=3)
    with pytest.raises(ValueError, match="k_reference"):
        izhikevich_2003_weights(pop, k_reference=0)
    with pytest.raises(TypeError, match="population"):
        izhikevich_2003_weights(object())


# -- scale -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_large_fixed_in_degree_network():
    n, k = 100_000, 1000
    c = random_connectivity(n, n, in_degree=k, allow_autapses=False, seed=2024)
    assert c.nnz == n * k
    assert c.indices.dtype == np.int32 and c.weights.dtype == np.float32
    in_deg = c.in_degree()
    assert in_deg.min() == k and in_deg.max() == k
    out_deg = c.out_degree()
    assert out_deg.sum() == n * k
    assert abs(out_deg.mean() - k) < 1e-9 and out_deg.std() < 2 * math.sqrt(k)


# -- spectral radius ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [10, 200])
def test_spectral_radius_matches_dense_eigenvalues(n):
    rng = np.random.default_rng(n)
    dense = rng.normal(size=(n, n)) * (rng.random((n, n)) < 0.1)
    w = SparseWeights.from_dense(dense, dtype=np.float64)
    expected = np.abs(np.linalg.eigvals(dense)).max()
    assert w.spectral_radius() == pytest.approx(expected, rel=1e-6)
    scaled = w.scaled_to_spectral_radius(0.9)
    assert scaled.spectral_radius() == pytest.approx(0.9, rel=1e-6)
    assert np.allclose(scaled.to_dense(), dense * 0.9 / expected)


def test_spectral_radius_of_the_izhikevich_network_and_errors():
    pop = IzhikevichPopulation.izhikevich_2003(400, 100, seed=0)
    w = izhikevich_2003_weights(pop, seed=1)
    dense = w.to_dense().astype(np.float64)
    assert w.spectral_radius() == pytest.approx(np.abs(np.linalg.eigvals(dense)).max(), rel=1e-5)
    with pytest.raises(ValueError, match="square"):
        random_connectivity(5, 7, p=0.5, seed=0).spectral_radius()
    empty = random_connectivity(20, 20, p=0.0, seed=0)
    assert empty.spectral_radius() == 0.0
    with pytest.raises(ValueError, match="spectral radius is 0"):
        empty.scaled_to_spectral_radius(1.0)
    with pytest.raises(ValueError, match="radius"):
        w.scaled_to_spectral_radius(-1.0)
    with pytest.raises(ValueError, match="radius"):
        w.scaled_to_spectral_radius(float("inf"))


def test_ei_balance_by_hand_and_its_scaling():
    # W[post, pre]: neuron 0 (excitatory) -> 1 (2.0) and -> 2 (1.0); neuron 2 (inhibitory) -> 0
    dense = np.array([[0.0, 0.0, -3.0], [2.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    w = SparseWeights.from_dense(dense, dtype=np.float64)
    excitatory = np.array([True, True, False])
    assert w.ei_balance(excitatory) == pytest.approx(3.0 / 3.0)
    assert w.ei_balance(excitatory, rates_hz=[10.0, 0.0, 5.0]) == pytest.approx(15.0 / 30.0)
    doubled = w.with_ei_balance(excitatory, 2.0)
    assert doubled.ei_balance(excitatory) == pytest.approx(2.0)
    np.testing.assert_allclose(doubled.to_dense(), [[0, 0, -6.0], [2.0, 0, 0], [1.0, 0, 0]])
    pop = IzhikevichPopulation.izhikevich_2003(400, 100, seed=0)
    assert izhikevich_2003_weights(pop, seed=1).ei_balance(pop.excitatory) == pytest.approx(
        0.5, rel=0.05
    )
    with pytest.raises(ValueError, match="excitatory must be"):
        w.ei_balance([1, 1, 0])
    with pytest.raises(ValueError, match="rates_hz"):
        w.ei_balance(excitatory, rates_hz=[1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="no excitatory input"):
        w.ei_balance(np.zeros(3, bool))
    with pytest.raises(ValueError, match="balance"):
        w.with_ei_balance(excitatory, 0.0)
