"""Argument checks of the spiking layers: torch tensors (the layers' inputs and the activity the
continual-learning circuits learn from), neuron parameters, step counts and layer sizes.

Same conventions as :mod:`spikesub.models.validation`: arguments ``(name, value, ...)`` (a
check of one fixed argument, such as :func:`check_slope`, takes the value alone), a wrong
type raises :class:`TypeError`, a wrong value :class:`ValueError`, and every message names
the argument and says what was expected and what was given, in one line.

:func:`check_layer_input`, :func:`check_float_tensor` and :func:`check_linear_input` run on
every forward pass of the layers, so they look only at the tensor's type, dtype, device and
shape (no pass over the elements).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from spikesub.models.memory import check_allocation
from spikesub.models.validation import (
    check_bool,
    check_int,
    check_real,
    format_index,
    size_in_bytes,
)

__all__ = [
    "MAX_STEPS",
    "as_float",
    "broadcast_param",
    "check_beta_values",
    "check_finite_tensor",
    "check_float_tensor",
    "check_layer_input",
    "check_linear_input",
    "check_linear_sizes",
    "check_slope",
    "check_steps",
    "check_tensor",
    "check_threshold_values",
    "check_time_axis",
    "check_weight_bytes",
    "first_nonfinite_tensor",
]

FLOAT_DTYPES: tuple[torch.dtype, ...] = (torch.float32, torch.float64)

MAX_STEPS = 2**62
"""More time steps than a sequence can count (its sizes multiply in 64-bit integers)."""


# ---------------------------------------------------------------------------------------------
# Tensors
# ---------------------------------------------------------------------------------------------


def check_tensor(name: str, value: object) -> torch.Tensor:
    """``value`` if it is a floating-point tensor; TypeError naming ``name`` otherwise."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (float32 or float64); got {value.dtype}; "
            f"convert it with {name}.float()"
        )
    return value


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _fix_for_dtype(name: str, expected: torch.dtype) -> str:
    """How to make an input of another float dtype match a layer of ``expected`` dtype."""
    if expected == torch.float32:
        return f"pass {name}.float(), or convert the layer with layer.double()"
    if expected == torch.float64:
        return f"pass {name}.double(), or convert the layer with layer.float()"
    return f"pass {name}.to({expected})"


def check_layer_input(
    name: str,
    x: object,
    *,
    features: int | None,
    dtype: torch.dtype | None,
    device: torch.device | None,
    feature_dim: int = -1,
    ndims: tuple[int, ...] | None = None,
    what: str = "features",
    owner: str = "the layer's weights",
) -> torch.Tensor:
    """Check a layer's input against what its weights need, before torch sees it.

    Args:
        name: the argument's name (``"x"``).
        x: the input.
        features: the size ``x`` must have along ``feature_dim`` (None: any).
        dtype: the dtype ``x`` must have, that of the layer's weights (None: float32 or
            float64).
        device: the device ``x`` must be on, that of the layer's weights (None: any).
        feature_dim: the axis that holds the features (``-1`` for ``(..., in_features)``,
            ``-3`` for ``(..., C, H, W)``).
        ndims: the numbers of dimensions allowed (None: any, as long as ``feature_dim``
            exists).
        what: what the feature axis counts, for the message (``"features"``, ``"channels"``).
        owner: what sets ``dtype`` and ``device``, for the message.

    Returns:
        ``x``, unchanged.

    Raises:
        TypeError: ``x`` is not a floating-point tensor, or not of ``dtype``.
        ValueError: wrong number of dimensions, wrong size along ``feature_dim``, or another
            device than ``device``.
    """
    check_tensor(name, x)
    if dtype is not None and x.dtype != dtype and not _autocasting(x):
        raise TypeError(
            f"{name} has dtype {_dtype_name(x.dtype)} but {owner} are "
            f"{_dtype_name(dtype)}: expected {_dtype_name(dtype)}; "
            f"{_fix_for_dtype(name, dtype)}"
        )
    if device is not None and x.device != device:
        raise ValueError(
            f"{name} is on device {x.device} but {owner} are on {device}: move "
            f"{name} with {name}.to('{device}') or the layer with layer.to('{x.device}')"
        )
    shape = tuple(x.shape)
    if ndims is not None and x.dim() not in ndims:
        allowed = " or ".join(str(n) for n in ndims)
        raise ValueError(f"{name} must have {allowed} dimensions; got shape {shape}")
    if features is not None:
        if not -x.dim() <= feature_dim < x.dim():
            raise ValueError(
                f"{name} must have a {what} axis (dimension {feature_dim}) of size {features}; "
                f"got shape {shape}"
            )
        if shape[feature_dim] != features:
            raise ValueError(
                f"{name} has {shape[feature_dim]} {what} (dimension {feature_dim} of shape "
                f"{shape}) but the layer expects {features}"
            )
    return x


