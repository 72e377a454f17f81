"""The projected three-factor rule: its kernels, its exact protection of old outputs, its
refusals."""

from __future__ import annotations

import numpy as np
import pytest

from spikesub.kernels.plasticity import three_factor_run_numba, three_factor_run_numpy
from spikesub.readouts import ReadoutDivergedError
from spikesub.reservoir_continual.readout import ProjectedThreeFactorReadout


def _recording(seed=0, T=200, n=20, n_out=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, n)) / np.sqrt(n)
    y = rng.standard_normal((T, n_out))
    gate = (rng.random((T, 1)) < 0.7) * rng.random((T, 1))
    return x, y, gate


def _run(run, x, p, y, gate, lr, decay):
    w, pending = np.zeros((3, 20)), np.zeros((3, 20))
    elig, out = np.zeros((1, 20)), np.empty((len(x), 3))
    assert run(w, pending, elig, x, p, y, gate, lr, decay, np.ones(3, bool), out) == -1
    return w, elig, out


def test_numba_kernel_agrees_with_the_numpy_reference_on_a_projected_factor():
    x, y, gate = _recording()
    p = x - 0.3 * x[:, ::-1]
    numpy_ = _run(three_factor_run_numpy, x, p, y, gate, 0.2, 0.5)
    numba_ = _run(three_factor_run_numba, x, p, y, gate, 0.2, 0.5)
    for a, b in zip(numpy_, numba_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    plain = _run(three_factor_run_numpy, x, x, y, gate, 0.2, 0.5)
    assert not np.allclose(plain[0], numpy_[0])  # the factor reaches the weights


def test_projected_readout_without_lateral_rows_is_the_plain_rule():
    x, y, gate = _recording(1)
    readout = ProjectedThreeFactorReadout(20, 3, learning_rate=0.2, tau_eligibility_ms=0.0)
    out = readout.fit_online(x, y, gate=gate)
    w, _, expected = _run(three_factor_run_numpy, x, x, y, gate, 0.2, 0.0)
    np.testing.assert_allclose(readout.weights, w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_old_outputs_on_old_inputs_are_kept_when_projected():
    rng = np.random.default_rng(2)
    n = 30
    basis, _ = np.linalg.qr(rng.standard_normal((n, 6)))  # the old task spans 6 directions
    old = rng.standard_normal((300, 6)) @ basis.T
    new = rng.standard_normal((300, n))
    readout = ProjectedThreeFactorReadout(n, 2, learning_rate=0.02)
    readout.fit_online(old, rng.standard_normal((300, 2)))
    before = readout.predict(old)
    readout.protect(basis.T)
    presynaptic = readout.presynaptic(new)
    assert np.abs(presynaptic @ basis).max() < 1e-12  # the eligibility is orthogonal
    readout.fit_online(new, rng.standard_normal((300, 2)))
    np.testing.assert_allclose(readout.predict(old), before, atol=1e-10)
    # without protection the same training changes them
    plain = ProjectedThreeFactorReadout(n, 2, learning_rate=0.02)
    plain.fit_online(old, rng.standard_normal((300, 2)))
    kept = plain.predict(old)
    plain.fit_online(new, rng.standard_normal((300, 2)))
    assert np.abs(plain.predict(old) - kept).max() > 0.1


@pytest.mark.parametrize("bad", [1.5, -0.2])
def test_gate_outside_unit_interval_is_refused(bad):
    readout = ProjectedThreeFactorReadout(4, 2)
    with pytest.raises(ValueError, match=r"gate values must lie in \[0, 1\]"):
        readout.fit_online(np.ones((5, 4)), np.zeros((5, 2)), gate=np.full(5, bad))


def test_divergence_names_the_step_and_restores_the_readout():
    x, y, _ = _recording(3)
    readout = ProjectedThreeFactorReadout(20, 3, learning_rate=0.01)
    readout.fit_online(x[:50], y[:50])
    saved = readout.weights.copy()
    readout.learning_rate = 1e6
    with pytest.raises(ReadoutDivergedError, match=r"diverged at step \d+") as info:
        readout.fit_online(x * 1e3, y)
    assert info.value.step is not None
    np.testing.assert_array_equal(readout.weights, saved)


def test_lateral_rows_of_another_size_are_refused():
    readout = ProjectedThreeFactorReadout(4, 2)
    with pytest.raises(ValueError, match=r"lateral must have shape \(k, 4\)"):
        readout.protect(np.ones((2, 5)))
