"""Spike encoders: turn static inputs into ``(T, *x.shape)`` sequences for the spiking layers.

* :func:`direct` repeats the input at every step (the first layer integrates it as a current);
* :func:`poisson` rate coding: at each step an element spikes with probability ``x``;
* :func:`latency` first-spike time coding: each element spikes once, earlier when larger.

Time is counted in steps (the layers' time unit). Outputs have ``x``'s dtype and device.
They are time-first, ``(T, *x.shape)``; with ``batch_first=True`` the time axis comes second,
``(B, T, *x.shape[1:])`` for a batch ``x`` of shape ``(B, ...)``, the same spikes transposed.
"""

from __future__ import annotations

import numpy as np
import torch

from spikesub.models.memory import check_allocation
from spikesub.models.snn.validation import check_finite_tensor, check_tensor
from spikesub.models.validation import check_bool, check_int, check_real

__all__ = ["direct", "latency", "poisson"]

MAX_ELEMENTS = 2**62
"""More elements than a tensor can count (its sizes multiply in 64-bit integers)."""


def _check_x(x: torch.Tensor, *, unit_interval: bool) -> None:
    """``x`` a floating-point tensor of finite values (the first NaN / inf is named), in
    ``[0, 1]`` when ``unit_interval``."""
    check_tensor("x", x)
    check_finite_tensor("x", x)
    if unit_interval and x.numel() and bool(((x < 0) | (x > 1)).any()):
        raise ValueError(
            f"x must lie in [0, 1]; got values in [{float(x.min())}, {float(x.max())}]"
        )


def _check_steps(steps: int, x: torch.Tensor) -> int:
    """``steps`` an integer >= 1 for which ``(steps, *x.shape)`` can be indexed."""
    steps = check_int("steps", steps, minimum=1)
    if steps * max(x.numel(), 1) > MAX_ELEMENTS:
        raise ValueError(
            f"steps = {steps} gives a sequence of more than 2**62 elements for x of shape "
            f"{tuple(x.shape)}; use fewer steps"
        )
    return steps


def _check_batch_first(batch_first: bool, x: torch.Tensor) -> bool:
    """``batch_first`` a bool; when true, ``x`` must have a batch axis to put time after."""
    batch_first = check_bool("batch_first", batch_first)
    if batch_first and x.dim() < 1:
        raise ValueError(
            "batch_first=True puts time after the batch axis, but x is a scalar (shape ()); "
            "give x a batch axis, or use batch_first=False"
        )
    return batch_first


def _layout(spikes: torch.Tensor, batch_first: bool) -> torch.Tensor:
    """``(T, B, ...)`` as it is, or as ``(B, T, ...)`` (contiguous) when ``batch_first``."""
    return spikes.transpose(0, 1).contiguous() if batch_first else spikes


def _check_output_bytes(function: str, steps: int, x: torch.Tensor) -> None:
    """Refuse a ``(steps, *x.shape)`` output over the memory budget before it is made."""
    check_allocation(
        f"the spikes of {function}(steps={steps}) for x of shape {tuple(x.shape)}",
        float(steps) * x.numel() * x.element_size(),
    )


def direct(x: torch.Tensor, steps: int, *, batch_first: bool = False) -> torch.Tensor:
    """Repeat ``x`` over ``steps`` steps: ``(*shape)`` -> ``(steps, *shape)``, or with
    ``batch_first`` ``(B, ...)`` -> ``(B, steps, ...)``.

    Returns a broadcast view (no copy); gradients flow back to ``x`` summed over steps.
    """
    _check_x(x, unit_interval=False)
    steps = _check_steps(steps, x)
    if _check_batch_first(batch_first, x):
        return x.unsqueeze(1).expand(x.shape[0], steps, *x.shape[1:])
    return x.unsqueeze(0).expand(steps, *x.shape)


