"""Linear readouts of reservoir states for the benchmark tasks: one fit, many ridge penalties.

Every model of the reservoir-computing benchmark (spiking or echo-state) is read the same
way: its states, centred on the training rows and divided by their root-mean-square there
(one scale for all features), feed a ridge regression with an unpenalised intercept. The
penalty is relative (``ridge * rows`` on states of unit mean square), so one grid suits
states of any scale. One scale rather than one per feature: a spiking neuron that fired
twice in the training rows would otherwise be magnified a hundredfold and dominate the
readout wherever it fires more.
:class:`RidgePath` decomposes the training rows once (thin SVD) and then gives the weights
of any penalty at the cost of a matrix product, so choosing the penalty on a validation
split costs little more than one fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spikesub.models.validation import check_real

__all__ = ["RidgePath", "delayed_inputs", "squared_correlations"]


class RidgePath:
    """Ridge regressions of ``targets`` on ``states``, for any penalty, from one SVD.

    Args:
        states: ``(rows, features)`` the training rows.
        targets: ``(rows,)`` or ``(rows, outputs)``.

    Raises:
        ValueError: shapes that disagree, no rows, or non-finite values.
    """

    def __init__(self, states: Any, targets: Any) -> None:
        x = np.asarray(states, dtype=np.float64)
        y = np.asarray(targets, dtype=np.float64)
        self.one_output = y.ndim == 1
        y = y[:, None] if y.ndim == 1 else y
        if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] < 2:
            raise ValueError(
                f"states must be (rows >= 2, features) and targets (rows,) or (rows, outputs); "
                f"got {x.shape} and {y.shape}"
            )
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ValueError("states and targets must be finite")
        self.rows = x.shape[0]
        self.mean = x.mean(axis=0)
        rms = float(np.sqrt(np.mean((x - self.mean) ** 2)))
        self.scale = rms if rms > 0.0 else 1.0
        self.target_mean = y.mean(axis=0)
        u, s, vt = np.linalg.svd((x - self.mean) / self.scale, full_matrices=False)
        self._s = s
        self._vt = vt
        self._uty = u.T @ (y - self.target_mean)

    def weights(self, ridge: float) -> np.ndarray:
        """``(features, outputs)`` weights on the standardised states for penalty ``ridge``
        (>= 0; 0 is the least-squares solution of least norm)."""
        ridge = check_real("ridge", ridge, low=0.0)
        s = self._s
        denom = s**2 + ridge * self.rows
        safe = np.where(denom > 0.0, denom, 1.0)
        factor = np.where(denom > 0.0, s / safe, 0.0)
        return self._vt.T @ (factor[:, None] * self._uty)

    def predict(self, states: Any, ridge: float) -> np.ndarray:
        """The readout of ``states`` ``(rows, features)`` with penalty ``ridge``: ``(rows,)``
        when the targets were one column, else ``(rows, outputs)``."""
        x = (np.asarray(states, dtype=np.float64) - self.mean) / self.scale
        out = x @ self.weights(ridge) + self.target_mean
        return out[:, 0] if self.one_output else out

    def predict_all(self, states: Any, ridges: Sequence[float]) -> list[np.ndarray]:
        """:meth:`predict` for each penalty of ``ridges``."""
        return [self.predict(states, ridge) for ridge in ridges]


def delayed_inputs(u: Any, rows: Any, max_delay: int) -> np.ndarray:
    """``(len(rows), max_delay)``: for each row ``t`` of ``rows``, ``u(t - 1) .. u(t -
    max_delay)`` (the memory-capacity targets); every ``t`` must be ``>= max_delay``."""
    u = np.asarray(u, dtype=np.float64)
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size and rows.min() < max_delay:
        raise ValueError(f"rows must start at or after max_delay = {max_delay}; got {rows.min()}")
    return np.stack([u[rows - k] for k in range(1, max_delay + 1)], axis=1)


def squared_correlations(prediction: Any, truth: Any) -> np.ndarray:
    """``(outputs,)`` squared correlation of each column of ``prediction`` with the same
    column of ``truth`` (0 where either is constant): the capacity per delay."""
    a = np.asarray(prediction, dtype=np.float64)
    b = np.asarray(truth, dtype=np.float64)
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    num = (a * b).sum(axis=0) ** 2
    den = (a * a).sum(axis=0) * (b * b).sum(axis=0)
    return np.where(den > 0.0, num / np.where(den > 0.0, den, 1.0), 0.0)
