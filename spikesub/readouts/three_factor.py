"""Error-modulated, attention-gated three-factor Hebbian readout.

Per step ``t`` (``dt_ms`` apart), for output ``i`` and input ``j``:

* output, before the update: ``y_i(t) = sum_j W_ij r_j(t)``;
* factor 1 (pre): the input trace ``r_j(t)`` (already filtered reservoir spikes);
* factor 2 (post): ``post="none"`` (default) uses 1, the right choice for a linear readout,
  whose output neurons need no postsynaptic activity to learn; ``post="output"`` uses
  ``y_i(t)`` (Hebbian pre x post);
* eligibility: ``e_ij(t) = d e_ij(t-1) + (1 - d) pre_j(t) post_i(t)`` with
  ``d = exp(-dt_ms / tau_eligibility_ms)`` (``d = 0`` for ``tau_eligibility_ms = 0``). The
  factor ``1 - d`` gives the trace unit gain for a constant input, so ``learning_rate`` means
  the same for every time constant, and ``tau_eligibility_ms = 0`` gives ``e_ij = pre_j
  post_i`` exactly. With ``post="none"`` the trace is kept per input, shape (n_inputs,);
* third factor: the signed prediction error ``err_i(t) = target_i(t) - y_i(t)``;
* gate ``g(t)`` in [0, 1] (attention; shape (time,) for all outputs or (time, n_outputs)):
  plasticity only where ``g > 0``, ``dW_ij = learning_rate g_i(t) err_i(t) e_ij(t)``.

With a constant gate of 1, ``tau_eligibility_ms = 0`` and ``post="none"`` this is the delta
(LMS) rule ``W <- W + learning_rate (target - W r) r^T``.

Outputs flagged in ``online_outputs`` apply ``dW`` at every step. The others add it to
``pending`` (their error is computed with their current, unchanged weights), and
:meth:`ThreeFactorReadout.consolidate` folds ``consolidation_rate * pending`` into their
weights: learn "when" online, in real time, and consolidate "what" offline between blocks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from spikesub.kernels.plasticity import three_factor_run_numba, three_factor_run_numpy
from spikesub.models.validation import (
    as_real_array,
    check_choice,
    check_finite_array,
    check_int,
    check_real,
)
from spikesub.readouts.base import (
    Readout,
    ReadoutDivergedError,
    resolve_readout_backend,
)

POST_FACTORS: tuple[str, ...] = ("none", "output")


class ThreeFactorReadout(Readout):
    """Readout trained by the error-modulated, gated three-factor rule (see module docstring).

    Args:
        n_inputs: number of input traces.
        n_outputs: number of outputs.
        learning_rate: > 0, per step.
        tau_eligibility_ms: eligibility time constant in ms, >= 0 (0: no memory).
        dt_ms: step of the traces in ms, > 0.
        online_outputs: (n_outputs,) bool mask, or one bool for all (default all True).
        consolidation_rate: >= 0, factor of ``pending`` folded in by :meth:`consolidate`.
        weight_init: None (zeros), a number ``s`` (Gaussian weights of standard deviation
            ``s / sqrt(n_inputs)`` drawn with ``seed``) or an (n_outputs, n_inputs) array.
        seed: int or ``numpy.random.Generator``, used by a numeric ``weight_init``.
        dtype: float32 (default) or float64, of ``weights`` and ``pending``.
        backend: ``"numpy"``, ``"numba"`` or ``"auto"`` (= numba).
        post: ``"none"`` (factor 2 is 1) or ``"output"`` (factor 2 is the output ``y_i``).

    Attributes:
        weights: (n_outputs, n_inputs). pending: (n_outputs, n_inputs), accumulated updates of
            the outputs that are not online. eligibility: (n_inputs,) for ``post="none"``,
            else (n_outputs, n_inputs), float64.
    """

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        *,
        learning_rate: float = 1e-3,
        tau_eligibility_ms: float = 0.0,
        dt_ms: float = 1.0,
        online_outputs: Any = None,
        consolidation_rate: float = 1.0,
        weight_init: Any = None,
        seed: int | np.random.Generator = 0,
        dtype: Any = np.float32,
        backend: str = "auto",
        post: str = "none",
    ):
        super().__init__(n_inputs, n_outputs, dtype)
        self.learning_rate = check_real("learning_rate", learning_rate, low=0.0, low_open=True)
        self.tau_eligibility_ms = check_real("tau_eligibility_ms", tau_eligibility_ms, low=0.0)
        self.dt_ms = check_real("dt_ms", dt_ms, low=0.0, low_open=True)
        self.consolidation_rate = check_real("consolidation_rate", consolidation_rate, low=0.0)
        self.backend = resolve_readout_backend(backend)
        self._backend_name = backend
        self.post = check_choice("post", post, POST_FACTORS)
        self.online_outputs = self._check_online(online_outputs)
        self._seed = seed if isinstance(seed, int) else None
        self._weight_init_scale: float | None = None
        if weight_init is not None:
            if isinstance(weight_init, (int, float)) and not isinstance(weight_init, bool):
                scale = check_real("weight_init", weight_init, low=0.0)
                self._weight_init_scale = scale
                rng = np.random.default_rng(seed)
                w0 = rng.standard_normal((self.n_outputs, self.n_inputs)) * (
                    scale / math.sqrt(self.n_inputs)
                )
                with np.errstate(over="ignore"):
                    w0 = w0.astype(self.dtype)
                if not np.isfinite(w0).all():
                    raise ValueError(
                        f"weight_init = {scale:g} gives weights too large for {self.dtype}; "
                        "use a smaller scale"
                    )
                self._weights = w0
            else:
                self.weights = weight_init
        self._pending = np.zeros_like(self._weights)
        rows = self.n_outputs if post == "output" else 1
        self._eligibility = np.zeros((rows, self.n_inputs), dtype=np.float64)
        self._steps = 0

    @classmethod
    def _state_bytes(cls, n_inputs: int, n_outputs: int) -> float:
        # pending updates and eligibility traces
        return 3.0 * super()._state_bytes(n_inputs, n_outputs)

    # -- parameters ---------------------------------------------------------------------------
    def _check_online(self, online: Any) -> np.ndarray:
        if online is None:
            return np.ones(self.n_outputs, dtype=bool)
        if isinstance(online, (bool, np.bool_)):
            return np.full(self.n_outputs, bool(online))
        mask = np.asarray(online)
        if mask.dtype != bool or mask.shape != (self.n_outputs,):
            raise ValueError(
                f"online_outputs must be a bool or a bool array of shape ({self.n_outputs},); "
                f"got {mask.dtype} array of shape {mask.shape}"
            )
        return mask.copy()

    @property
    def decay(self) -> float:
        """Per-step decay of the eligibility trace, ``exp(-dt_ms / tau_eligibility_ms)``."""
        if self.tau_eligibility_ms == 0.0:
            return 0.0
        return math.exp(-self.dt_ms / self.tau_eligibility_ms)

    @property
    def pending(self) -> np.ndarray:
        """Accumulated, not yet applied updates, (n_outputs, n_inputs); zero for online rows."""
        return self._pending

    @property
    def eligibility(self) -> np.ndarray:
        """Eligibility traces, float64: (n_inputs,) for ``post="none"`` (one per input),
        (n_outputs, n_inputs) for ``post="output"`` (a view of the state, not a copy)."""
        return self._eligibility[0] if self.post == "none" else self._eligibility

    def reset_eligibility(self) -> None:
        """Set the eligibility traces to zero (start of a new, unrelated stream)."""
        self._eligibility[...] = 0.0

    def _check_gate(self, gate: Any, n_steps: int) -> np.ndarray:
        if gate is None:
            return np.ones((n_steps, 1), dtype=np.float64)
        g = as_real_array("gate", gate)
        if g.ndim == 1:
            g = g[:, None]
        if g.ndim != 2 or g.shape[0] != n_steps or g.shape[1] not in (1, self.n_outputs):
            raise ValueError(
                f"gate must have shape ({n_steps},) or ({n_steps}, {self.n_outputs}) "
                f"(time[, n_outputs]); got {np.shape(gate)}"
            )
        check_finite_array("gate", g)
        if g.size and (g.min() < 0.0 or g.max() > 1.0):
            raise ValueError(
                f"gate values must lie in [0, 1]; got values in [{g.min():g}, {g.max():g}]"
            )
        return np.ascontiguousarray(g, dtype=np.float64)

    # -- learning -----------------------------------------------------------------------------
    def fit_online(self, traces: Any, targets: Any, *, gate: Any = None) -> np.ndarray:
        """Stream a recording through the rule; returns the outputs produced before each
        step's update.

        Args:
            traces: (time, n_inputs). targets: (time, n_outputs).
            gate: None (always open), (time,) or (time, n_outputs), values in [0, 1].

        Returns:
            (time, n_outputs) float64 outputs.

        Raises:
            ValueError: shapes, non-finite values or a gate outside [0, 1].
            ReadoutDivergedError: an output or the weights became non-finite; the readout is
                restored to its state at the start of this call.
        """
        x, y = self._check_recording(traces, targets)
        g = self._check_gate(gate, x.shape[0])
        out = np.empty((x.shape[0], self.n_outputs), dtype=np.float64)
        saved = (self._weights.copy(), self._pending.copy(), self._eligibility.copy())
        run = three_factor_run_numba if self.backend == "numba" else three_factor_run_numpy
        bad = run(
            self._weights,
            self._pending,
            self._eligibility,
            x,
            y,
            g,
            self.learning_rate,
            self.decay,
            self.online_outputs,
            out,
        )
        if bad >= 0:
            self._weights[...], self._pending[...], self._eligibility[...] = saved
            raise ReadoutDivergedError(bad, type(self).__name__, "lower learning_rate")
        self._steps += x.shape[0]
        return out

    def consolidate(self) -> float:
        """Fold the pending updates of the outputs that are not online into their weights,
        ``W[off] += consolidation_rate * pending[off]``, and clear ``pending``.

        Returns:
            The Frobenius norm of the change applied to the weights.
        """
        off = ~self.online_outputs
        delta = self.consolidation_rate * np.asarray(self._pending[off], dtype=np.float64)
        new = np.asarray(self._weights[off], dtype=np.float64) + delta
        if not np.isfinite(new.astype(self.dtype)).all():
            raise ReadoutDivergedError(None, type(self).__name__, "consolidating pending")
        self._weights[off] = new
        self._pending[...] = 0.0
        return float(np.linalg.norm(delta))

    def fit_offline(
        self, traces: Any, targets: Any, *, gate: Any = None, epochs: int = 1
    ) -> ThreeFactorReadout:
        """``epochs`` passes over the recording, each a :meth:`fit_online` (eligibility reset at
        its start) followed by :meth:`consolidate`, so outputs that are not online take one
        batch step per pass. Starts from the current weights."""
        epochs = check_int("epochs", epochs, minimum=1)
        x, y = self._check_recording(traces, targets)  # before the eligibility is reset
        g = self._check_gate(gate, x.shape[0])
        for _ in range(epochs):
            self.reset_eligibility()
            self.fit_online(x, y, gate=g)
            self.consolidate()
        return self

    # -- state --------------------------------------------------------------------------------
    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {
            "weights": self._weights,
            "pending": self._pending,
            "eligibility": self._eligibility,
        }

    def config(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "n_inputs": self.n_inputs,
            "n_outputs": self.n_outputs,
            "learning_rate": self.learning_rate,
            "tau_eligibility_ms": self.tau_eligibility_ms,
            "dt_ms": self.dt_ms,
            "online_outputs": [bool(v) for v in self.online_outputs],
            "consolidation_rate": self.consolidation_rate,
            "weight_init": self._weight_init_scale,
            "seed": self._seed,
            "dtype": self.dtype.name,
            "backend": self._backend_name,
            "post": self.post,
        }
