"""Surrogate gradients of the spike, registered by name, and the spike function that uses them.

The spike is ``H(u) = (u > 0)`` at ``u = mem - threshold``; its derivative is replaced in the
backward pass by a surrogate ``fn(u, slope)``. The built-in surrogates (:data:`BUILTIN_SURROGATES`)
reproduce ``snntorch.surrogate`` exactly and run in the fused kernels too; custom ones
(:func:`register_surrogate`) run on the ``"torch"`` backend of
:func:`~spikesub.models.snn.lif_sequence`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

SurrogateFn = Callable[[torch.Tensor, float], torch.Tensor]
"""A surrogate derivative ``fn(u, slope) -> tensor`` (see :data:`surrogates`)."""


def _fast_sigmoid_grad(u: torch.Tensor, slope: float) -> torch.Tensor:
    return 1.0 / (slope * torch.abs(u) + 1.0) ** 2


def _atan_grad(u: torch.Tensor, slope: float) -> torch.Tensor:
    return slope / 2 / (1 + (torch.pi / 2 * slope * u).pow(2))


def _sigmoid_grad(u: torch.Tensor, slope: float) -> torch.Tensor:
    # slope * sig(slope * u) * (1 - sig(slope * u)): snnTorch's formula, without the
    # exp(-slope * u) overflow (inf / inf) for very negative u
    s = torch.sigmoid(slope * u)
    return slope * s * (1 - s)


def _straight_through_grad(u: torch.Tensor, slope: float) -> torch.Tensor:
    return torch.ones_like(u)


BUILTIN_SURROGATES: dict[str, int] = {
    "fast_sigmoid": 0,
    "atan": 1,
    "sigmoid": 2,
    "straight_through": 3,
}
"""Names of the surrogates the kernels implement, with the integer id the kernels take."""

surrogates: dict[str, SurrogateFn] = {
    "fast_sigmoid": _fast_sigmoid_grad,
    "atan": _atan_grad,
    "sigmoid": _sigmoid_grad,
    "straight_through": _straight_through_grad,
}
"""Registry: surrogate name -> ``fn(u, slope)``, the derivative ``dspk/du`` at
``u = mem - threshold`` (same shape as ``u``). Formulas are those of ``snntorch.surrogate``:

* ``"fast_sigmoid"``: ``1 / (slope * |u| + 1) ** 2``;
* ``"atan"``: ``slope / 2 / (1 + (pi / 2 * slope * u) ** 2)``;
* ``"sigmoid"``: ``slope * exp(-slope * u) / (exp(-slope * u) + 1) ** 2``;
* ``"straight_through"``: ``1``.
"""


def register_surrogate(name: str, fn: SurrogateFn, *, overwrite: bool = False) -> None:
    """Register a custom surrogate derivative under ``name``.

    Args:
        name: registry name; the built-in names cannot be replaced.
        fn: ``fn(u, slope) -> tensor``, the derivative of the spike with respect to
            ``u = mem - threshold``, elementwise, same shape as ``u``; must be differentiable
            only if second derivatives are wanted.
        overwrite: allow replacing an earlier custom registration of ``name``.

    Layers using a custom surrogate run on the ``"torch"`` backend.

    Raises:
        TypeError: ``name`` is not a string or ``fn`` is not callable.
        ValueError: ``name`` is built in, or already registered and ``overwrite`` is False.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string; got {name!r}")
    if not callable(fn):
        raise TypeError(f"fn must be callable as fn(u, slope); got {type(fn).__name__}")
    if name in BUILTIN_SURROGATES:
        raise ValueError(f"name {name!r} is a built-in surrogate and cannot be replaced")
    if name in surrogates and not overwrite:
        raise ValueError(f"surrogate {name!r} is already registered; pass overwrite=True")
    surrogates[name] = fn


def check_surrogate(surrogate: str) -> None:
    """``surrogate`` must be a registered name; ValueError listing the registered ones."""
    if not isinstance(surrogate, str) or surrogate not in surrogates:
        raise ValueError(
            f"surrogate must be one of the registered names {tuple(surrogates)}; got {surrogate!r}"
        )


class SpikeFunction(torch.autograd.Function):
    """``H(u) = (u > 0)`` in the dtype of ``u``, with a registered surrogate derivative."""

    @staticmethod
    def forward(ctx: Any, u: torch.Tensor, name: str, slope: float) -> torch.Tensor:
        ctx.save_for_backward(u)
        ctx.name = name
        ctx.slope = slope
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor):
        (u,) = ctx.saved_tensors
        return grad_out * surrogates[ctx.name](u, ctx.slope), None, None
