"""HebbianSubspace: Oja / GHA, rate / spiking lateral neurons find the principal subspace."""

from __future__ import annotations

import pytest
import torch

from spikesub.continual.projection import principal_angles
from spikesub.continual.subspace import HebbianSubspace

pytestmark = pytest.mark.usefixtures("one_thread")


N_INPUTS = 24
SPECTRUM = [3.0, 2.6, 2.2, 1.8, 1.4, 1.1] + [0.1] * (N_INPUTS - 6)


def _rotation(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(N_INPUTS, N_INPUTS, generator=g, dtype=torch.float64))
    return q


def _batches(rotation: torch.Tensor, n_batches: int, batch: int = 128, seed: int = 1):
    """Rows x = z diag(SPECTRUM) U^T: principal directions are U's columns, in order."""
    g = torch.Generator().manual_seed(seed)
    scale = torch.tensor(SPECTRUM, dtype=torch.float64)
    for _ in range(n_batches):
        z = torch.randn(batch, N_INPUTS, generator=g, dtype=torch.float64)
        yield ((z * scale) @ rotation.T).float()


@pytest.mark.parametrize("rule", ["oja", "gha"])
@pytest.mark.parametrize("mode", ["rate", "spiking"])
def test_finds_principal_subspace_then_residual_after_freeze(rule, mode):
    u = _rotation()
    sub = HebbianSubspace(N_INPUTS, rule=rule, mode=mode, lr=0.1, n_iters=2, seed=3)
    sub.add_neurons(3)
    for x in _batches(u, 250):
        sub.update(x)
    assert float(principal_angles(sub.H_new.T, u[:, :3]).max()) < 4.0
    # Oja / GHA rows converge to unit norm
    torch.testing.assert_close(sub.H_new.norm(dim=1), torch.ones(3), atol=0.03, rtol=0)

    sub.freeze()
    assert (sub.k_old, sub.k_new) == (3, 0)
    sub.add_neurons(2)
    for x in _batches(u, 250, seed=2):
        sub.update(x)
    # the new rows learn the next principal directions, not the protected ones
    assert float(principal_angles(sub.H_new.T, u[:, 3:5]).max()) < 5.0
    assert float(principal_angles(sub.H.T, u[:, :5]).max()) < 5.0


def test_gha_rows_are_ordered_eigenvectors():
    u = _rotation()
    sub = HebbianSubspace(N_INPUTS, rule="gha", lr=0.2, n_iters=2, seed=0)
    sub.add_neurons(3)
    for x in _batches(u, 300):
        sub.update(x)
    cosines = (sub.H_new.double() @ u[:, :3]).abs()
    # row i aligns with the i-th eigenvector (the rows are not just any basis of the span)
    assert bool((cosines.diagonal() > 0.99).all())


def test_spiking_output_estimates_the_drive():
    sub = HebbianSubspace(8, mode="spiking", spike_steps=64, seed=0)
    sub.add_neurons(3)
    g = torch.Generator().manual_seed(0)
    sub.H_new = torch.randn(3, 8, generator=g)
    x = torch.randn(256, 8, generator=g)
    drive = x @ sub.H_new.T
    y = sub.lateral_output(x)
    step = drive.abs().amax(0) / 64  # one spike's worth
    assert bool(((y - drive).abs() <= step + 1e-5).all())
    assert float((y - drive).mean(0).abs().max()) < float(step.max()) / 4  # unbiased (dither)


def test_choose_k_energy_criterion_on_known_spectrum():
    u = _rotation()
    x = torch.cat(list(_batches(u, 40)))
    energies = torch.tensor(SPECTRUM, dtype=torch.float64) ** 2
    fractions = torch.cumsum(energies, 0) / energies.sum()
    sub = HebbianSubspace(N_INPUTS)
    # thresholds just below each cumulative fraction of the population spectrum
    for k in (1, 3, 5):
        threshold = float(fractions[k - 1]) - 0.01
        assert sub.choose_k(x, threshold) == k
    # with 3 rows already protected, the criterion counts their energy as captured
    sub.H_old = u[:, :3].T.float()
    assert sub.choose_k(x, float(fractions[2]) - 0.01) == 0
    assert sub.choose_k(x, float(fractions[4]) - 0.01) == 2
    gram = x.double().T @ x.double()
    assert sub.choose_k(gram=gram, energy_threshold=float(fractions[4]) - 0.01) == 2


def test_basis_orthonormal_and_spans_rows():
    sub = HebbianSubspace(10, seed=0)
    sub.add_neurons(4)
    sub.freeze()
    b = sub.basis()
    assert b.shape == (10, 4)
    torch.testing.assert_close(b.T @ b, torch.eye(4), atol=1e-5, rtol=0)
    assert float(principal_angles(b, sub.H_old.T).max()) < 1e-3
    assert sub.basis(include_new=True).shape == (10, 4)


