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

import json
import zipfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from spikesub.kernels.backends import resolve_backend
from spikesub.models.errors import SavedModelError, SpikesubError
from spikesub.models.files import write_npz
from spikesub.models.memory import check_allocation
from spikesub.models.validation import (
    as_dtype,
    as_real_array,
    check_finite_array,
    check_int,
    check_not_empty,
    first_nonfinite,
    format_index,
    size_in_bytes,
)

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
    return resolve_backend(backend, supported=("numpy", "numba"))


def check_float_dtype(dtype: Any) -> np.dtype:
    """``dtype`` as a NumPy float32 or float64 dtype: TypeError for what is not a dtype,
    ValueError for another dtype."""
    dt = as_dtype("dtype", dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64; got {dt}")
    return dt


def _in_dtype(name: str, values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A copy of finite ``values`` in ``dtype``; ValueError naming the first element too large
    for it (a float64 ``3.5e38`` in float32 weights)."""
    with np.errstate(over="ignore"):
        converted = np.array(values, dtype=dtype)
    index = first_nonfinite(converted)
    if index is not None:
        raise ValueError(
            f"{format_index(name, index)} = {values[index]:g} is too large for {dtype}; "
            f"rescale {name} or use float64"
        )
    return converted


class Readout(ABC):
    """Base class: a linear readout ``y = W r`` that learns ``W``.

    Subclasses set ``_weights`` ((n_outputs, n_inputs) array) and implement
    :meth:`fit_online`, :meth:`fit_offline`, :meth:`config` and the extra arrays of
    :meth:`state_dict` (``_state_arrays``).
    """

    def __init__(self, n_inputs: int, n_outputs: int, dtype: Any):
        self._n_inputs = check_int("n_inputs", n_inputs, minimum=1)
        self._n_outputs = check_int("n_outputs", n_outputs, minimum=1)
        self._dtype = check_float_dtype(dtype)
        check_allocation(
            f"the state of {type(self).__name__}(n_inputs={self._n_inputs:,}, "
            f"n_outputs={self._n_outputs:,})",
            self._state_bytes(self._n_inputs, self._n_outputs),
        )
        self._weights = np.zeros((self._n_outputs, self._n_inputs), dtype=self._dtype)

    @classmethod
    def _state_bytes(cls, n_inputs: int, n_outputs: int) -> float:
        """Bytes of the arrays the readout keeps (upper estimate: float64): the weights here;
        subclasses add their own state."""
        return size_in_bytes(8, n_outputs, n_inputs)

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
        w = as_real_array("weights", value)
        if w.shape != self._weights.shape:
            raise ValueError(
                f"weights must have shape {self._weights.shape} (n_outputs, n_inputs); "
                f"got {w.shape}"
            )
        self._weights = _in_dtype("weights", check_finite_array("weights", w), self._dtype)

    # -- outputs -----------------------------------------------------------------------------
    def _bias(self) -> np.ndarray | None:
        return None

    def predict(self, traces: Any) -> np.ndarray:
        """Outputs with the current weights (no learning).

        Args:
            traces: (time, n_inputs) with time >= 1, or (n_inputs,); finite.

        Returns:
            (time, n_outputs) or (n_outputs,), float64.

        Raises:
            TypeError: ``traces`` is not a real-valued array.
            ValueError: another shape, no time steps, or a NaN / inf (the first one named).
        """
        x = as_real_array("traces", traces)
        single = x.ndim == 1 and x.shape[0] == self._n_inputs
        if not single and (x.ndim != 2 or x.shape[1] != self._n_inputs):
            raise ValueError(
                f"traces must have shape (time, {self._n_inputs}) or ({self._n_inputs},); "
                f"got {x.shape}"
            )
        check_not_empty("traces", x, axis=0, what="time steps")
        check_finite_array("traces", x)
        rows = np.asarray(x, dtype=np.float64).reshape(-1, self._n_inputs)
        y = rows @ np.asarray(self._weights, dtype=np.float64).T
        bias = self._bias()
        if bias is not None:
            y += bias
        return y[0] if single else y

    # -- checks shared by the learning rules --------------------------------------------------
    def _check_recording(self, traces: Any, targets: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validated (time, n_inputs) traces and (time, n_outputs) targets (float arrays):
        matching shapes, at least one time step, every value finite."""
        x = as_real_array("traces", traces)
        y = as_real_array("targets", targets)
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
        check_not_empty("traces", x, axis=0, what="time steps")
        check_finite_array("traces", x)
        check_finite_array("targets", y)
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
            value = as_real_array(f"state[{name!r}]", state[name])
            if value.shape != current.shape:
                raise ValueError(
                    f"state[{name!r}] has shape {value.shape}; this readout needs {current.shape}"
                )
            check_finite_array(f"state[{name!r}]", value)
            arrays[name] = _in_dtype(f"state[{name!r}]", value, current.dtype)
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

    def save(self, path: str | Path) -> Path:
        """Write :meth:`state_dict` to one ``.npz`` (``.npz`` appended when missing): the
        arrays as arrays and the configuration and step count as a JSON document, so that
        ``numpy.load(path, allow_pickle=False)`` reads it; written atomically. Returns the
        path; :meth:`load` restores the readout."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        state = self.state_dict()
        arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
        meta = {"config": state["config"], "steps": state["steps"]}
        arrays["meta"] = np.array(json.dumps(meta))
        path.parent.mkdir(parents=True, exist_ok=True)
        write_npz(path, **arrays)
        return path

    @staticmethod
    def load(path: str | Path) -> Readout:
        """The readout :meth:`save` wrote to ``path``, of the class it was saved from.

        Raises:
            SavedModelError: no such file, a damaged one, or not a saved readout (the
                message names the file).
        """
        from spikesub.readouts import FORCEReadout, RidgeReadout, ThreeFactorReadout

        classes = {c.__name__: c for c in (FORCEReadout, RidgeReadout, ThreeFactorReadout)}
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                state = {name: data[name] for name in data.files}
            meta = json.loads(str(state.pop("meta")))
            cls = classes[meta["config"]["type"]]
            return cls.from_state_dict({**state, **meta})
        except FileNotFoundError:
            raise SavedModelError(f"{path}: no such file") from None
        except (OSError, KeyError, TypeError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise SavedModelError(f"{path}: not a readable saved readout ({exc})") from None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "type")
        return f"{type(self).__name__}({args})"
