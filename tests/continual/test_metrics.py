"""Accuracy matrix scores (ACC, BWT) on matrices worked out by hand, and task-masked evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikesub.continual.metrics import (
    acc,
    accuracy_matrix,
    bwt,
    class_mask,
    evaluate,
    masked_logits,
)
from spikesub.continual.tasks import Task

NAN = np.nan


def test_acc_and_bwt_by_hand():
    R = np.array(
        [
            [0.90, 0.10, 0.12],
            [0.80, 0.85, 0.11],
            [0.70, 0.75, 0.95],
        ]
    )
    # ACC = (0.70 + 0.75 + 0.95) / 3; BWT = ((0.70 - 0.90) + (0.75 - 0.85)) / 2
    assert acc(R) == pytest.approx(0.8)
    assert bwt(R) == pytest.approx(-0.15)


def test_bwt_positive_when_old_tasks_improve():
    R = np.array([[0.5, NAN], [0.7, 0.9]])
    assert bwt(R) == pytest.approx(0.2)
    assert acc(R) == pytest.approx(0.8)


def test_multitask_fills_only_last_row_so_bwt_is_undefined():
    R = accuracy_matrix(4)
    R[-1] = [0.9, 0.8, 0.7, 0.6]
    assert acc(R) == pytest.approx(0.75)
    assert np.isnan(bwt(R))


def test_single_task_has_no_backward_transfer():
    R = np.array([[0.93]])
    assert acc(R) == pytest.approx(0.93)
    assert np.isnan(bwt(R))


def test_accuracy_matrix_is_all_nan_and_validates():
    R = accuracy_matrix(3)
    assert R.shape == (3, 3) and np.isnan(R).all()
    with pytest.raises(ValueError, match="n_tasks"):
        accuracy_matrix(0)
    with pytest.raises(ValueError, match="square"):
        acc(np.zeros((2, 3)))


def test_masked_logits_restricts_to_the_task_classes():
    logits = torch.tensor([[0.0, 1.0, 5.0, 2.0], [3.0, 0.0, 9.0, 1.0]])
    mask = class_mask((0, 1), 4)
    assert masked_logits(logits, mask).argmax(1).tolist() == [1, 0]
    per_sample = torch.tensor([[False, False, True, True], [True, True, False, False]])
    assert masked_logits(logits, per_sample).argmax(1).tolist() == [2, 0]
    full = class_mask(range(4), 4)
    assert masked_logits(logits, full) is logits
    with pytest.raises(ValueError, match="outside"):
        class_mask((3, 4), 4)


def _task(y_test, classes, n_features=3):
    y_test = np.asarray(y_test, dtype=np.int64)
    x_test = np.zeros((len(y_test), n_features), dtype=np.float32)
    x_test[:, 0] = np.arange(len(y_test))  # the sample index, read back by the fake model
    return Task("t", x_test[:1], y_test[:1], x_test, y_test, tuple(classes))


def test_evaluate_counts_correct_predictions_per_task():
    # the model always puts its largest logit on class 9 and its second largest on the
    # sample's index parity (0 or 1)
    def model(x):
        logits = torch.zeros(x.shape[0], 10)
        logits[:, 9] = 10.0
        logits[torch.arange(x.shape[0]), (x[:, 0].long() % 2)] = 5.0
        return logits

    shared = _task([0, 1, 9, 9], range(10))  # all 10 outputs: predicts 9 everywhere
    split = _task([0, 1, 1, 1], (0, 1))  # masked to (0, 1): predicts 0, 1, 0, 1
    scores = evaluate(model, [shared, split], batch_size=3)
    assert scores.tolist() == pytest.approx([0.5, 0.75])


def test_evaluate_restores_training_mode():
    model = torch.nn.Linear(3, 10)
    model.train()
    evaluate(model, [_task([1, 2], range(10))])
    assert model.training
