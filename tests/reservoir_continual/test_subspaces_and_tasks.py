"""The lateral Hebbian circuit against the exact basis, and the task sequence's checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikesub.continual.projection import principal_angles
from spikesub.reservoir_continual.learning import TaskData, learn_sequence, ridge_per_task
from spikesub.reservoir_continual.protection import ExactProtection, HebbianProtection
from spikesub.reservoir_continual.tasks import CueTask, TaskSequence, make_sequence


def _low_rank_rows(seed, n=40, k=5, m=600, floor=0.02):
    """Rows with ``k`` strong directions (variances 9 down to 1) and a weak isotropic floor."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((n, k)))
    scales = np.linspace(3.0, 1.0, k)
    rows = (rng.standard_normal((m, k)) * scales) @ basis.T + floor * rng.standard_normal((m, n))
    return rows, basis


def test_hebbian_subspace_matches_the_svd_one():
    rows, _ = _low_rank_rows(0)
    hebbian = HebbianProtection(40, energy_threshold=0.99, epochs=60, seed=0)
    exact = ExactProtection(40, energy_threshold=0.99)
    assert hebbian.add_task(rows) == exact.add_task(rows) == 5
    angles = principal_angles(torch.from_numpy(hebbian.rows.T), torch.from_numpy(exact.rows.T))
    assert float(angles.max()) < 2.0
    # the Hebbian rows are nearly orthonormal, so H^T H is nearly the projector
    np.testing.assert_allclose(hebbian.rows @ hebbian.rows.T, np.eye(5), atol=0.02)


def test_second_task_adds_only_what_the_first_does_not_span():
    first, basis = _low_rank_rows(1)
    second = first @ np.eye(40)  # the same subspace again: nothing new to protect
    exact = ExactProtection(40, energy_threshold=0.95)
    exact.add_task(first)
    assert exact.add_task(second) == 0
    assert exact.task_rows(1).shape == (0, 40)
    np.testing.assert_allclose(exact.rows @ exact.rows.T, np.eye(exact.rows.shape[0]), atol=1e-6)


def test_a_sequence_with_mismatched_input_sizes_is_refused():
    rng = np.random.default_rng(0)
    tasks = [CueTask(rng.random((4, 2, 8)), 0), CueTask(rng.random((4, 2, 6)), 8)]
    with pytest.raises(ValueError, match=r"task 1 has cues of shape \(4, 2, 6\).*task 0 has"):
        TaskSequence(tasks)
    overlapping = [CueTask(rng.random((4, 2, 8)), 0), CueTask(rng.random((4, 2, 8)), 4)]
    with pytest.raises(ValueError, match="overlap"):
        TaskSequence(overlapping)


def test_traces_of_mismatched_sizes_are_refused():
    rng = np.random.default_rng(0)
    window = (2, 4)

    def task(n):
        return TaskData(rng.random((6, 5, n)), rng.integers(0, 2, 6), rng.random((4, 5, n)),
                        rng.integers(0, 2, 4), window)  # fmt: skip

    data = [task(10), task(12)]
    with pytest.raises(ValueError, match=r"task 1's train traces have shape \(6, 5, 12\)"):
        learn_sequence("hlop", data, n_classes=2, learning_rate=0.1, epochs=1)
    with pytest.raises(ValueError, match="mismatched input sizes"):
        ridge_per_task(data, n_classes=2, ridge=1e-3)


def test_gate_outside_unit_interval_is_refused_by_the_sequence():
    rng = np.random.default_rng(0)
    data = [TaskData(rng.random((6, 5, 10)), rng.integers(0, 2, 6), rng.random((4, 5, 10)),
                     rng.integers(0, 2, 4), (2, 4))]  # fmt: skip
    with pytest.raises(ValueError, match=r"gate must be a finite number in \[0, 1\]; got 1.2"):
        learn_sequence("gpm", data, n_classes=2, learning_rate=0.1, epochs=1, gate=1.2)


def test_trials_put_each_task_on_its_own_channels():
    sequence = make_sequence(3, 4, 5, seed=0, stimulus_samples=8, gap_samples=2, noise=0.0)
    trials = sequence.trials(1, 7, seed=3)
    assert trials.signal.shape == (7 * 10, 15)
    signal = trials.signal.reshape(7, 10, 15)
    assert np.all(signal[:, :, :5] == 0) and np.all(signal[:, :, 10:] == 0)
    assert np.all(signal[:, 8:] == 0)  # the gap is silent
    first = sequence.tasks[1].patterns[trials.labels, 0]
    np.testing.assert_array_equal(signal[:, 0, 5:10], first)
    assert trials.window == (4, 8)