def test_add_neurons_seeded_and_validated():
    a, b = HebbianSubspace(6, seed=5), HebbianSubspace(6, seed=5)
    a.add_neurons(2)
    b.add_neurons(2)
    torch.testing.assert_close(a.H_new, b.H_new)
    torch.testing.assert_close(a.H_new.norm(dim=1), torch.full((2,), 0.1))
    with pytest.raises(ValueError, match="at most 4"):
        a.add_neurons(5)
    with pytest.raises(ValueError, match="k must be"):
        a.add_neurons(-1)
    with pytest.raises(ValueError, match="rule"):
        HebbianSubspace(6, rule="bcm")
    with pytest.raises(ValueError, match="lr"):
        HebbianSubspace(6, lr=0.0)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 6\)"):
        a.update(torch.zeros(3, 5))


def test_state_dict_round_trip_continues_identically():
    u = _rotation()
    data = list(_batches(u, 20))
    a = HebbianSubspace(N_INPUTS, mode="spiking", momentum=0.5, seed=2)
    a.add_neurons(2)
    for x in data[:10]:
        a.update(x)
    b = HebbianSubspace(N_INPUTS, mode="spiking", momentum=0.5, seed=99)
    b.load_state_dict(a.state_dict())
    for x in data[10:]:
        a.update(x)
        b.update(x)
    torch.testing.assert_close(a.H_new, b.H_new, atol=0, rtol=0)
    assert a.n_updates == b.n_updates


def test_top_eigenvalue_step_converges_faster_than_trace_step():
    u = _rotation()
    angles = {}
    for norm in ("trace", "top"):
        sub = HebbianSubspace(N_INPUTS, lr=0.3, step_norm=norm, seed=3)
        sub.add_neurons(5)
        for x in _batches(u, 120):
            sub.update(x)
        angles[norm] = float(principal_angles(sub.H_new.T, u[:, :5]).max())
    # the largest eigenvalue is a third of the trace here: three times larger steps
    assert angles["top"] < 8.0
    assert angles["trace"] > 20.0
    with pytest.raises(ValueError, match="step_norm"):
        HebbianSubspace(4, step_norm="max")


def test_learn_over_recorded_batches_equals_update_calls_and_finds_the_residual():
    u = _rotation()
    first = list(_batches(u, 60, seed=4))
    recorded = list(_batches(u, 40, seed=5))

    def fresh():
        sub = HebbianSubspace(N_INPUTS, lr=0.3, momentum=0.5, n_iters=2, step_norm="trace")
        sub.add_neurons(3)
        for x in first:
            sub.update(x)
        sub.freeze()
        sub.add_neurons(2)
        return sub

    a, b = fresh(), fresh()
    a.learn(recorded, epochs=2, lr_final=0.2)
    total = 2 * len(recorded) - 1
    for done, x in enumerate(recorded + recorded):
        b.update(x, lr_scale=1.0 - 0.8 * done / total)
    # one residual per batch instead of one per call: the same numbers up to rounding
    torch.testing.assert_close(a.H_new, b.H_new, atol=1e-5, rtol=1e-4)
    assert a.n_updates == b.n_updates
    assert float(principal_angles(a.H_new.T, u[:, 3:5]).max()) < 8.0

    c = fresh()
    before = c.H_new.clone()
    c.learn(recorded, epochs=0)
    assert torch.equal(c.H_new, before)
    with pytest.raises(ValueError, match="lr_final"):
        c.learn(recorded, lr_final=0.0)


def test_learn_with_updates_replays_the_batches_in_turn():
    """updates = epochs * len(batches) is the same learning; fewer batches are replayed."""
    gen = torch.Generator().manual_seed(3)
    batches = [torch.randn(16, 12, generator=gen) for _ in range(3)]
    a, b = HebbianSubspace(12, seed=1), HebbianSubspace(12, seed=1)
    a.add_neurons(4)
    b.add_neurons(4)
    a.learn(batches, epochs=2, lr_final=0.2)
    b.learn(batches, lr_final=0.2, updates=6)
    assert torch.equal(a.H_new, b.H_new)
    # 4 updates over 3 batches: b0, b1, b2, then b0 again, the step decaying over all four
    c = HebbianSubspace(12, seed=1)
    c.add_neurons(4)
    prepared = [c._prepare(x) for x in batches]
    for done in range(4):
        c._iterate(*prepared[done % 3], 1.0 - 0.8 * done / 3)
    d = HebbianSubspace(12, seed=1)
    d.add_neurons(4)
    d.learn(batches, lr_final=0.2, updates=4)
    assert torch.equal(c.H_new, d.H_new) and d.n_updates == 4 * d.n_iters
    before = d.H_new.clone()
    d.learn(batches, updates=0)
    assert torch.equal(d.H_new, before)