def poisson(
    x: torch.Tensor,
    steps: int,
    seed: int | np.random.Generator | torch.Generator | None = None,
    *,
    batch_first: bool = False,
) -> torch.Tensor:
    """Rate coding: element ``i`` spikes at each step independently with probability ``x[i]``.

    Args:
        x: spike probability per step, any shape, values in [0, 1].
        steps: number of steps ``T`` (>= 1).
        seed: int seed or ``numpy.random.Generator`` (draws made with NumPy on the host, so a
            seed gives the same spikes on every device), or a ``torch.Generator`` on ``x``'s
            device (draws made there). None draws fresh entropy.
        batch_first: return ``(B, steps, ...)`` for ``x`` ``(B, ...)``: the same spikes as
            with ``batch_first=False`` (same seed), transposed.

    Returns:
        spikes ``(steps, *x.shape)``, 0/1 in ``x``'s dtype and device (not differentiable).
        The expected count of element ``i`` is ``steps * x[i]``.
    """
    _check_x(x, unit_interval=True)
    steps = _check_steps(steps, x)
    batch_first = _check_batch_first(batch_first, x)
    _check_output_bytes("poisson", steps, x)
    shape = (steps, *x.shape)
    if isinstance(seed, torch.Generator):
        uniform = torch.rand(shape, generator=seed, dtype=x.dtype, device=x.device)
    else:
        if isinstance(seed, np.random.Generator):
            rng = seed
        elif seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
            rng = np.random.default_rng(seed)
        else:
            raise TypeError(
                "seed must be an int, a numpy.random.Generator, a torch.Generator or None; "
                f"got {type(seed).__name__}"
            )
        dtype = np.float32 if x.dtype == torch.float32 else np.float64
        uniform = torch.from_numpy(rng.random(shape, dtype=dtype)).to(x.device, x.dtype)
    return _layout((uniform < x.detach()).to(x.dtype), batch_first)


def latency(
    x: torch.Tensor,
    steps: int,
    *,
    tau_steps: float = 5.0,
    threshold: float = 0.01,
    linear: bool = False,
    batch_first: bool = False,
) -> torch.Tensor:
    """First-spike time coding: each element spikes at most once, the larger the earlier.

    Spike step of an element with value ``x`` in [0, 1]:

    * ``linear=True``: ``round((1 - x) * (steps - 1))`` (``x = 1`` at step 0, ``x = 0`` at
      the last step);
    * ``linear=False`` (RC charging, as ``snntorch.spikegen.latency``): the time for a
      membrane with time constant ``tau_steps`` driven by ``x`` to reach ``threshold``,
      ``tau_steps * ln(x / (x - threshold))``, rounded; elements with ``x <= threshold``, or
      whose time is ``>= steps``, do not spike.

    Args:
        x: values in [0, 1], any shape.
        steps: number of steps ``T`` (>= 1).
        tau_steps: RC time constant, in steps (> 0).
        threshold: RC firing threshold, in (0, 1).
        linear: use the linear code.
        batch_first: return ``(B, steps, ...)`` for ``x`` ``(B, ...)``.

    Returns:
        spikes ``(steps, *x.shape)``, 0/1 in ``x``'s dtype and device, at most one per element.
    """
    _check_x(x, unit_interval=True)
    steps = _check_steps(steps, x)
    tau_steps = check_real("tau_steps", tau_steps, low=0.0, low_open=True)
    threshold = check_real("threshold", threshold, low=0.0, high=1.0, low_open=True, high_open=True)
    linear = check_bool("linear", linear)
    batch_first = _check_batch_first(batch_first, x)
    _check_output_bytes("latency", steps, x)
    values = x.detach().to(torch.float64)
    if linear:
        times = torch.round((1 - values) * (steps - 1))
        fires = torch.ones_like(values, dtype=torch.bool)
    else:
        fires = values > threshold
        safe = torch.where(fires, values, torch.ones_like(values))
        times = torch.round(tau_steps * torch.log(safe / (safe - threshold)))
        fires = fires & (times < steps)
    times = torch.where(fires, times, torch.zeros_like(times)).to(torch.long)
    spikes = torch.zeros((steps, *x.shape), dtype=x.dtype, device=x.device)
    one_hot = torch.ones((1, *x.shape), dtype=x.dtype, device=x.device) * fires.to(x.dtype)
    spikes.scatter_(0, times.unsqueeze(0), one_hot)
    return _layout(spikes, batch_first)
