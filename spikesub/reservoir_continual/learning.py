"""Learning a task sequence with the three-factor readout, protected or not, and the ridge
reference.

Methods (:data:`METHODS`), all on the same traces:

* ``"unprotected"``: the three-factor rule, eligibility = the trace ``r``;
* ``"hlop"``: eligibility ``r - H^T (H r)`` with ``H`` the frozen lateral Hebbian rows of the
  old tasks (:class:`~spikesub.reservoir_continual.protection.HebbianProtection`);
* ``"gpm"``: the same with an exact SVD basis of the old tasks' traces
  (:class:`~spikesub.reservoir_continual.protection.ExactProtection`);
* ``"ridge"``: a ridge readout fitted on each task alone and scored on that task only (the
  reference: what the reservoir's traces allow when nothing has to be remembered).

A task is learnt in ``epochs`` passes over its training trials (a new seeded order each
pass), streamed as one recording: one-hot targets, the gate open (at ``gate``) in each trial's
response window only. After the task, its traces in the response windows are handed to the
protection, which extends the subspace later tasks' eligibility is projected out of.
Accuracy: the argmax of the output averaged over the response window, on held-out trials.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spikesub.continual.metrics import accuracy_matrix
from spikesub.models.validation import check_choice, check_int, check_real
from spikesub.readouts import ReadoutDivergedError, RidgeReadout
from spikesub.reservoir_continual.protection import (
    ExactProtection,
    HebbianProtection,
    Protection,
)
from spikesub.reservoir_continual.readout import ProjectedThreeFactorReadout

__all__ = [
    "METHODS",
    "SequenceResult",
    "TaskData",
    "learn_sequence",
    "ridge_per_task",
    "window_accuracy",
]

METHODS: tuple[str, ...] = ("unprotected", "hlop", "gpm", "ridge")
"""The methods compared, in the order of the tables and figures."""

LABELS = {
    "unprotected": "three-factor, unprotected",
    "hlop": "three-factor + HLOP lateral circuit",
    "gpm": "three-factor + GPM (exact SVD basis)",
    "ridge": "ridge per task (reference)",
}


@dataclass(frozen=True)
class TaskData:
    """One task's traces: ``train`` / ``test`` ``(trials, trial_samples, features)``, their
    labels ``(trials,)``, and the response window's samples ``(start, stop)``."""

    train: np.ndarray
    train_labels: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray
    window: tuple[int, int]

    def window_rows(self) -> np.ndarray:
        """The training traces in the response windows, ``(trials * window, features)``."""
        start, stop = self.window
        return self.train[:, start:stop].reshape(-1, self.train.shape[-1])


@dataclass
class SequenceResult:
    """What learning a sequence gave: ``R`` ``(T, T)`` (NaN above the diagonal), the
    protected rows added after each task, and the readout."""

    R: np.ndarray
    k_per_task: list[int] = field(default_factory=list)
    rows_per_task: list[np.ndarray] = field(default_factory=list)
    readout: ProjectedThreeFactorReadout | None = None


def check_sequence_data(data: list[TaskData]) -> int:
    """The feature count every task shares; ValueError naming a task whose traces differ."""
    if not data:
        raise ValueError("the task sequence is empty")
    n = data[0].train.shape[-1]
    for t, task in enumerate(data):
        for name in ("train", "test"):
            shape = getattr(task, name).shape
            if len(shape) != 3 or shape[-1] != n:
                raise ValueError(
                    f"task {t}'s {name} traces have shape {shape}; every task needs (trials, "
                    f"samples, {n}) (task 0's input size): mismatched input sizes"
                )
    return int(n)


def window_accuracy(
    readout, traces: np.ndarray, labels: np.ndarray, window: tuple[int, int]
) -> float:
    """Fraction of trials whose output averaged over the response window peaks at the label."""
    start, stop = window
    n, _, features = traces.shape
    out = readout.predict(traces[:, start:stop].reshape(-1, features))
    answer = out.reshape(n, stop - start, -1).mean(axis=1).argmax(axis=1)
    return float(np.mean(answer == labels))


