"""The three-factor readout whose eligibility is projected out of old tasks' subspace.

The output is ``y = W r`` over the whole trace ``r``; the eligibility's presynaptic factor is
``p = r - H^T (H r)``, the trace minus the feedback of lateral neurons ``H`` ``(k, n)``
(the frozen rows of the old tasks: HLOP's Hebbian rows, or an orthonormal GPM basis as
rows). Every other factor is the three-factor rule's (:mod:`spikesub.readouts.three_factor`):
the error ``target - y`` of each output, the gate in [0, 1], the learning rate. Each update
is local: synapse ``(i, j)`` needs output ``i``'s error and gate, and its own input ``j``'s
trace minus the lateral feedback onto that input.

When ``H``'s rows are orthonormal and an old input ``r_old`` lies in their span, every update
``dW = a e^T`` with ``e`` in the orthogonal complement leaves ``W r_old`` unchanged: the old
task's outputs are kept exactly. Hebbian rows are nearly orthonormal, so nearly kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spikesub.kernels.plasticity import three_factor_run_numba, three_factor_run_numpy
from spikesub.models.validation import as_real_array, check_finite_array
from spikesub.readouts import ReadoutDivergedError, ThreeFactorReadout

__all__ = ["ProjectedThreeFactorReadout"]


class ProjectedThreeFactorReadout(ThreeFactorReadout):
    """A :class:`~spikesub.readouts.ThreeFactorReadout` (``post="none"``, every output
    online, plain steps) whose eligibility sees ``r - H^T (H r)``.

    Args:
        n_inputs, n_outputs, learning_rate, tau_eligibility_ms, dt_ms, weight_init, seed,
            dtype, backend: as for :class:`~spikesub.readouts.ThreeFactorReadout`.

    Attributes:
        lateral: ``(k, n_inputs)`` float64 rows ``H`` of the protected subspace (``k = 0``:
            no projection, the plain three-factor rule). Set it with :meth:`protect`.
    """

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        *,
        learning_rate: float = 1e-3,
        tau_eligibility_ms: float = 0.0,
        dt_ms: float = 1.0,
        weight_init: Any = None,
        seed: int | np.random.Generator = 0,
        dtype: Any = np.float64,
        backend: str = "auto",
    ):
        super().__init__(
            n_inputs, n_outputs, learning_rate=learning_rate,
            tau_eligibility_ms=tau_eligibility_ms, dt_ms=dt_ms, weight_init=weight_init,
            seed=seed, dtype=dtype, backend=backend,
        )  # fmt: skip
        if not self._scalar_rate:
            raise ValueError("ProjectedThreeFactorReadout takes one learning_rate for all outputs")
        self._lateral = np.zeros((0, self.n_inputs))

    @property
    def lateral(self) -> np.ndarray:
        return self._lateral

    def protect(self, lateral: Any) -> None:
        """Project the eligibility out of the span of the rows of ``lateral`` ``(k, n_inputs)``
        from now on (``r - H^T (H r)``); an empty ``(0, n_inputs)`` array turns it off."""
        h = as_real_array("lateral", lateral)
        if h.ndim != 2 or h.shape[1] != self.n_inputs:
            raise ValueError(
                f"lateral must have shape (k, {self.n_inputs}) (rows over the inputs); "
                f"got {h.shape}"
            )
        check_finite_array("lateral", h)
        self._lateral = np.array(h, dtype=np.float64)

    def presynaptic(self, traces: np.ndarray) -> np.ndarray:
        """The eligibility's presynaptic factor ``r - H^T (H r)`` of every row of ``traces``."""
        x = np.asarray(traces, dtype=np.float64)
        if self._lateral.shape[0] == 0:
            return x
        return x - (x @ self._lateral.T) @ self._lateral

    def fit_online(self, traces: Any, targets: Any, *, gate: Any = None) -> np.ndarray:
        """Stream a recording through the projected rule; returns the outputs produced
        before each step's update (``(time, n_outputs)`` float64).

        Raises:
            ValueError: shapes, non-finite values or a gate outside [0, 1] (values named).
            ReadoutDivergedError: an output or the weights became non-finite at the step
                named; the weights and eligibility are restored to the start of the call.
        """
        x, y = self._check_recording(traces, targets)
        g = self._check_gate(gate, x.shape[0])
        p = np.ascontiguousarray(self.presynaptic(x))
        out = np.empty((x.shape[0], self.n_outputs), dtype=np.float64)
        saved = (self._weights.copy(), self._eligibility.copy())
        run = three_factor_run_numba if self.backend == "numba" else three_factor_run_numpy
        online = np.ones(self.n_outputs, dtype=bool)  # every output learns at every step
        bad = run(
            self._weights, self._pending, self._eligibility, x, p, y, g, self._rates[0],
            self.decay, online, out,
        )  # fmt: skip
        if bad >= 0:
            self._weights[...], self._eligibility[...] = saved
            raise ReadoutDivergedError(
                bad, type(self).__name__, f"lower learning_rate (now {self._rate_text()})"
            )
        self._steps += x.shape[0]
        return out

    def config(self) -> dict[str, Any]:
        keep = ("n_inputs", "n_outputs", "learning_rate", "tau_eligibility_ms", "dt_ms",
                "weight_init", "seed", "dtype", "backend")  # fmt: skip
        base = super().config()
        return {"type": type(self).__name__, **{k: base[k] for k in keep}}
