"""Checks of torch tensors: the inputs of the spiking layers and the activity the
continual-learning circuits learn from.

Same conventions as :mod:`spikesub.models.validation`: arguments ``(name, value, ...)``, a
wrong type raises :class:`TypeError`, a wrong value :class:`ValueError`, and every message
names the argument and says what was expected and what was given, in one line.

:func:`check_layer_input` runs on every forward pass of the layers, so it looks only at the
tensor's type, dtype, device and shape (no pass over the elements).
"""

from __future__ import annotations

import torch

from spikesub.models.validation import format_index

__all__ = ["check_finite_tensor", "check_layer_input", "check_tensor", "first_nonfinite_tensor"]

FLOAT_DTYPES: tuple[torch.dtype, ...] = (torch.float32, torch.float64)


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
