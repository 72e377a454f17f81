"""The standard reservoir-computing tasks: their series and their scores.

Definitions, as the reservoir-computing literature states them and as ReservoirPy generates
them:

* **NARMA** of order ``n`` (Atiya & Parlos 2000), driven by ``u(t)`` i.i.d. uniform on
  ``[0, 0.5]``::

      y(t + 1) = 0.3 y(t) + 0.05 y(t) sum_{i=0}^{n-1} y(t - i) + 1.5 u(t - n + 1) u(t) + 0.1

  with ``y(t) = 0`` for ``t < n`` (the zero history). A readout reads the reservoir's state
  after input ``u(t)`` and outputs ``y(t + 1)``. (ReservoirPy 0.4's ``narma`` differs by one
  step: it sums ``y(t - n) .. y(t - 1)`` and multiplies ``u(t - n) u(t)``, with NARMA-30's
  coefficients by default; the comparison benchmark gives every model the same series.)
* **Mackey-Glass** (Mackey & Glass 1977) with ``a = 0.2``, ``b = 0.1``, ``n = 10``,
  ``tau = 17`` (chaotic)::

      dx/dt = a x(t - tau) / (1 + x(t - tau)^n) - b x(t)

  integrated by fourth-order Runge-Kutta with step ``h`` (``tau / h`` whole), the delayed
  value at the half step taken as the mean of its neighbours, from the constant history
  ``x = x0`` (1.2). One sample per step ``h``; prediction tasks ask for ``x(t + k)`` from the
  state after ``x(t)`` (``k = 1`` and ``k = 84`` are the usual horizons). (ReservoirPy's
  generator starts from a random history around ``x0`` and uses a simplified RK4 with one
  delayed value per step, so its series is not this one.)
* **Memory capacity** (Jaeger 2001): the input ``u(t)`` is i.i.d. uniform on ``[-1, 1]``; for
  each delay ``k`` a linear readout (ridge regression on the reservoir's state, trained on a
  training split) reconstructs ``u(t - k)``, and its capacity is the squared correlation
  between reconstruction and truth on the test split; ``MC = sum_k MC_k`` over ``k = 1 ..
  max_delay`` (delays up to twice the reservoir size, or until the capacities are
  negligible). A network that remembers its last ``K`` inputs perfectly has ``MC = K``.
* **NRMSE**: the root-mean-square error divided by the target's standard deviation
  (``norm="std"``, the default) or by its range (``norm="minmax"``, ReservoirPy's default).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from spikesub.models.validation import check_choice, check_int, check_real

__all__ = [
    "mackey_glass",
    "memory_capacity",
    "memory_capacity_input",
    "narma",
    "nrmse",
]


def narma(
    n_steps: int, *, order: int = 10, seed: int | np.random.Generator | None = 0, u: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """A NARMA series: ``(u, y)``, both ``(n_steps,)`` float64, ``y[t]`` the output after
    input ``u[t - 1]`` (see the module docstring; ``y[:order]`` is the zero history).

    Args:
        n_steps: length of the series (> order).
        order: the NARMA order ``n`` (10 for NARMA-10).
        seed: seed or generator of the inputs, uniform on [0, 0.5].
        u: the inputs themselves instead of drawn ones, ``(n_steps,)``.

    Raises:
        ValueError: a series too short for its order, or inputs of another length or not finite.
    """
    order = check_int("order", order, minimum=1)
    n_steps = check_int("n_steps", n_steps, minimum=order + 1)
    if u is None:
        u = np.random.default_rng(seed).uniform(0.0, 0.5, n_steps)
    else:
        u = np.asarray(u, dtype=np.float64)
        if u.shape != (n_steps,) or not np.all(np.isfinite(u)):
            raise ValueError(f"u must be a finite ({n_steps},) array; got shape {u.shape}")
    y = np.zeros(n_steps)
    for t in range(order - 1, n_steps - 1):
        window = y[t - order + 1 : t + 1].sum()
        y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * window + 1.5 * u[t - order + 1] * u[t] + 0.1
    return u, y


def mackey_glass(
    n_steps: int,
    *,
    tau: float = 17.0,
    a: float = 0.2,
    b: float = 0.1,
    n: float = 10.0,
    x0: float = 1.2,
    h: float = 1.0,
) -> np.ndarray:
    """``(n_steps,)`` float64 samples of the Mackey-Glass series, one per step ``h``, the
    first being ``x0`` (see the module docstring).

    Raises:
        ValueError: ``tau / h`` not a whole number, non-positive step, delay or rates.
    """
    n_steps = check_int("n_steps", n_steps, minimum=1)
    h = check_real("h", h, low=0.0, low_open=True)
    tau = check_real("tau", tau, low=0.0, low_open=True)
    a = check_real("a", a)
    b = check_real("b", b)
    n = check_real("n", n)
    x0 = check_real("x0", x0)
    lag = tau / h
    if not math.isclose(lag, round(lag), rel_tol=0.0, abs_tol=1e-9) or round(lag) < 1:
        raise ValueError(f"tau / h must be a whole number >= 1; got tau = {tau}, h = {h}")
    lag = int(round(lag))
    history = np.full(lag + n_steps, x0)  # history[lag + i] is x at step i

    def f(x: float, delayed: float) -> float:
        return a * delayed / (1.0 + delayed**n) - b * x

    for i in range(n_steps - 1):
        x = history[lag + i]
        d0, d1 = history[i], history[i + 1]  # x(t - tau), x(t - tau + h)
        d_half = 0.5 * (d0 + d1)
        k1 = f(x, d0)
        k2 = f(x + 0.5 * h * k1, d_half)
        k3 = f(x + 0.5 * h * k2, d_half)
        k4 = f(x + h * k3, d1)
        history[lag + i + 1] = x + h * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0
    return history[lag:].copy()


def memory_capacity_input(n_steps: int, *, seed: int | np.random.Generator | None = 0):
    """``(n_steps,)`` float64 input of the memory-capacity task, i.i.d. uniform on [-1, 1]."""
    n_steps = check_int("n_steps", n_steps, minimum=1)
    return np.random.default_rng(seed).uniform(-1.0, 1.0, n_steps)


def memory_capacity(
    train_states: Any,
    train_u: Any,
    test_states: Any,
    test_u: Any,
    *,
    max_delay: int,
    ridge: float = 1e-6,
) -> tuple[float, np.ndarray]:
    """Memory capacity: ``(MC, capacities)``, ``capacities[k - 1]`` the squared correlation
    of the reconstruction of ``u(t - k)`` on the test split, for ``k = 1 .. max_delay``.

    Args:
        train_states, test_states: ``(T, N)`` reservoir states, row ``t`` after input ``t``.
        train_u, test_u: ``(T,)`` the inputs. The first ``max_delay`` rows of each split
            have no target that far back and are left out.
        max_delay: the longest delay (>= 1, shorter than each split).
        ridge: the ridge penalty of the readouts (>= 0), relative to the mean squared state
            (so the same value suits states of any scale).
    """
    max_delay = check_int("max_delay", max_delay, minimum=1)
    ridge = check_real("ridge", ridge, low=0.0)
    splits = []
    for name, states, u in (("train", train_states, train_u), ("test", test_states, test_u)):
        states = np.asarray(states, dtype=np.float64)
        u = np.asarray(u, dtype=np.float64)
        if states.ndim != 2 or u.shape != (states.shape[0],):
            raise ValueError(
                f"{name}_states must be (T, N) and {name}_u (T,); got {states.shape} and {u.shape}"
            )
        if states.shape[0] <= max_delay + 1:
            raise ValueError(
                f"the {name} split ({states.shape[0]} steps) must be longer than max_delay + 1 = "
                f"{max_delay + 1}"
            )
        if not (np.all(np.isfinite(states)) and np.all(np.isfinite(u))):
            raise ValueError(f"{name}_states and {name}_u must be finite")
        splits.append((states[max_delay:], _delayed(u, max_delay)))
    (x_train, y_train), (x_test, y_test) = splits
    mean, scale = x_train.mean(axis=0), x_train.std(axis=0)
    scale[scale == 0.0] = 1.0
    weights = _ridge_fit((x_train - mean) / scale, y_train, ridge)
    prediction = _with_bias((x_test - mean) / scale) @ weights
    capacities = np.array(
        [_squared_correlation(prediction[:, k], y_test[:, k]) for k in range(max_delay)]
    )
    return float(capacities.sum()), capacities


def nrmse(y_true: Any, y_pred: Any, *, norm: str = "std") -> float:
    """Root-mean-square error over the target's standard deviation (``norm="std"``) or range
    (``"minmax"``); arrays of the same shape, any number of dimensions (all entries pooled)."""
    norm = check_choice("norm", norm, ("std", "minmax"))
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(
            f"y_true and y_pred must have one non-empty shape; got {y_true.shape} and "
            f"{y_pred.shape}"
        )
    if not (np.all(np.isfinite(y_true)) and np.all(np.isfinite(y_pred))):
        raise ValueError("y_true and y_pred must be finite")
    spread = y_true.std() if norm == "std" else y_true.max() - y_true.min()
    if spread == 0.0:
        raise ValueError(f"y_true is constant: its {norm} is 0, so the NRMSE is undefined")
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)) / spread)


def _delayed(u: np.ndarray, max_delay: int) -> np.ndarray:
    """``(T - max_delay, max_delay)``: row ``t`` holds ``u(t - 1) .. u(t - max_delay)`` for
    ``t = max_delay .. T - 1``."""
    rows = u.shape[0] - max_delay
    return np.stack([u[max_delay - k : max_delay - k + rows] for k in range(1, max_delay + 1)], 1)


def _with_bias(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((x.shape[0], 1))])


def _ridge_fit(x: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """Ridge regression with an unpenalised bias: ``(N + 1, outputs)`` weights."""
    xb = _with_bias(x)
    gram = xb.T @ xb
    penalty = ridge * x.shape[0] * np.eye(gram.shape[0])
    penalty[-1, -1] = 0.0
    return np.linalg.solve(gram + penalty, xb.T @ y)


def _squared_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """``corr(a, b)^2``; 0 when either side is constant."""
    a = a - a.mean()
    b = b - b.mean()
    denom = float((a @ a) * (b @ b))
    return float((a @ b) ** 2 / denom) if denom > 0.0 else 0.0
