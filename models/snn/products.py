"""The products ``x @ weight.T + bias`` of the spiking layers: dense through oneDNN, and
event-driven for mostly-zero (spike) inputs.

* :func:`dense_linear` (:class:`DenseLinearFunction`): ``F.linear`` with its forward and
  backward products through oneDNN for float32 CPU tensors, where this torch build has it;
* :func:`event_linear` (:class:`EventLinearFunction`) and :class:`EventLinear`: for CPU
  inputs with few nonzeros, a cost in proportion to the nonzeros (the Numba kernels of
  :mod:`spikesub.kernels.event_matmul`), the dense product otherwise.

Results equal ``F.linear``'s up to float rounding (another summation order).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

import spikesub.kernels.event_matmul as event_kernels
from spikesub.models.snn.validation import check_linear_input, check_linear_sizes

EVENT_INPUT_CHOICES = ("auto", "always", "never")
"""``event_input`` of :class:`SpikingLinear`: when to use the event-driven products."""


def _onednn_linear_op() -> Callable | None:
    """oneDNN's linear product ``op(x, w, b, "none", [], "") = x @ w.T + b`` where this torch
    build has it (``torch.ops.mkldnn._linear_pointwise``, the CPU Linear of torch.compile),
    else None."""
    if not torch.backends.mkldnn.is_available():
        return None
    try:
        return torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without it
        return None


_ONEDNN_LINEAR = _onednn_linear_op()


def _onednn_applies(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether :func:`dense_linear` takes oneDNN: float32 CPU tensors, oneDNN present and not
    switched off (``torch.backends.mkldnn.flags(enabled=False)``)."""
    return (
        _ONEDNN_LINEAR is not None
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and x.device.type == "cpu"
        and weight.device.type == "cpu"
        and torch.backends.mkldnn.enabled
    )


def _matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` for ``a`` ``(R, K)`` and ``b`` ``(K, N)``, through oneDNN where it applies
    (strided views such as transposes need no copy), else torch's ``@``. Under grad mode (a
    backward pass with ``create_graph=True``) always torch's ``@``, which autograd can
    differentiate again."""
    if _onednn_applies(a, b) and not torch.is_grad_enabled():
        return _ONEDNN_LINEAR(a, b.t(), None, "none", [], "")
    return a @ b


class DenseLinearFunction(torch.autograd.Function):
    """``x @ weight.T + bias`` with all three products (forward, input and weight gradients)
    through oneDNN, for float32 CPU tensors.

    ``apply(x, weight, bias)`` with ``x`` ``(R, in)``, ``weight`` ``(out, in)``, ``bias``
    ``(out,)`` or None. On CPUs where torch's default BLAS takes a narrower vector path
    (MKL on AMD processors runs AVX2 code; oneDNN runs AVX-512 there) this is 2-3x faster than
    ``F.linear``; the results agree with it to float32 rounding (another summation order).
    Prefer :func:`dense_linear`, which falls back to ``F.linear`` where oneDNN does not apply.
    A backward pass with ``create_graph=True`` computes its products with torch's own
    operators, so that second derivatives work as for ``F.linear``.
    """

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _ONEDNN_LINEAR(x, weight, bias, "none", [], "")

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = _matmul(grad_out, weight)
        if ctx.needs_input_grad[1]:
            grad_w = _matmul(grad_out.t(), x)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_out.sum(0)
        return grad_x, grad_w, grad_b


def dense_linear(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` for ``x`` ``(..., in)``, its products through oneDNN
    (:class:`DenseLinearFunction`) for float32 CPU tensors where this torch build has it."""
    if not _onednn_applies(x, weight) or x.numel() == 0:
        return F.linear(x, weight, bias)
    out = DenseLinearFunction.apply(x.reshape(-1, x.shape[-1]), weight, bias)
    return out.view(*x.shape[:-1], out.shape[-1])


EVENT_DENSITY_MAX = 0.15
"""Largest fraction of nonzero inputs for which ``event_input="auto"`` takes the event-driven
products; above it the dense matmul is faster on CPUs (see ``experiments/bench_snn.py``)."""


class EventLinearFunction(torch.autograd.Function):
    """``x @ weight.T + bias`` for a mostly-zero CPU input, costing in proportion to its nonzeros.

    ``apply(x, weight, bias, nonzeros)`` with ``x`` ``(R, in)`` (spikes of ``R = T * B``
    rows), ``weight`` ``(out, in)``, ``bias`` ``(out,)`` or None, one float dtype, CPU, and
    ``nonzeros`` the CSR of ``x`` from
    :func:`spikesub.kernels.event_matmul.nonzeros_by_row_numba` (None: computed here). The
    forward product and the weight gradient run the Numba kernels of
    :mod:`spikesub.kernels.event_matmul` over the nonzeros of ``x``; the input gradient
    ``grad @ weight`` is a dense matmul (through oneDNN where :func:`dense_linear` would
    take it).
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        nonzeros: tuple | None = None,
    ) -> torch.Tensor:
        if nonzeros is None:
            nonzeros = event_kernels.nonzeros_by_row_numba(x.detach().contiguous().numpy())
        wt = weight.detach().t().contiguous()
        out = torch.empty((x.shape[0], wt.shape[1]), dtype=x.dtype)
        event_kernels.event_matmul_csr_numba(*nonzeros, wt.numpy(), out.numpy())
        if bias is not None:
            out += bias.detach()
        ctx.save_for_backward(weight)
        ctx.nonzeros = nonzeros
        ctx.n_in = x.shape[1]
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor):
        (weight,) = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = _matmul(grad_out, weight)
        if ctx.needs_input_grad[1]:
            # written through its transpose, so that autograd need not copy a transposed grad
            grad_w = torch.empty((grad_out.shape[1], ctx.n_in), dtype=grad_out.dtype)
            event_kernels.event_outer_csr_numba(*ctx.nonzeros, grad_out.numpy(), grad_w.numpy().T)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_out.sum(0)
        return grad_x, grad_w, grad_b, None


