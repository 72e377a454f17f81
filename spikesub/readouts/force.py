"""FORCE readout: recursive least squares (Sussillo & Abbott 2009; Nicola & Clopath 2017).

The readout starts from ``W = 0`` and ``P(0) = I / alpha`` (``P`` estimates the inverse of
the input correlation matrix plus ``alpha I``). Every ``update_every`` steps (on the steps
``0, update_every, 2 update_every, ...`` counted since creation or the last
``reset(weights=True)``), with ``y = W r`` the output of that step under the current weights
and ``err = y - target``::

    k = P r;   P <- (P - k k^T / (lam + r.k)) / lam;   W <- W - outer(err, P r)

with ``lam = forgetting`` (1: standard RLS; below 1, old samples are forgotten with weight
``lam`` per update, which tracks a changing target at the cost of noisier weights).

With ``update_every = 1`` and ``forgetting = 1``, after streaming ``X`` (T, N) and ``Y``
(T, m) the weights are exactly (up to rounding) the ridge solution
``(X^T X + alpha I)^{-1} X^T Y``: ``alpha`` is the ridge penalty. Nicola & Clopath's
``P(0) = 2 I`` is ``alpha = 0.5``; Sussillo & Abbott's ``P(0) = I / alpha`` is ``alpha``.

This is the open-loop readout: it learns to map given traces to targets and feeds nothing
back into a reservoir. Closed-loop FORCE (output fed back while learning) runs in a fused
kernel, :mod:`spikesub.kernels.force_loop`, built on the same RLS step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spikesub.kernels.plasticity import rls_run_numba, rls_run_numpy
from spikesub.models.validation import check_int, check_real, size_in_bytes
from spikesub.readouts.base import (
    Readout,
    ReadoutDivergedError,
    resolve_readout_backend,
)


class FORCEReadout(Readout):
    """Readout trained by recursive least squares (FORCE), see the module docstring.

    Args:
        n_inputs: number of input traces N.
        n_outputs: number of outputs.
        alpha: > 0; ``P(0) = I / alpha`` (the ridge penalty of the equivalent batch fit).
        update_every: update the weights every this many steps (>= 1).
        forgetting: forgetting factor in (0, 1]; 1 is standard RLS.
        dtype: float64 (default) or float32, of ``weights`` and ``P``. RLS in float32 loses
            the symmetry and positive definiteness of ``P`` over long runs; prefer float64.
        backend: ``"numpy"``, ``"numba"`` or ``"auto"`` (= numba).

    Attributes:
        weights: (n_outputs, n_inputs). P: (n_inputs, n_inputs).
    """

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        *,
        alpha: float = 1.0,
        update_every: int = 1,
        forgetting: float = 1.0,
        dtype: Any = np.float64,
        backend: str = "auto",
    ):
        super().__init__(n_inputs, n_outputs, dtype)
        self.alpha = check_real("alpha", alpha, low=0.0, low_open=True)
        self.update_every = check_int("update_every", update_every, minimum=1)
        self.forgetting = check_real("forgetting", forgetting, low=0.0, high=1.0, low_open=True)
        self.backend = resolve_readout_backend(backend)
        self._backend_name = backend
        self._P = np.empty((self.n_inputs, self.n_inputs), dtype=self.dtype)
        self._steps = 0
        self.reset(weights=True)

    @classmethod
    def _state_bytes(cls, n_inputs: int, n_outputs: int) -> float:
        return super()._state_bytes(n_inputs, n_outputs) + size_in_bytes(8, n_inputs, n_inputs)

    @property
    def P(self) -> np.ndarray:
        """Inverse correlation estimate, (n_inputs, n_inputs) (the array itself)."""
        return self._P

    @property
    def steps(self) -> int:
        """Steps streamed since creation or the last ``reset(weights=True)``."""
        return self._steps

    def reset(self, weights: bool = False) -> None:
        """``P`` back to ``I / alpha`` ("FORCE with reset"); with ``weights=True`` also
        ``W`` to zero and the step count to 0."""
        self._P[...] = 0.0
        np.fill_diagonal(self._P, 1.0 / self.alpha)
        if weights:
            self._weights[...] = 0.0
            self._steps = 0

    def fit_online(self, traces: Any, targets: Any) -> np.ndarray:
        """Stream a recording through RLS; returns the outputs produced before each step's
        update.

        Args:
            traces: (time, n_inputs). targets: (time, n_outputs).

        Returns:
            (time, n_outputs) float64 outputs.

        Raises:
            ValueError: shapes or non-finite values.
            ReadoutDivergedError: an output or the weights became non-finite; ``P``, the
                weights and the step count are restored to the start of this call (from a
                copy of ``P`` taken at the start of every call: stream long recordings in
                few calls rather than one step per call).
        """
        x, y = self._check_recording(traces, targets)
        out = np.empty((x.shape[0], self.n_outputs), dtype=np.float64)
        saved = (self._weights.copy(), self._P.copy())
        run = rls_run_numba if self.backend == "numba" else rls_run_numpy
        bad = run(
            self._P,
            self._weights,
            x,
            y,
            self.update_every,
            self._steps % self.update_every,
            self.forgetting,
            out,
        )
        if bad >= 0:
            self._weights[...], self._P[...] = saved
            raise ReadoutDivergedError(bad, type(self).__name__, "raise alpha or use float64")
        self._steps += x.shape[0]
        return out

    def fit_offline(self, traces: Any, targets: Any) -> FORCEReadout:
        """Fit on a whole recording: ``reset(weights=True)``, then one pass of
        :meth:`fit_online`. With ``update_every=1`` and ``forgetting=1`` the result is the
        ridge solution with penalty ``alpha``."""
        saved = (self._weights.copy(), self._P.copy(), self._steps)
        self.reset(weights=True)
        try:
            self.fit_online(traces, targets)
        except Exception:
            self._weights[...], self._P[...], self._steps = saved
            raise
        return self

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {"weights": self._weights, "P": self._P}

    def config(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "n_inputs": self.n_inputs,
            "n_outputs": self.n_outputs,
            "alpha": self.alpha,
            "update_every": self.update_every,
            "forgetting": self.forgetting,
            "dtype": self.dtype.name,
            "backend": self._backend_name,
        }
