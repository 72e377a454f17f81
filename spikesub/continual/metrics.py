"""Accuracy matrix and the continual-learning scores computed from it.

``R[i, k]`` is the test accuracy (a fraction in [0, 1]) on task ``k`` after training on tasks
``0..i``; entries not evaluated are NaN. With ``T`` tasks, as in GPM (Saha et al., 2021) and
HLOP (Xiao et al., 2024):

* ``ACC = mean_k R[T-1, k]`` (final average accuracy);
* ``BWT = mean_{k < T-1} (R[T-1, k] - R[k, k])`` (backward transfer; negative means
  forgetting). It is undefined (NaN) with a single task or when the diagonal was not
  evaluated, as for multitask training, which fills only the last row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from spikesub.continual.tasks import Task

__all__ = [
    "acc",
    "accuracy_matrix",
    "bwt",
    "class_mask",
    "correct_counts",
    "evaluate",
    "masked_logits",
]

#: Value given to the logits of classes outside a task (finite, so no NaN in the loss).
MASK_VALUE = -1e9


def accuracy_matrix(n_tasks: int) -> np.ndarray:
    """An empty ``(n_tasks, n_tasks)`` float64 accuracy matrix (all NaN)."""
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, (int, np.integer)) or n_tasks < 1:
        raise ValueError(f"n_tasks must be an int >= 1; got {n_tasks!r}")
    return np.full((int(n_tasks), int(n_tasks)), np.nan)


def _check_matrix(R: np.ndarray) -> np.ndarray:
    R = np.asarray(R, dtype=np.float64)
    if R.ndim != 2 or R.shape[0] != R.shape[1] or R.shape[0] < 1:
        raise ValueError(f"R must be a square (T, T) matrix with T >= 1; got shape {R.shape}")
    return R


def acc(R: np.ndarray) -> float:
    """Mean of the last row of ``R`` (NaN if any entry of it is NaN)."""
    R = _check_matrix(R)
    return float(np.mean(R[-1]))


def bwt(R: np.ndarray) -> float:
    """Backward transfer: mean over ``k < T-1`` of ``R[T-1, k] - R[k, k]``; NaN if undefined."""
    R = _check_matrix(R)
    n = R.shape[0]
    if n < 2:
        return float("nan")
    return float(np.mean(R[-1, :-1] - np.diag(R)[:-1]))


def class_mask(classes: Sequence[int], n_outputs: int) -> torch.Tensor:
    """Boolean ``(n_outputs,)`` tensor, True at ``classes``."""
    mask = torch.zeros(n_outputs, dtype=torch.bool)
    idx = torch.as_tensor(list(classes), dtype=torch.long)
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= n_outputs):
        raise ValueError(f"classes {tuple(classes)} lie outside the {n_outputs} outputs")
    mask[idx] = True
    return mask


def masked_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Logits with the entries outside ``mask`` set to :data:`MASK_VALUE`.

    Args:
        logits: ``(B, n_outputs)``.
        mask: ``(n_outputs,)`` (one task) or ``(B, n_outputs)`` (one task per sample), bool.
    """
    if bool(mask.all()):
        return logits
    return logits.masked_fill(~mask.to(logits.device), MASK_VALUE)


def evaluate(
    model: Callable[[torch.Tensor], torch.Tensor],
    tasks: Sequence[Task],
    *,
    batch_size: int = 1000,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Test accuracy of ``model`` on every task, logits restricted to each task's classes.

    Args:
        model: maps ``(B, features)`` float32 to logits ``(B, n_outputs)``; put in eval mode
            (and back in train mode afterwards) when it is an ``nn.Module``.
        tasks: the tasks whose test sets are scored.
        batch_size: samples per forward pass.
        device: where the inputs are sent.

    Returns:
        ``(len(tasks),)`` float64 accuracies in [0, 1] (NaN for an empty test set).
    """
    correct = correct_counts(model, tasks, batch_size=batch_size, device=device)
    out = np.full(len(tasks), np.nan)
    for k, task in enumerate(tasks):
        n = len(task.y_test)
        if n:
            out[k] = int(correct[k]) / n
    return out


@torch.no_grad()
def correct_counts(
    model: Callable[[torch.Tensor], torch.Tensor],
    tasks: Sequence[Task],
    *,
    batch_size: int = 1000,
    device: str | torch.device = "cpu",
    part: Callable[[int], tuple[int, int]] | None = None,
) -> np.ndarray:
    """Test samples of every task that ``model`` classifies right (as :func:`evaluate`).

    Args:
        part: ``part(n) -> (start, stop)``: score only these samples of a test set of ``n``
            (a data-parallel rank's share); None: all of them.

    Returns:
        ``(len(tasks),)`` int64 counts.
    """
    was_training = getattr(model, "training", None)
    if was_training is not None:
        model.eval()
    try:
        out = np.zeros(len(tasks), dtype=np.int64)
        for k, task in enumerate(tasks):
            first, last = (0, len(task.y_test)) if part is None else part(len(task.y_test))
            correct = 0
            mask = None
            for start in range(first, last, batch_size):
                stop = min(start + batch_size, last)
                x = torch.from_numpy(task.x_test[start:stop]).to(device)
                y = torch.from_numpy(task.y_test[start:stop]).to(device)
                logits = model(x)
                if mask is None:
                    mask = class_mask(task.classes, logits.shape[1])
                pred = masked_logits(logits, mask).argmax(1)
                correct += int((pred == y).sum())
            out[k] = correct
        return out
    finally:
        if was_training:
            model.train()