def _has_forward_hooks(module: nn.Module) -> bool:
    """Whether calling ``module`` would run hooks (which the event-driven path would skip)."""
    from torch.nn.modules import module as module_mod

    return bool(
        module._forward_hooks
        or module._forward_pre_hooks
        or module_mod._global_forward_hooks
        or module_mod._global_forward_pre_hooks
    )


def event_linear(x: torch.Tensor, linear: nn.Linear, event_input: str = "auto") -> torch.Tensor:
    """Apply ``linear`` to ``x`` ``(..., in)``, event-driven where that pays.

    ``event_input``: ``"auto"`` uses :class:`EventLinearFunction` for CPU float32/float64
    inputs whose fraction of nonzeros is at most :data:`EVENT_DENSITY_MAX` (spikes of a
    hidden layer), else ``linear(x)``; ``"always"`` uses it for every CPU input; ``"never"``
    always calls ``linear(x)``. A ``linear`` with forward hooks is always called, so that its
    hooks run (an :class:`EventLinear` then still takes the event-driven path, inside its
    own forward). Results equal the dense product up to float rounding.
    """
    if event_input not in EVENT_INPUT_CHOICES:
        raise ValueError(f"event_input must be one of {EVENT_INPUT_CHOICES}; got {event_input!r}")
    if not isinstance(linear, nn.Linear):
        raise TypeError(f"linear must be an nn.Linear; got {type(linear).__name__}")
    check_linear_input(x, linear.weight)
    if _has_forward_hooks(linear):
        return linear(x)
    return _event_product(x, linear.weight, linear.bias, event_input)


def _event_product(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, event_input: str
) -> torch.Tensor:
    """``F.linear(x, weight, bias)``, through :class:`EventLinearFunction` where
    ``event_input`` says so (see :func:`event_linear`), else :func:`dense_linear`."""
    if (
        event_input == "never"
        or x.device.type != "cpu"
        or x.dtype not in (torch.float32, torch.float64)
        or weight.dtype != x.dtype
        or x.numel() == 0
    ):
        return dense_linear(x, weight, bias)
    rows = x.reshape(-1, x.shape[-1])
    limit = int(EVENT_DENSITY_MAX * x.numel()) if event_input == "auto" else None
    nonzeros = event_kernels.nonzeros_by_row_numba(rows.detach().contiguous().numpy(), limit)
    if nonzeros is None:  # too many nonzeros: counted, not compacted
        return dense_linear(x, weight, bias)
    out = EventLinearFunction.apply(rows, weight, bias, nonzeros)
    return out.view(*x.shape[:-1], out.shape[-1])


class EventLinear(nn.Linear):
    """``nn.Linear`` whose forward takes the event-driven product for mostly-zero CPU inputs
    (see :func:`event_linear`; ``event_input`` is ``"auto"``, ``"always"`` or ``"never"``).

    Being the module's own forward, the event-driven path runs inside the module call, so
    forward hooks (activity taps, profilers) see its input and output as for ``nn.Linear``;
    the parameters and ``state_dict`` are ``nn.Linear``'s.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        event_input: str = "auto",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        check_linear_sizes(type(self).__name__, in_features, out_features, bias)
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.event_input = event_input

    @property
    def event_input(self) -> str:
        return self._event_input

    @event_input.setter
    def event_input(self, value: str) -> None:
        if value not in EVENT_INPUT_CHOICES:
            raise ValueError(f"event_input must be one of {EVENT_INPUT_CHOICES}; got {value!r}")
        self._event_input = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_linear_input(x, self.weight)
        return _event_product(x, self.weight, self.bias, self.event_input)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, event_input={self.event_input!r}"
