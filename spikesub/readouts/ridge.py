"""Ridge regression readout: offline least squares, the non-local reference for the rules.

``fit_offline`` solves ``(X^T X + ridge I) W^T = X^T Y`` in float64 on a whole recording
``X`` (time, n_inputs), ``Y`` (time, n_outputs). With ``fit_intercept=True`` a constant
input is appended and its weight (``intercept``, not penalised) is fitted too.

``fit_online`` keeps the sufficient statistics ``X^T X`` and ``X^T Y`` (summed over every
call since creation or the last ``fit_offline``/``reset``), returns the outputs produced
with the weights from *before* the call (the weights do not change within a call) and
re-solves at the end of the call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spikesub.models.validation import check_real, size_in_bytes
from spikesub.readouts.base import Readout, ReadoutDivergedError


class RidgeReadout(Readout):
    """Linear readout fitted by ridge regression.

    Args:
        n_inputs: number of input traces.
        n_outputs: number of outputs.
        ridge: penalty >= 0 (0: ordinary least squares; a singular system then gets the
            minimum-norm solution).
        fit_intercept: also fit a constant offset per output (``intercept``).
        dtype: float64 (default) or float32, of ``weights`` and ``intercept``; the solve is
            float64.

    Attributes:
        weights: (n_outputs, n_inputs). intercept: (n_outputs,), zero unless fitted.
    """

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        *,
        ridge: float = 1e-6,
        fit_intercept: bool = False,
        dtype: Any = np.float64,
    ):
        super().__init__(n_inputs, n_outputs, dtype)
        self.ridge = check_real("ridge", ridge, low=0.0)
        if not isinstance(fit_intercept, (bool, np.bool_)):
            raise TypeError(f"fit_intercept must be a bool; got {fit_intercept!r}")
        self.fit_intercept = bool(fit_intercept)
        self._intercept = np.zeros(self.n_outputs, dtype=self.dtype)
        size = self.n_inputs + (1 if self.fit_intercept else 0)
        self._gram = np.zeros((size, size), dtype=np.float64)
        self._cross = np.zeros((size, self.n_outputs), dtype=np.float64)
        self._steps = 0

    @classmethod
    def _state_bytes(cls, n_inputs: int, n_outputs: int) -> float:
        size = n_inputs + 1  # the Gram matrix, cross products and a copy for the solve
        extra = size_in_bytes(8, size, 2 * size + n_outputs)
        return super()._state_bytes(n_inputs, n_outputs) + extra

    @property
    def intercept(self) -> np.ndarray:
        """Constant offset per output, (n_outputs,)."""
        return self._intercept

    @property
    def n_samples(self) -> int:
        """Time steps in the sufficient statistics."""
        return self._steps

    def _bias(self) -> np.ndarray | None:
        return np.asarray(self._intercept, dtype=np.float64) if self.fit_intercept else None

    def reset(self) -> None:
        """Forget the sufficient statistics (the weights stay until the next fit)."""
        self._gram[...] = 0.0
        self._cross[...] = 0.0
        self._steps = 0

    def _accumulate(self, x: np.ndarray, y: np.ndarray) -> None:
        x64 = np.asarray(x, dtype=np.float64)
        y64 = np.asarray(y, dtype=np.float64)
        n = self.n_inputs
        self._gram[:n, :n] += x64.T @ x64
        self._cross[:n] += x64.T @ y64
        if self.fit_intercept:
            s = x64.sum(axis=0)
            self._gram[n, :n] += s
            self._gram[:n, n] += s
            self._gram[n, n] += x64.shape[0]
            self._cross[n] += y64.sum(axis=0)
        self._steps += x64.shape[0]

    def _solve(self) -> None:
        n = self.n_inputs
        a = self._gram.copy()
        a[np.arange(n), np.arange(n)] += self.ridge
        try:
            sol = np.linalg.solve(a, self._cross)
            if not np.isfinite(sol).all():
                raise np.linalg.LinAlgError("non-finite solution")
        except np.linalg.LinAlgError:
            sol = np.linalg.lstsq(a, self._cross, rcond=None)[0]
        with np.errstate(over="ignore", invalid="ignore"):
            weights = sol[:n].T.astype(self.dtype)
            intercept = sol[n].astype(self.dtype) if self.fit_intercept else None
        if not np.isfinite(weights).all() or (
            intercept is not None and not np.isfinite(intercept).all()
        ):
            raise np.linalg.LinAlgError(f"the solution does not fit in {self.dtype}")
        self._weights[...] = weights
        if intercept is not None:
            self._intercept[...] = intercept

    def _fit(self, x: np.ndarray, y: np.ndarray, *, fresh: bool) -> None:
        """Add ``x``, ``y`` to the statistics (after a reset when ``fresh``) and re-solve; on
        failure the readout is left as it was and the error says why."""
        saved = {name: array.copy() for name, array in self._state_arrays().items()}
        steps = self._steps
        try:
            if fresh:
                self.reset()
            with np.errstate(over="ignore", invalid="ignore"):
                self._accumulate(x, y)
            if not (np.isfinite(self._gram).all() and np.isfinite(self._cross).all()):
                raise ValueError(
                    "traces or targets are too large: their products overflow float64 "
                    f"(largest |traces| = {np.abs(x).max():g}, largest |targets| = "
                    f"{np.abs(y).max():g}); rescale them"
                )
            self._solve()
        except (ValueError, np.linalg.LinAlgError) as error:
            for name, array in saved.items():
                getattr(self, "_" + name)[...] = array
            self._steps = steps
            if isinstance(error, np.linalg.LinAlgError):
                raise ReadoutDivergedError(
                    None,
                    type(self).__name__,
                    f"the least-squares solve failed ({error}); raise ridge or rescale the traces",
                ) from None
            raise

    def fit_online(self, traces: Any, targets: Any) -> np.ndarray:
        """Add a recording to the sufficient statistics and re-solve at the end.

        Args:
            traces: (time, n_inputs), time >= 1, finite. targets: (time, n_outputs), finite.

        Returns:
            (time, n_outputs) float64 outputs produced with the weights from before the call.

        Raises:
            ValueError: shapes, no time steps, non-finite values (the first one named), or
                values so large that the statistics overflow; the readout is unchanged.
            ReadoutDivergedError: the solve failed; the readout is unchanged.
        """
        x, y = self._check_recording(traces, targets)
        out = self.predict(x)
        self._fit(x, y, fresh=False)
        return out

    def fit_offline(self, traces: Any, targets: Any) -> RidgeReadout:
        """Fit on this recording alone (previous statistics are discarded); errors as
        :meth:`fit_online`'s."""
        x, y = self._check_recording(traces, targets)
        self._fit(x, y, fresh=True)
        return self

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {
            "weights": self._weights,
            "intercept": self._intercept,
            "gram": self._gram,
            "cross": self._cross,
        }

    def config(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "n_inputs": self.n_inputs,
            "n_outputs": self.n_outputs,
            "ridge": self.ridge,
            "fit_intercept": self.fit_intercept,
            "dtype": self.dtype.name,
        }
