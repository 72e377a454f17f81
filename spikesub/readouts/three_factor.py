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

Normalised outputs (``normalised_outputs``, with ``post="none"``) take a step of fixed size
relative to the error instead, as normalised LMS does, along a high-passed eligibility:
with ``s_j`` the eligibility low-passed with ``highpass_tau_ms`` (0: ``s = 0``) and
``h = e - s``, ``dW_i = learning_rate_i g_i(t) err_i(t) h / (h . r(t))``, which moves the
output on this input by ``learning_rate_i g_i err_i``. Every term is local to output ``i``
and its synapses: the input's own two traces and a sum over the output's synapses. The
reason: the traces of a sustained input share a large common component (filtered rates
that stay up all trial), so the input correlation matrix has one huge eigenvalue and the
directions that tell time apart are small; a plain step learns the common component at
once and the timing very slowly, while a step along ``h`` works on the timing directions
at the rate ``learning_rate_i`` asks for.

Outputs flagged in ``online_outputs`` apply ``dW`` at every step. The others add it to
``pending`` (their error is computed with their current, unchanged weights), and
:meth:`ThreeFactorReadout.consolidate` folds ``consolidation_rate * pending`` into their
weights: learn "when" online, in real time, and consolidate "what" offline between blocks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from spikesub.kernels.plasticity import (
    three_factor_nlms_run_numba,
    three_factor_nlms_run_numpy,
    three_factor_run_numba,
    three_factor_run_numpy,
)
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
        learning_rate: > 0, per step; one number, or one per output ((n_outputs,)).
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
        normalised_outputs: (n_outputs,) bool mask or one bool (default none): outputs that
            take the normalised step on the high-passed eligibility (``post="none"`` only).
        highpass_tau_ms: >= 0, time constant of the slow trace subtracted from the
            eligibility of the normalised outputs (0: none, plain normalised LMS).

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
        normalised_outputs: Any = False,
        highpass_tau_ms: float = 0.0,
    ):
        super().__init__(n_inputs, n_outputs, dtype)
        self.learning_rate = learning_rate
        self.tau_eligibility_ms = check_real("tau_eligibility_ms", tau_eligibility_ms, low=0.0)
        self.dt_ms = check_real("dt_ms", dt_ms, low=0.0, low_open=True)
        self.consolidation_rate = check_real("consolidation_rate", consolidation_rate, low=0.0)
        self.backend = resolve_readout_backend(backend)
        self._backend_name = backend
        self.post = check_choice("post", post, POST_FACTORS)
        self.online_outputs = self._check_online(online_outputs)
        self.normalised_outputs = self._check_online(normalised_outputs, "normalised_outputs")
        if post != "none" and (
            self.normalised_outputs.any() or not np.all(self._rates == self._rates[0])
        ):
            raise ValueError(
                'normalised_outputs and per-output learning rates need post="none" (one '
                f"eligibility per input); got post={post!r}"
            )
        self.highpass_tau_ms = check_real("highpass_tau_ms", highpass_tau_ms, low=0.0)
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
        self._slow = np.zeros((1, self.n_inputs), dtype=np.float64)
        self._steps = 0

    @classmethod
    def _state_bytes(cls, n_inputs: int, n_outputs: int) -> float:
        # pending updates and eligibility traces
        return 3.0 * super()._state_bytes(n_inputs, n_outputs)

    # -- parameters ---------------------------------------------------------------------------
    def _check_rates(self, learning_rate: Any) -> np.ndarray:
        if np.ndim(learning_rate) == 0:
            rate = check_real("learning_rate", learning_rate, low=0.0, low_open=True)
            return np.full(self.n_outputs, rate, dtype=np.float64)
        rates = as_real_array("learning_rate", learning_rate)
        if rates.shape != (self.n_outputs,):
            raise ValueError(
                f"learning_rate must be a number or have shape ({self.n_outputs},) (one per "
                f"output); got shape {rates.shape}"
            )
        for i, v in enumerate(rates):
            check_real(f"learning_rate[{i}]", float(v), low=0.0, low_open=True)
        return np.array(rates, dtype=np.float64)

    def _check_online(self, online: Any, name: str = "online_outputs") -> np.ndarray:
        if online is None:
            return np.ones(self.n_outputs, dtype=bool)
        if isinstance(online, (bool, np.bool_)):
            return np.full(self.n_outputs, bool(online))
        mask = np.asarray(online)
        if mask.dtype != bool or mask.shape != (self.n_outputs,):
            raise ValueError(
                f"{name} must be a bool or a bool array of shape ({self.n_outputs},); "
                f"got {mask.dtype} array of shape {mask.shape}"
            )
        return mask.copy()

    @property
    def learning_rate(self) -> float | np.ndarray:
        """The learning rate: one number, or (n_outputs,) float64 (a copy), one per output."""
        if self._scalar_rate:
            return float(self._rates[0])
        return self._rates.copy()

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        rates = self._check_rates(value)
        if getattr(self, "post", "none") != "none" and not np.all(rates == rates[0]):
            raise ValueError(f'per-output learning rates need post="none"; got post={self.post!r}')
        self._rates = rates
        self._scalar_rate = np.ndim(value) == 0

    @property
    def slow_decay(self) -> float:
        """Per-step decay of the slow trace, ``exp(-dt_ms / highpass_tau_ms)`` (1 without)."""
        if self.highpass_tau_ms == 0.0:
            return 1.0
        return math.exp(-self.dt_ms / self.highpass_tau_ms)

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
        """Set the eligibility traces (and the slow traces) to zero (start of a new,
        unrelated stream)."""
        self._eligibility[...] = 0.0
        self._slow[...] = 0.0

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
        saved = (
            self._weights.copy(),
            self._pending.copy(),
            self._eligibility.copy(),
            self._slow.copy(),
        )
        numba_ = self.backend == "numba"
        if self.normalised_outputs.any() or not np.all(self._rates == self._rates[0]):
            run = three_factor_nlms_run_numba if numba_ else three_factor_nlms_run_numpy
            bad = run(
                self._weights, self._pending, self._eligibility, self._slow, x, y, g,
                self._rates, self.decay, self.slow_decay, self.online_outputs,
                self.normalised_outputs, out,
            )  # fmt: skip
        else:
            run = three_factor_run_numba if numba_ else three_factor_run_numpy
            bad = run(
                self._weights, self._pending, self._eligibility, x, x, y, g, self._rates[0],
                self.decay, self.online_outputs, out,
            )  # fmt: skip
        if bad >= 0:
            self._weights[...], self._pending[...], self._eligibility[...], self._slow[...] = saved
            raise ReadoutDivergedError(
                bad,
                type(self).__name__,
                f"lower learning_rate (now {self._rate_text()})",
            )
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

    def _rate_text(self) -> str:
        if np.all(self._rates == self._rates[0]):
            return f"{self._rates[0]:g}"
        return "[" + ", ".join(f"{v:g}" for v in self._rates) + "]"

    # -- state --------------------------------------------------------------------------------
    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {
            "weights": self._weights,
            "pending": self._pending,
            "eligibility": self._eligibility,
            "slow": self._slow,
        }

    def config(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "n_inputs": self.n_inputs,
            "n_outputs": self.n_outputs,
            "learning_rate": (
                self.learning_rate if self._scalar_rate else [float(v) for v in self._rates]
            ),
            "tau_eligibility_ms": self.tau_eligibility_ms,
            "dt_ms": self.dt_ms,
            "online_outputs": [bool(v) for v in self.online_outputs],
            "consolidation_rate": self.consolidation_rate,
            "weight_init": self._weight_init_scale,
            "seed": self._seed,
            "dtype": self.dtype.name,
            "backend": self._backend_name,
            "post": self.post,
            "normalised_outputs": [bool(v) for v in self.normalised_outputs],
            "highpass_tau_ms": self.highpass_tau_ms,
        }
