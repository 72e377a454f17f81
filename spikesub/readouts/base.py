"""The interface every readout shares, its input checks and its exception.

A readout maps presynaptic traces ``r`` (already filtered reservoir spikes), shape
``(time, n_inputs)``, to outputs ``y = W r``, shape ``(time, n_outputs)``, and learns ``W``
(``weights``, shape ``(n_outputs, n_inputs)``) from targets of shape ``(time, n_outputs)``:

* ``predict(traces)``: outputs with the current weights, no learning;
* ``fit_online(traces, targets)``: streams through the steps; at each step the output is
  produced *before* that step's update, and the outputs are returned (what a running system
  would have emitted while learning);
* ``fit_offline(traces, targets)``: a fit on a whole recording; returns the readout.

Outputs are float64 whatever the weights' dtype (they are computed in float64).
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from spikesub.models.errors import SpikesubError

READOUT_BACKENDS: tuple[str, ...] = ("auto", "numpy", "numba")
"""Backends the readouts accept; ``"auto"`` is ``"numba"`` (there are no CUDA readout kernels:
see :mod:`spikesub.kernels.plasticity`)."""


class ReadoutDivergedError(SpikesubError, FloatingPointError):
    """A readout's output or weights became NaN or infinite while it learned.

    The readout is left as it was at the start of the call that diverged (weights and every
    other learned state restored), so it can be refitted with a smaller learning rate.

    Attributes:
        step: the step (0-based row of the traces passed to that call) at which the output or
            the updated weights were first found non-finite; None when not tied to a step.
        readout: the readout's class name.
    """

    def __init__(self, step: int | None, readout: str, hint: str = ""):
        self.step = None if step is None else int(step)
        self.readout = readout
        where = "" if step is None else f" at step {self.step}"
        super().__init__(
            f"{readout} diverged{where}: its output or weights became non-finite; its state "
            f"was restored to the start of the call{'; ' + hint if hint else ''}"
        )


def resolve_readout_backend(backend: str) -> str:
    """``"numpy"`` or ``"numba"`` from a backend name (``"auto"`` gives ``"numba"``)."""
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a string, one of {READOUT_BACKENDS}; got {backend!r}")
    name = backend.lower()
    if name not in READOUT_BACKENDS:
        raise ValueError(f"backend must be one of {READOUT_BACKENDS}; got {backend!r}")
    return "numba" if name == "auto" else name


def check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    return int(value)


def check_float(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float within the given bounds, else ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    v = float(value)
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    allowed = f"{left}{lo}, {hi}{right}"
    bad = not np.isfinite(v)
    if low is not None:
        bad |= v <= low if low_open else v < low
    if high is not None:
        bad |= v >= high if high_open else v > high
    if bad:
        raise ValueError(f"{name} must be a finite number in {allowed}; got {value!r}")
    return v


def check_float_dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64; got {dt}")
    return dt


def first_nonfinite(a: np.ndarray) -> tuple[int, ...]:
    """Index of the first non-finite element of ``a`` (C order)."""
    flat = int(np.argmin(np.isfinite(a).ravel()))
    return tuple(int(i) for i in np.unravel_index(flat, a.shape))


def as_float_array(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real-valued array; got dtype {arr.dtype}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    if not np.isfinite(arr).all():
        raise ValueError(
            f"{name} contains non-finite values (first at index {first_nonfinite(arr)})"
        )


class Readout(ABC):
    """Base class: a linear readout ``y = W r`` that learns ``W``.

    Subclasses set ``_weights`` ((n_outputs, n_inputs) array) and implement
    :meth:`fit_online`, :meth:`fit_offline`, :meth:`config` and the extra arrays of
    :meth:`state_dict` (``_state_arrays``).
    """

    def __init__(self, n_inputs: int, n_outputs: int, dtype: Any):
        self._n_inputs = check_positive_int(n_inputs, "n_inputs")
        self._n_outputs = check_positive_int(n_outputs, "n_outputs")
        self._dtype = check_float_dtype(dtype)
        self._weights = np.zeros((self._n_outputs, self._n_inputs), dtype=self._dtype)

    # -- shape and weights -------------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        """Number of input traces (presynaptic neurons)."""
        return self._n_inputs

    @property
    def n_outputs(self) -> int:
        """Number of outputs."""
        return self._n_outputs

    @property
    def dtype(self) -> np.dtype:
        """dtype of the weights."""
        return self._dtype

    @property
    def weights(self) -> np.ndarray:
        """The learned weights ``W``, shape (n_outputs, n_inputs) (the array itself, not a copy)."""
        return self._weights

    @weights.setter
    def weights(self, value: Any) -> None:
        w = as_float_array(value, "weights")
        if w.shape != self._weights.shape:
            raise ValueError(
                f"weights must have shape {self._weights.shape} (n_outputs, n_inputs); "
                f"got {w.shape}"
            )
        check_finite(w, "weights")
        self._weights = np.array(w, dtype=self._dtype)

    # -- outputs -----------------------------------------------------------------------------
    def _bias(self) -> np.ndarray | None:
        return None

    def predict(self, traces: Any) -> np.ndarray:
        """Outputs with the current weights (no learning).

        Args:
            traces: (time, n_inputs) or (n_inputs,).

        Returns:
            (time, n_outputs) or (n_outputs,), float64.
        """
        x = as_float_array(traces, "traces")
        if x.ndim == 1:
            return self.predict(x[None, :])[0]
        if x.ndim != 2 or x.shape[1] != self._n_inputs:
            raise ValueError(
                f"traces must have shape (time, {self._n_inputs}) or ({self._n_inputs},); "
                f"got {x.shape}"
            )
        y = np.asarray(x, dtype=np.float64) @ np.asarray(self._weights, dtype=np.float64).T
        bias = self._bias()
        if bias is not None:
            y += bias
        return y

    # -- checks shared by the learning rules --------------------------------------------------
    def _check_recording(self, traces: Any, targets: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validated (time, n_inputs) traces and (time, n_outputs) targets (float arrays)."""
        x = as_float_array(traces, "traces")
        y = as_float_array(targets, "targets")
        if y.ndim == 1 and self._n_outputs == 1:
            y = y[:, None]
        if x.ndim != 2 or x.shape[1] != self._n_inputs:
            raise ValueError(
                f"traces must have shape (time, {self._n_inputs}); got {x.shape} "
                f"(targets: {y.shape})"
            )
        if y.ndim != 2 or y.shape[1] != self._n_outputs or y.shape[0] != x.shape[0]:
            raise ValueError(
                f"traces of shape {x.shape} need targets of shape ({x.shape[0]}, "
                f"{self._n_outputs}) (time, n_outputs); got targets of shape {y.shape}"
            )
        check_finite(x, "traces")
        check_finite(y, "targets")
        return np.ascontiguousarray(x), np.ascontiguousarray(y)

    # -- learning (subclasses) ----------------------------------------------------------------
    @abstractmethod
    def fit_online(self, traces: Any, targets: Any, **kwargs: Any) -> np.ndarray:
        """Stream ``traces`` ``(time, n_inputs)`` against ``targets`` ``(time, n_outputs)``,
        learning as it goes; returns the outputs produced before each step's update."""

    @abstractmethod
    def fit_offline(self, traces: Any, targets: Any, **kwargs: Any) -> Readout:
        """Fit on a whole recording; returns ``self``."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The constructor's arguments as a JSON-able dict (plus ``"type"``, the class name)."""

    # -- state -------------------------------------------------------------------------------
    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {"weights": self._weights}

    def _set_state_array(self, name: str, value: np.ndarray) -> None:
        current = getattr(self, "_" + name)
        setattr(self, "_" + name, np.array(value, dtype=current.dtype))

    def state_dict(self) -> dict[str, Any]:
        """Copies of the learned arrays (``"weights"`` and the rule's own state) and the
        ``"config"``; enough to restore the readout with :meth:`load_state_dict`."""
        state: dict[str, Any] = {k: np.array(v) for k, v in self._state_arrays().items()}
        state["config"] = self.config()
        state["steps"] = int(getattr(self, "_steps", 0))
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore arrays saved by :meth:`state_dict` (shapes must match this readout)."""
        expected = self._state_arrays()
        missing = [k for k in expected if k not in state]
        if missing:
            raise ValueError(f"state is missing {missing} for {type(self).__name__}")
        config = state.get("config", {})
        if config.get("type", type(self).__name__) != type(self).__name__:
            raise ValueError(
                f"state was saved from a {config.get('type')}, not a {type(self).__name__}"
            )
        arrays = {}
        for name, current in expected.items():
            value = as_float_array(state[name], name)
            if value.shape != current.shape:
                raise ValueError(
                    f"state[{name!r}] has shape {value.shape}; this readout needs {current.shape}"
                )
            check_finite(value, f"state[{name!r}]")
            arrays[name] = value
        for name, value in arrays.items():
            self._set_state_array(name, value)
        if hasattr(self, "_steps"):
            self._steps = int(state.get("steps", 0))

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Readout:
        """A new readout built from ``state["config"]`` with the saved arrays loaded."""
        config = dict(state["config"])
        config.pop("type", None)
        readout = cls(**config)
        readout.load_state_dict(state)
        return readout

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "type")
        return f"{type(self).__name__}({args})"