def _stream(task: TaskData, order: np.ndarray, n_classes: int, gate: float):
    """Trials in ``order`` as one recording: traces, one-hot targets and the gate."""
    traces = task.train[order]
    n, samples, features = traces.shape
    targets = np.repeat(np.eye(n_classes)[task.train_labels[order]], samples, axis=0)
    open_ = np.zeros(samples)
    open_[task.window[0] : task.window[1]] = gate
    return traces.reshape(n * samples, features), targets, np.tile(open_, n)


def make_protection(method: str, n_inputs: int, options: dict) -> Protection:
    """The protection of ``method`` (``options``: ``energy_threshold``, ``hebbian_epochs``,
    ``hebbian_lr``, ``hebbian_momentum``, ``seed``)."""
    if method == "hlop":
        return HebbianProtection(
            n_inputs, options.get("energy_threshold", 0.97),
            epochs=options.get("hebbian_epochs", 100), lr=options.get("hebbian_lr", 0.5),
            momentum=options.get("hebbian_momentum", 0.9), seed=options.get("seed", 0),
        )  # fmt: skip
    if method == "gpm":
        return ExactProtection(n_inputs, options.get("energy_threshold", 0.97))
    return Protection(n_inputs)


def learn_sequence(
    method: str,
    data: list[TaskData],
    *,
    n_classes: int,
    learning_rate: float,
    epochs: int,
    gate: float = 1.0,
    energy_threshold: float = 0.97,
    hebbian_epochs: int = 100,
    hebbian_lr: float = 0.5,
    hebbian_momentum: float = 0.9,
    seed: int = 0,
    backend: str = "numba",
) -> SequenceResult:
    """Learn the tasks of ``data`` in order with ``method`` (``"unprotected"``, ``"hlop"``
    or ``"gpm"``) and score every task seen so far after each.

    Raises:
        ValueError: an unknown method, mismatched input sizes, a gate outside [0, 1], a
            setting out of range (each named).
        ReadoutDivergedError: the rule diverged; the message names the step, the task and
            the pass, and the readout is left as it was at the start of that pass.
    """
    method = check_choice("method", method, METHODS[:3])
    n_inputs = check_sequence_data(data)
    gate = check_real("gate", gate, low=0.0, high=1.0)
    epochs = check_int("epochs", epochs, minimum=1)
    readout = ProjectedThreeFactorReadout(
        n_inputs, n_classes, learning_rate=learning_rate, backend=backend
    )
    protection = make_protection(
        method, n_inputs,
        {"energy_threshold": energy_threshold, "hebbian_epochs": hebbian_epochs,
         "hebbian_lr": hebbian_lr, "hebbian_momentum": hebbian_momentum, "seed": seed},
    )  # fmt: skip
    rng = np.random.default_rng([seed, 11])
    R = accuracy_matrix(len(data))
    result = SequenceResult(R, readout=readout)
    for t, task in enumerate(data):
        readout.protect(protection.rows)
        for epoch in range(epochs):
            order = rng.permutation(len(task.train_labels))
            traces, targets, gates = _stream(task, order, n_classes, gate)
            readout.reset_eligibility()
            try:
                readout.fit_online(traces, targets, gate=gates)
            except ReadoutDivergedError as error:
                raise ReadoutDivergedError(
                    error.step, error.readout,
                    f"method {method}, task {t}, pass {epoch}: lower learning_rate (now "
                    f"{learning_rate:g}; stable below about 2 for traces of unit mean "
                    "squared norm)",
                ) from None  # fmt: skip
        for k in range(t + 1):
            R[t, k] = window_accuracy(readout, data[k].test, data[k].test_labels, data[k].window)
        result.k_per_task.append(protection.add_task(task.window_rows()))
        result.rows_per_task.append(protection.task_rows(t).copy())
    return result


def ridge_per_task(data: list[TaskData], *, n_classes: int, ridge: float) -> np.ndarray:
    """Test accuracy of a ridge readout (with intercept) fitted on each task's response
    windows alone, scored on that task: ``(T,)``."""
    n_inputs = check_sequence_data(data)
    out = np.empty(len(data))
    for t, task in enumerate(data):
        start, stop = task.window
        rows = task.window_rows()
        targets = np.repeat(np.eye(n_classes)[task.train_labels], stop - start, axis=0)
        readout = RidgeReadout(n_inputs, n_classes, ridge=ridge, fit_intercept=True)
        readout.fit_offline(rows, targets)
        out[t] = window_accuracy(readout, task.test, task.test_labels, task.window)
    return out