def _autocasting(x: torch.Tensor) -> bool:
    """Whether autocast is on for ``x``'s device (it casts the inputs of a layer itself)."""
    try:
        return torch.is_autocast_enabled(x.device.type)
    except TypeError:  # torch before 2.4 takes no device type
        return torch.is_autocast_enabled() if x.is_cuda else torch.is_autocast_cpu_enabled()
    except RuntimeError:  # a device type autocast does not know (meta)
        return False


def first_nonfinite_tensor(x: torch.Tensor) -> tuple[int, ...] | None:
    """Index of the first NaN or infinite element of ``x`` (C order), or None.

    One reduction when every element is finite (a finite sum proves it); the element-wise
    scan only when the sum is not finite.
    """
    if not x.is_floating_point() or x.numel() == 0:
        return None
    with torch.no_grad():
        if bool(torch.isfinite(x.sum())):
            return None
        bad = ~torch.isfinite(x)
        if not bool(bad.any()):
            return None  # the sum overflowed; every element is finite
        flat = int(torch.argmax(bad.reshape(-1).to(torch.uint8)))
    index = []
    for size in reversed(x.shape):
        index.append(flat % size)
        flat //= size
    return tuple(reversed(index))


def check_finite_tensor(name: str, x: object, *, where: str = "") -> torch.Tensor:
    """``x`` if it is a tensor whose elements are all finite (integer and bool tensors
    always are).

    Args:
        name: the argument's name.
        x: the tensor.
        where: optional context appended to the message (``"task 2"``).

    Raises:
        TypeError: ``x`` is not a tensor.
        ValueError: an element is NaN or infinite; the message names the first one, e.g.
            ``"x[3, 17] is nan"``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    index = first_nonfinite_tensor(x)
    if index is not None:
        context = f" ({where})" if where else ""
        value = float(x[index]) if index else float(x)
        raise ValueError(
            f"{name} contains a non-finite value: {format_index(name, index)} is "
            f"{value!r}{context}; every value must be finite (no NaN or inf)"
        )
    return x


def check_float_tensor(name: str, value: object) -> None:
    """``value`` must be a float32 or float64 tensor (the dtypes the kernels take); TypeError
    naming ``name`` otherwise."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(value).__name__}")
    if value.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name} must be float32 or float64; got {value.dtype}")


def check_linear_input(x: torch.Tensor, weight: torch.Tensor) -> None:
    """``x`` ``(..., in_features)`` of ``weight``'s dtype and device (names ``x`` otherwise).

    Shape, dtype and device only: it runs on every forward pass. The event-driven kernels
    index the weights by the input's columns, so a wrong feature count must never reach them.
    """
    check_layer_input("x", x, features=weight.shape[1], dtype=weight.dtype, device=weight.device)


# ---------------------------------------------------------------------------------------------
# Neuron parameters
# ---------------------------------------------------------------------------------------------


def as_float(value: int | float) -> float:
    """``float(value)``, infinite for an integer beyond the float range (then refused)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def check_slope(slope: float) -> float:
    """The surrogate's ``slope`` as a float > 0."""
    return check_real("slope", slope, low=0.0, low_open=True)


def check_beta_values(beta: torch.Tensor) -> None:
    """Every membrane decay in ``beta`` must lie in (0, 1]."""
    if bool(((beta <= 0) | (beta > 1) | ~torch.isfinite(beta)).any()):
        raise ValueError(
            f"beta must lie in (0, 1]; got values in [{float(beta.min())}, {float(beta.max())}]"
        )


def check_threshold_values(threshold: torch.Tensor) -> None:
    """Every firing threshold in ``threshold`` must be finite and > 0."""
    if bool(((threshold <= 0) | ~torch.isfinite(threshold)).any()):
        raise ValueError(f"threshold must be finite and > 0; got minimum {float(threshold.min())}")


def broadcast_param(name: str, value: torch.Tensor, tail: torch.Size) -> torch.Tensor:
    """Broadcast a neuron parameter to the per-step shape ``tail`` and flatten it to ``(F,)``."""
    try:
        return value.expand(tail).reshape(-1)
    except RuntimeError:
        raise ValueError(
            f"{name} of shape {tuple(value.shape)} does not broadcast to the neuron shape "
            f"{tuple(tail)} (use a scalar, one value per feature, or (C, 1, 1) for images)"
        ) from None


# ---------------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------------


def check_steps(steps: int | None) -> int:
    """The number of steps of a static input: an int in ``[1, MAX_STEPS]``."""
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise TypeError(f"steps must be an int >= 1 for a static input; got {steps!r}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1; got {steps}")
    if steps > MAX_STEPS:
        raise ValueError(f"steps must be <= 2**62 (a sequence's length); got {steps}")
    return steps


def check_time_axis(
    name: str,
    x: torch.Tensor,
    steps: int | None,
    *,
    batch_first: bool = False,
    owner: str = "the layer",
) -> None:
    """Refuse a sequence whose time and batch axes are swapped, when the sizes show it.

    ``x`` is expected as ``(T, B, ...)`` (``batch_first=False``) or ``(B, T, ...)``
    (``batch_first=True``), with ``T = steps`` where ``steps`` is known. The swap is
    detectable when the axis that should hold the time steps has another size than ``steps``
    and the other axis has exactly ``steps``; every other shape passes (a sequence of another
    length is not refused here, and nothing is checked when ``steps`` is None).

    Shape only: it runs on every forward pass.

    Raises:
        ValueError: naming the shape, what was expected, and ``batch_first=`` to pass.
    """
    if steps is None or x.dim() < 2:
        return
    time_dim = 1 if batch_first else 0
    other = 1 - time_dim
    if x.shape[time_dim] == steps or x.shape[other] != steps:
        return
    shape = tuple(x.shape)
    if batch_first:
        found, expected, fix = "(T, B, ...)", "(B, T, ...)", "batch_first=False"
    else:
        found, expected, fix = "(B, T, ...)", "(T, B, ...)", "batch_first=True"
    raise ValueError(
        f"{name} of shape {shape} looks like {found}: dimension {other} has the {steps} "
        f"steps {owner} expects and dimension {time_dim} has {shape[time_dim]}, but {owner} "
        f"takes {expected}; pass {fix} (or {name}.transpose(0, 1))"
    )


def check_weight_bytes(what: str, n_elements: int, itemsize: int = 4) -> None:
    """Refuse weights over the memory budget before torch allocates them (sizes from a typo
    end in one line, not in torch's allocator error)."""
    check_allocation(f"the weights of {what}", size_in_bytes(n_elements, itemsize))


def check_linear_sizes(layer: str, in_features: Any, out_features: Any, bias: Any) -> None:
    """Sizes of a Linear: integers >= 1 whose weights fit the memory budget; ``bias`` a bool."""
    in_features = check_int("in_features", in_features, minimum=1)
    out_features = check_int("out_features", out_features, minimum=1)
    check_bool("bias", bias)
    check_weight_bytes(
        f"{layer}(in_features={in_features}, out_features={out_features})",
        in_features * out_features,
    )
