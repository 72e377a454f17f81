"""Spiking layers for PyTorch on fused Numba / CUDA kernels, compatible with snnTorch.

The neuron is snnTorch's ``Leaky`` (with its defaults ``reset_delay=True``). Per time step
``t`` and neuron, with ``u = mem - threshold`` and ``H(u) = (u > 0)``:

* ``reset_t = H(mem_{t-1} - threshold)``, detached (no gradient flows through the reset
  decision; the threshold still receives gradient through the ``- reset_t * threshold`` term);
* ``"subtract"``: ``mem_t = beta * mem_{t-1} + x_t - reset_t * threshold``;
* ``"zero"``: ``mem_t = beta * (1 - reset_t) * mem_{t-1} + x_t``;
* ``spk_t = H(mem_t - threshold)`` with ``dspk/dmem = surrogate'(mem_t - threshold)``.

``mem_{-1}`` is the initial membrane ``mem0`` (zeros by default). Membranes are in the
units of the input (dimensionless); time is counted in steps.

:func:`lif_sequence` runs the whole sequence in one call: on CPU tensors through the
compiled Numba kernel of :mod:`spikesub.kernels.lif_sequence`, on CUDA tensors through its
CUDA kernel (no host copies), or through a plain PyTorch loop (``backend="torch"``), which
reproduces snnTorch operation by operation and is the reference the kernels are tested
against. Surrogate gradients are registered by name in :data:`surrogates`; the built-in ones
reproduce ``snntorch.surrogate`` exactly, custom ones (:func:`register_surrogate`) run on the
torch backend.

Layers: :class:`LIF` (multi-step over ``(T, B, F)`` or ``(T, B, C, H, W)``),
:class:`SpikingLinear`, :class:`SpikingConv2d`; readouts :func:`spike_count`,
:func:`spike_rate`, :func:`last_membrane`; snnTorch interop :func:`from_snntorch_leaky`,
:func:`swap_snntorch_leaky` and :class:`LeakyStep`.

The ``"cuda"`` backend needs CUDA tensors on a real GPU. Under Numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``, no GPU) it accepts CPU tensors instead, whose NumPy views the
simulator copies to its emulated device and back; this is how the tests run it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

import spikesub.kernels.event_matmul as event_kernels
import spikesub.kernels.lif_sequence as lif_kernels
from spikesub.kernels.backends import (
    BackendUnavailableError,
    cuda_available,
    cuda_simulator_enabled,
)
from spikesub.models.memory import check_allocation
from spikesub.models.torch_validation import check_layer_input
from spikesub.models.validation import check_bool, check_int, check_real, size_in_bytes

__all__ = [
    "BUILTIN_SURROGATES",
    "DenseLinearFunction",
    "EventLinear",
    "LIF",
    "LIFSequenceFunction",
    "LIF_BACKENDS",
    "LeakyStep",
    "OUTPUT_CHOICES",
    "RESET_MODES",
    "SpikingConv2d",
    "SpikingLinear",
    "dense_linear",
    "from_snntorch_leaky",
    "last_membrane",
    "lif_sequence",
    "register_surrogate",
    "spike_count",
    "spike_rate",
    "surrogates",
    "swap_snntorch_leaky",
]

RESET_MODES: tuple[str, ...] = ("subtract", "zero")
"""Reset mechanisms: ``"subtract"`` (keep the overshoot) and ``"zero"``."""

LIF_BACKENDS: tuple[str, ...] = ("auto", "torch", "numpy", "numba", "cuda")
"""``backend`` choices of :func:`lif_sequence`; ``"auto"`` picks ``"cuda"`` for CUDA tensors,
``"numba"`` for CPU tensors and ``"torch"`` for custom surrogates."""

OUTPUT_CHOICES: tuple[str, ...] = ("spikes", "membrane", "both")
"""What :class:`LIF` returns."""

SurrogateFn = Callable[[torch.Tensor, float], torch.Tensor]


# ---------------------------------------------------------------------------------------------
# Surrogate gradients
# ---------------------------------------------------------------------------------------------


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


class _SpikeFunction(torch.autograd.Function):
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


# ---------------------------------------------------------------------------------------------
# Reference loop and kernel-backed autograd function
# ---------------------------------------------------------------------------------------------


def _lif_sequence_torch(
    x: torch.Tensor,
    beta: torch.Tensor,
    threshold: torch.Tensor,
    mem0: torch.Tensor,
    reset: str,
    surrogate: str,
    slope: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain PyTorch loop, operation for operation as ``snntorch.Leaky``; autograd does BPTT."""
    mem = mem0
    spks = []
    mems = []
    for t in range(x.shape[0]):
        reset_t = (mem - threshold > 0).to(x.dtype).detach()
        if reset == "subtract":
            mem = beta * mem + x[t] - reset_t * threshold
        else:
            mem = (1 - reset_t) * mem
            mem = beta * mem + x[t]
        spks.append(_SpikeFunction.apply(mem - threshold, surrogate, slope))
        mems.append(mem)
    return torch.stack(spks), torch.stack(mems)


_RESET_IDS = {"subtract": lif_kernels.RESET_SUBTRACT, "zero": lif_kernels.RESET_ZERO}


def _as_kernel_array(tensor: torch.Tensor, backend: str):
    """A zero-copy view of a contiguous tensor that the kernel of ``backend`` can write to."""
    if tensor.is_cuda:
        from numba import cuda

        return cuda.as_cuda_array(tensor)
    return tensor.numpy()


class LIFSequenceFunction(torch.autograd.Function):
    """Fused LIF over a whole sequence; forward and backward each one kernel call.

    ``apply(x, beta, threshold, mem0, reset_id, surrogate_id, slope, backend, steps)`` with
    ``x`` ``(T, B, F)`` and ``steps`` None, or a static ``x`` ``(B, F)`` (the same current at
    every step) and ``steps = T``; ``beta`` and ``threshold`` ``(F,)``, ``mem0`` ``(B, F)``,
    one dtype and one device; ``backend`` is ``"numpy"``, ``"numba"`` or ``"cuda"``. Returns
    ``spk, mem``, both ``(T, B, F)``. The backward pass computes the gradients of beta and
    threshold only when they require grad. Prefer :func:`lif_sequence`, which validates and
    broadcasts its arguments.
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        beta: torch.Tensor,
        threshold: torch.Tensor,
        mem0: torch.Tensor,
        reset_id: int,
        surrogate_id: int,
        slope: float,
        backend: str,
        steps: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if steps is None:
            n_steps, batch, features = x.shape
        else:
            n_steps, (batch, features) = steps, x.shape
        x2 = x.detach().contiguous().view(-1, batch * features)
        beta_c = beta.detach().contiguous()
        threshold_c = threshold.detach().contiguous()
        mem0_c = mem0.detach().contiguous().view(batch * features)
        spk = x2.new_empty((n_steps, batch * features))
        mem = torch.empty_like(spk)
        forward_kernel = getattr(lif_kernels, f"lif_sequence_forward_{backend}")
        if backend == "cuda" and not x.is_cuda:
            # Numba's CUDA simulator: NumPy views are copied in and back by the launch
            _sync_launch(forward_kernel, x2, beta_c, threshold_c, mem0_c, reset_id, spk, mem)
        else:
            forward_kernel(
                _as_kernel_array(x2, backend),
                _as_kernel_array(beta_c, backend),
                _as_kernel_array(threshold_c, backend),
                _as_kernel_array(mem0_c, backend),
                int(reset_id),
                _as_kernel_array(spk, backend),
                _as_kernel_array(mem, backend),
            )
        ctx.save_for_backward(mem, mem0_c, beta_c, threshold_c)
        ctx.reset_id = int(reset_id)
        ctx.surrogate_id = int(surrogate_id)
        ctx.slope = float(slope)
        ctx.backend = backend
        ctx.shape = (n_steps, batch, features)
        ctx.static = steps is not None
        ctx.set_materialize_grads(False)  # an unused output's gradient stays None: less work
        return spk.view(n_steps, batch, features), mem.view(n_steps, batch, features)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_spk: torch.Tensor | None, grad_mem: torch.Tensor | None):
        mem, mem0, beta, threshold = ctx.saved_tensors
        n_steps, batch, features = ctx.shape
        if grad_spk is None:
            grad_spk = torch.zeros_like(mem)
        grad_spk = grad_spk.contiguous().view(n_steps, batch * features)
        if grad_mem is not None:
            grad_mem = grad_mem.contiguous().view(n_steps, batch * features)
        grad_x = mem.new_empty((1 if ctx.static else n_steps, batch * features))
        grad_mem0 = torch.empty_like(mem0)
        grad_beta = torch.empty_like(beta) if ctx.needs_input_grad[1] else None
        grad_threshold = torch.empty_like(threshold) if ctx.needs_input_grad[2] else None
        backward_kernel = getattr(lif_kernels, f"lif_sequence_backward_{ctx.backend}")
        args = (
            grad_spk,
            grad_mem,
            mem,
            mem0,
            beta,
            threshold,
            ctx.reset_id,
            ctx.surrogate_id,
            ctx.slope,
            grad_x,
            grad_mem0,
            grad_beta,
            grad_threshold,
        )
        if ctx.backend == "cuda" and not mem.is_cuda:
            _sync_launch(backward_kernel, *args)
        else:
            backward_kernel(
                *(
                    _as_kernel_array(a, ctx.backend) if isinstance(a, torch.Tensor) else a
                    for a in args
                )
            )
        x_shape = (batch, features) if ctx.static else (n_steps, batch, features)
        return (
            grad_x.view(x_shape),
            grad_beta,
            grad_threshold,
            grad_mem0.view(batch, features) if ctx.needs_input_grad[3] else None,
            None,
            None,
            None,
            None,
            None,
        )


def _sync_launch(kernel: Callable, *args) -> None:
    """Launch a CUDA-simulator kernel on NumPy views of CPU tensors (copied in and back)."""
    kernel(*(a.numpy() if isinstance(a, torch.Tensor) else a for a in args))


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def _as_float(value: int | float) -> float:
    """``float(value)``, infinite for an integer beyond the float range (then refused)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _check_float_tensor(name: str, value: torch.Tensor) -> None:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(value).__name__}")
    if value.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name} must be float32 or float64; got {value.dtype}")


def _check_finite(name: str, value: torch.Tensor) -> None:
    # A finite sum proves every element finite (NaN and inf propagate), in one fast reduction;
    # only a non-finite sum (or a float overflow of it) needs the element-wise check.
    # A broadcast dimension (stride 0: a static input repeated over time) repeats the same
    # elements, so one copy of it is enough.
    for dim, stride in enumerate(value.stride()):
        if stride == 0 and value.shape[dim] > 1:
            value = value.narrow(dim, 0, 1)
    with torch.no_grad():
        if bool(torch.isfinite(value.sum())):
            return
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"{name} contains non-finite values (NaN or inf); all must be finite")


MAX_STEPS = 2**62
"""More time steps than a sequence can count (its sizes multiply in 64-bit integers)."""

LARGE_OUTPUT_BYTES = 1 << 26
"""Outputs of :func:`lif_sequence` above this size (64 MiB) are checked against the memory
budget first; smaller ones are not worth reading the free memory on every forward pass."""


def _check_output_bytes(n_steps: int, batch: int, features: int, itemsize: int) -> None:
    """Refuse ``spk`` and ``mem`` ``(T, B, F)`` over the memory budget before allocating them."""
    n_bytes = size_in_bytes(2, n_steps, batch, features, itemsize)
    if n_bytes > LARGE_OUTPUT_BYTES:
        check_allocation(
            f"the spikes and membranes of (T, B, F) = ({n_steps:,}, {batch:,}, {features:,})",
            n_bytes,
        )


def _check_slope(slope: float) -> float:
    return check_real("slope", slope, low=0.0, low_open=True)


def _check_reset(reset: str) -> None:
    if reset not in RESET_MODES:
        raise ValueError(f"reset must be one of {RESET_MODES}; got {reset!r}")


def _check_surrogate(surrogate: str) -> None:
    if not isinstance(surrogate, str) or surrogate not in surrogates:
        raise ValueError(
            f"surrogate must be one of the registered names {tuple(surrogates)}; got {surrogate!r}"
        )


def _check_beta_values(beta: torch.Tensor) -> None:
    if bool(((beta <= 0) | (beta > 1) | ~torch.isfinite(beta)).any()):
        raise ValueError(
            f"beta must lie in (0, 1]; got values in [{float(beta.min())}, {float(beta.max())}]"
        )


def _check_threshold_values(threshold: torch.Tensor) -> None:
    if bool(((threshold <= 0) | ~torch.isfinite(threshold)).any()):
        raise ValueError(f"threshold must be finite and > 0; got minimum {float(threshold.min())}")


def _per_feature(
    name: str, value: torch.Tensor | float, features: int, like: torch.Tensor
) -> torch.Tensor:
    """``value`` as a ``(F,)`` tensor of ``like``'s dtype and device (autograd kept)."""
    if not isinstance(value, torch.Tensor):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a float or a tensor; got {type(value).__name__}")
        number = _as_float(value)
        if abs(number) > torch.finfo(like.dtype).max:  # torch refuses to round it to inf
            number = math.copysign(math.inf, number)
        return torch.full((features,), number, dtype=like.dtype, device=like.device)
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor; got {value.dtype}")
    if value.device != like.device:
        raise ValueError(f"{name} is on {value.device} but x is on {like.device}; move it to x's")
    if value.numel() == 1:
        return value.reshape(1).to(like.dtype).expand(features)
    if value.dim() != 1 or value.shape[0] != features:
        raise ValueError(
            f"{name} must be a scalar or have shape ({features},) (one per feature); "
            f"got shape {tuple(value.shape)}"
        )
    return value.to(like.dtype)


def _resolve_lif_backend(backend: str, x: torch.Tensor, surrogate: str) -> str:
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a string, one of {LIF_BACKENDS}; got {backend!r}")
    name = backend.lower()
    if name not in LIF_BACKENDS:
        raise ValueError(f"backend must be one of {LIF_BACKENDS}; got {backend!r}")
    builtin = surrogate in BUILTIN_SURROGATES
    if name == "auto":
        if not builtin:
            return "torch"
        return "cuda" if x.is_cuda else "numba"
    if name == "torch":
        return name
    if not builtin:
        raise ValueError(
            f"surrogate {surrogate!r} is a custom surrogate, which runs only on backend='torch' "
            f"(or 'auto'); the kernels implement {tuple(BUILTIN_SURROGATES)}"
        )
    if name in ("numpy", "numba"):
        if x.device.type != "cpu":
            raise ValueError(
                f"backend={name!r} runs on the CPU but x is on {x.device}; use backend='cuda' "
                "or 'auto', or move the tensors to the CPU"
            )
        return name
    # cuda
    if x.is_cuda:
        if not cuda_available():
            raise BackendUnavailableError("backend='cuda': Numba cannot reach the GPU")
        return name
    if x.device.type == "cpu" and cuda_simulator_enabled():
        return name
    raise ValueError(
        f"backend='cuda' needs CUDA tensors, but x is on {x.device}; move the model and data "
        "with .cuda(), or use backend='numba' for CPU tensors"
    )


def lif_sequence(
    x: torch.Tensor,
    beta: torch.Tensor | float,
    threshold: torch.Tensor | float = 1.0,
    mem0: torch.Tensor | None = None,
    *,
    reset: str = "subtract",
    surrogate: str = "atan",
    slope: float = 2.0,
    backend: str = "auto",
    clamp_beta: bool = False,
    check_finite: bool = True,
    steps: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run leaky integrate-and-fire neurons over a whole sequence (snnTorch ``Leaky`` semantics).

    Args:
        x: synaptic input of every step, ``(T, B, F)``, float32 or float64; or, with
            ``steps``, a static input ``(B, F)``, the same current at every step (the kernels
            read it once per step instead of a ``T``-fold copy, and sum its gradient over the
            steps as they go).
        beta: membrane decay per step, scalar or ``(F,)``, in (0, 1].
        threshold: firing threshold, scalar or ``(F,)``, > 0.
        mem0: initial membrane ``(B, F)``; zeros when None.
        reset: ``"subtract"`` or ``"zero"``.
        surrogate: registered surrogate name (see :data:`surrogates`).
        slope: surrogate slope (snnTorch's ``alpha`` for atan), > 0.
        backend: one of :data:`LIF_BACKENDS`.
        clamp_beta: clamp ``beta`` into [0, 1] as snnTorch's forward does (gradient zero
            outside) instead of rejecting values outside (0, 1]; layers with a learnable
            ``beta`` use this.
        check_finite: reject non-finite ``x`` / ``mem0`` (one reduction over ``x``).
        steps: number of steps ``T`` for a static ``x``; None when ``x`` has a time axis.

    Returns:
        ``spk, mem``, both ``(T, B, F)`` in ``x``'s dtype and device; differentiable with
        respect to ``x``, ``mem0``, ``beta`` and ``threshold`` where those require grad.

    Raises:
        TypeError: a tensor argument of the wrong type or dtype.
        ValueError: wrong shapes, ``T == 0``, non-finite input, parameters out of range,
            tensors on different devices, or a backend that does not run on ``x``'s device.
        BackendUnavailableError: ``backend="cuda"`` and Numba cannot reach a GPU.
    """
    _check_float_tensor("x", x)
    if steps is None:
        if x.dim() != 3:
            raise ValueError(f"x must have shape (T, B, F) (3 dimensions); got {tuple(x.shape)}")
        n_steps, batch, features = x.shape
    else:
        if x.dim() != 2:
            raise ValueError(
                f"a static x (with steps) must have shape (B, F) (2 dimensions); "
                f"got {tuple(x.shape)}"
            )
        n_steps = _check_steps(steps)
        batch, features = x.shape
    if n_steps == 0:
        raise ValueError("x must have at least one time step (T >= 1); got T = 0")
    _check_output_bytes(n_steps, batch, features, x.element_size())
    _check_reset(reset)
    _check_surrogate(surrogate)
    slope = _check_slope(slope)
    name = _resolve_lif_backend(backend, x, surrogate)
    if check_finite:
        _check_finite("x", x)

    beta_f = _per_feature("beta", beta, features, x)
    threshold_f = _per_feature("threshold", threshold, features, x)
    if clamp_beta:
        beta_f = beta_f.clamp(0, 1)
    else:
        _check_beta_values(beta_f.detach())
    _check_threshold_values(threshold_f.detach())
    if mem0 is None:
        mem0 = torch.zeros((batch, features), dtype=x.dtype, device=x.device)
    else:
        _check_float_tensor("mem0", mem0)
        if tuple(mem0.shape) != (batch, features):
            raise ValueError(
                f"mem0 must have shape (B, F) = ({batch}, {features}); got {tuple(mem0.shape)}"
            )
        if mem0.device != x.device:
            raise ValueError(f"mem0 is on {mem0.device} but x is on {x.device}")
        if check_finite:
            _check_finite("mem0", mem0)
        mem0 = mem0.to(x.dtype)
    if x.numel() == 0 or name == "torch":
        if steps is not None:
            x = x.unsqueeze(0).expand(n_steps, batch, features)
        if x.numel() == 0:
            return torch.zeros_like(x), x.clone()
        return _lif_sequence_torch(x, beta_f, threshold_f, mem0, reset, surrogate, slope)
    return LIFSequenceFunction.apply(
        x,
        beta_f,
        threshold_f,
        mem0,
        _RESET_IDS[reset],
        lif_kernels.SURROGATE_IDS[surrogate],
        slope,
        name,
        steps if steps is None else n_steps,
    )


# ---------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------


def _as_param_tensor(name: str, value: torch.Tensor | float) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        if not value.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor; got {value.dtype}")
        return value.detach().clone()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float or a tensor; got {type(value).__name__}")
    return torch.tensor(_as_float(value))


def _broadcast_param(name: str, value: torch.Tensor, tail: torch.Size) -> torch.Tensor:
    """Broadcast a neuron parameter to the per-step shape ``tail`` and flatten it to ``(F,)``."""
    try:
        return value.expand(tail).reshape(-1)
    except RuntimeError:
        raise ValueError(
            f"{name} of shape {tuple(value.shape)} does not broadcast to the neuron shape "
            f"{tuple(tail)} (use a scalar, one value per feature, or (C, 1, 1) for images)"
        ) from None


class _LIFParameters(nn.Module):
    """Holds ``beta``, ``threshold`` (buffers or parameters) and the neuron options."""

    def __init__(
        self,
        beta: torch.Tensor | float,
        threshold: torch.Tensor | float,
        learn_beta: bool,
        learn_threshold: bool,
        reset: str,
        surrogate: str,
        slope: float,
        backend: str,
    ) -> None:
        super().__init__()
        beta_t = _as_param_tensor("beta", beta)
        threshold_t = _as_param_tensor("threshold", threshold)
        _check_beta_values(beta_t)
        _check_threshold_values(threshold_t)
        _check_reset(reset)
        _check_surrogate(surrogate)
        self.slope = _check_slope(slope)
        if not isinstance(backend, str) or backend.lower() not in LIF_BACKENDS:
            raise ValueError(f"backend must be one of {LIF_BACKENDS}; got {backend!r}")
        if learn_beta:
            self.beta = nn.Parameter(beta_t)
        else:
            self.register_buffer("beta", beta_t)
        if learn_threshold:
            self.threshold = nn.Parameter(threshold_t)
        else:
            self.register_buffer("threshold", threshold_t)
        self.reset = reset
        self.surrogate = surrogate
        self.backend = backend

    def _run(
        self, x: torch.Tensor, mem0: torch.Tensor | None, steps: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """LIF over ``x`` ``(T, B, *neuron_shape)``, or a static ``x`` ``(B, *neuron_shape)``
        with ``steps``; returns spk, mem of shape ``(T, B, *neuron_shape)``."""
        _check_float_tensor("x", x)
        device = self.beta.device
        if x.device != device:  # compared inline: a recurrent LIF runs this once per step
            check_layer_input(
                "x", x, features=None, dtype=None, device=device, owner="its parameters"
            )
        if steps is None:
            if x.dim() < 3:
                raise ValueError(
                    f"x must have shape (T, B, F) or (T, B, C, H, W); got {tuple(x.shape)}"
                )
            n_steps, batch = x.shape[:2]
            tail = x.shape[2:]
        else:
            n_steps = _check_steps(steps)
            if x.dim() < 2:
                raise ValueError(
                    f"a static x (with steps) must have shape (B, F) or (B, C, H, W); "
                    f"got {tuple(x.shape)}"
                )
            batch = x.shape[0]
            tail = x.shape[1:]
        features = int(np.prod(tail))
        beta = _broadcast_param("beta", self.beta, tail)
        threshold = _broadcast_param("threshold", self.threshold, tail)
        if mem0 is not None:
            if not isinstance(mem0, torch.Tensor) or tuple(mem0.shape) != (batch, *tail):
                raise ValueError(
                    f"mem0 must have shape {(batch, *tuple(tail))}; "
                    f"got {tuple(getattr(mem0, 'shape', ()))}"
                )
            mem0 = mem0.reshape(batch, features)
        flat = (batch, features) if steps is not None else (n_steps, batch, features)
        spk, mem = lif_sequence(
            x.reshape(flat),
            beta,
            threshold,
            mem0,
            reset=self.reset,
            surrogate=self.surrogate,
            slope=self.slope,
            backend=self.backend,
            clamp_beta=True,
            steps=steps,
        )
        out_shape = (n_steps, batch, *tail)
        return spk.view(out_shape), mem.view(out_shape)

    def extra_repr(self) -> str:
        return (
            f"reset={self.reset!r}, surrogate={self.surrogate!r}, slope={self.slope}, "
            f"backend={self.backend!r}"
        )


class LIF(_LIFParameters):
    """Multi-step leaky integrate-and-fire layer (snnTorch ``Leaky`` semantics, fused kernels).

    Args:
        beta: membrane decay per step, float or tensor broadcastable to the neuron shape
            (scalar, ``(F,)``, or ``(C, 1, 1)`` for images), in (0, 1]. During training a
            learnable beta is clamped into [0, 1] in the forward pass, as in snnTorch.
        threshold: firing threshold, float or tensor like ``beta``, > 0.
        learn_beta, learn_threshold: make them ``nn.Parameter`` instead of buffers.
        reset: ``"subtract"`` or ``"zero"``.
        surrogate: registered surrogate name; ``slope``: its slope (> 0).
        recurrent: add an all-to-all recurrent ``nn.Linear(F, F)`` whose input at step ``t``
            is ``spk_{t-1}`` (needs ``num_features``; runs one kernel call per step).
        num_features: ``F``, required when ``recurrent``.
        output: ``"spikes"`` (default), ``"membrane"`` or ``"both"`` (``(spk, mem)``).
        backend: one of :data:`LIF_BACKENDS`.

    Input ``(T, B, F)`` or ``(T, B, C, H, W)`` (flattened per step), optional ``mem0`` of
    shape ``(B, *neuron_shape)``; output of the same shape as the input. A static input
    (the same current at every step) may be given once, ``(B, *neuron_shape)``, with
    ``steps=T``: the output is ``(T, B, *neuron_shape)``, and the kernels read the input once
    per step instead of a ``T``-fold copy.
    """

    def __init__(
        self,
        beta: torch.Tensor | float = 0.9,
        threshold: torch.Tensor | float = 1.0,
        *,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        reset: str = "subtract",
        surrogate: str = "atan",
        slope: float = 2.0,
        recurrent: bool = False,
        num_features: int | None = None,
        output: str = "spikes",
        backend: str = "auto",
    ) -> None:
        super().__init__(
            beta, threshold, learn_beta, learn_threshold, reset, surrogate, slope, backend
        )
        if output not in OUTPUT_CHOICES:
            raise ValueError(f"output must be one of {OUTPUT_CHOICES}; got {output!r}")
        self.output = output
        self.recurrent = check_bool("recurrent", recurrent)
        if self.recurrent and num_features is None:
            raise TypeError("num_features must be an int >= 1 when recurrent=True; got None")
        if num_features is not None:
            num_features = check_int("num_features", num_features, minimum=1)
        if self.recurrent:
            _check_weight_bytes(
                f"LIF(recurrent=True, num_features={num_features})", num_features**2
            )
            self.recurrent_linear = nn.Linear(num_features, num_features)
        self.num_features = num_features

    def forward(
        self, x: torch.Tensor, mem0: torch.Tensor | None = None, *, steps: int | None = None
    ):
        """Run the layer over ``x`` ``(T, B, ...)``, or a static ``x`` ``(B, ...)`` with
        ``steps``; see the class docstring for the output."""
        if self.recurrent:
            if steps is not None:
                _check_float_tensor("x", x)
                x = x.unsqueeze(0).expand(_check_steps(steps), *x.shape)
            spk, mem = self._run_recurrent(x, mem0)
        else:
            spk, mem = self._run(x, mem0, steps)
        if self.output == "spikes":
            return spk
        if self.output == "membrane":
            return mem
        return spk, mem

    def _run_recurrent(
        self, x: torch.Tensor, mem0: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        weight = self.recurrent_linear.weight
        check_layer_input(
            "x", x, features=self.num_features, dtype=weight.dtype, device=weight.device
        )
        if x.dim() != 3:
            raise ValueError(
                f"x must have shape (T, B, {self.num_features}) for a recurrent LIF; "
                f"got {tuple(x.shape)}"
            )
        if x.shape[0] == 0:
            raise ValueError("x must have at least one time step (T >= 1); got T = 0")
        batch = x.shape[1]
        mem = mem0 if mem0 is not None else x.new_zeros((batch, self.num_features))
        spk = x.new_zeros((batch, self.num_features))
        spks, mems = [], []
        for t in range(x.shape[0]):
            drive = x[t] + self.recurrent_linear(spk)
            spk_seq, mem_seq = self._run(drive.unsqueeze(0), mem)
            spk, mem = spk_seq[0], mem_seq[0]
            spks.append(spk)
            mems.append(mem)
        return torch.stack(spks), torch.stack(mems)


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
    _check_linear_input(x, linear.weight)
    if _has_forward_hooks(linear):
        return linear(x)
    return _event_product(x, linear.weight, linear.bias, event_input)


def _check_linear_input(x: torch.Tensor, weight: torch.Tensor) -> None:
    """``x`` ``(..., in_features)`` of ``weight``'s dtype and device (names ``x`` otherwise).

    Shape, dtype and device only: it runs on every forward pass. The event-driven kernels
    index the weights by the input's columns, so a wrong feature count must never reach them.
    """
    check_layer_input("x", x, features=weight.shape[1], dtype=weight.dtype, device=weight.device)


def _check_weight_bytes(what: str, n_elements: int, itemsize: int = 4) -> None:
    """Refuse weights over the memory budget before torch allocates them (sizes from a typo
    end in one line, not in torch's allocator error)."""
    check_allocation(f"the weights of {what}", size_in_bytes(n_elements, itemsize))


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
        _check_linear_sizes(type(self).__name__, in_features, out_features, bias)
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
        _check_linear_input(x, self.weight)
        return _event_product(x, self.weight, self.bias, self.event_input)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, event_input={self.event_input!r}"


def _check_linear_sizes(layer: str, in_features: Any, out_features: Any, bias: Any) -> None:
    """Sizes of a Linear: integers >= 1 whose weights fit the memory budget; ``bias`` a bool."""
    in_features = check_int("in_features", in_features, minimum=1)
    out_features = check_int("out_features", out_features, minimum=1)
    check_bool("bias", bias)
    _check_weight_bytes(
        f"{layer}(in_features={in_features}, out_features={out_features})",
        in_features * out_features,
    )


def _check_steps(steps: int | None) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise TypeError(f"steps must be an int >= 1 for a static input; got {steps!r}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1; got {steps}")
    if steps > MAX_STEPS:
        raise ValueError(f"steps must be <= 2**62 (a sequence's length); got {steps}")
    return steps


class SpikingLinear(nn.Module):
    """``nn.Linear`` followed by :class:`LIF`.

    Input ``(T, B, in_features)`` (the Linear runs once over all steps as one matmul), or a
    static ``(B, in_features)`` with ``steps`` given (here or in ``forward``): the Linear is
    computed once and repeated over ``steps``. Output as :class:`LIF` with ``output``.
    A sequence input that is mostly zeros (the spikes of a previous layer) takes the
    event-driven product on the CPU (see :func:`event_linear`; ``event_input`` is
    ``"auto"``, ``"always"`` or ``"never"``). Keyword arguments besides ``bias``, ``steps``
    and ``event_input`` go to :class:`LIF`.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        steps: int | None = None,
        event_input: str = "auto",
        **lif_kwargs: Any,
    ) -> None:
        super().__init__()
        _check_linear_sizes(type(self).__name__, in_features, out_features, bias)
        self.linear = EventLinear(in_features, out_features, bias=bias, event_input=event_input)
        self._event_input = event_input
        if lif_kwargs.get("recurrent"):
            lif_kwargs.setdefault("num_features", out_features)
        self.lif = LIF(**lif_kwargs)
        self.steps = None if steps is None else _check_steps(steps)

    def forward(self, x: torch.Tensor, steps: int | None = None):
        """Linear then LIF; ``x`` ``(T, B, in)`` or static ``(B, in)`` with ``steps``.

        Raises:
            TypeError: ``x`` is not a float tensor of the weights' dtype (e.g. float64 for a
                float32 layer: pass ``x.float()`` or convert the layer with ``.double()``).
            ValueError: ``x`` has another number of features than ``in_features``, another
                number of dimensions, or lies on another device than the weights.
        """
        _check_float_tensor("x", x)
        if not isinstance(self.linear, EventLinear):  # an EventLinear checks x itself
            _check_linear_input(x, self.linear.weight)
        if x.dim() not in (2, 3):
            raise ValueError(
                f"x must have shape (T, B, in_features) or (B, in_features); got {tuple(x.shape)}"
            )
        n_steps = None
        if x.dim() == 2:  # a static input: the Linear once, repeated over the steps
            n_steps = _check_steps(steps if steps is not None else self.steps)
        if isinstance(self.linear, EventLinear):
            current = self.linear(x)
        else:  # a plain nn.Linear put in its place: its hooks run, its products are ours
            current = event_linear(x, self.linear, self._event_input)
        return self.lif(current, steps=n_steps)

    @property
    def event_input(self) -> str:
        """When the Linear takes the event-driven product (its ``event_input``)."""
        return getattr(self.linear, "event_input", self._event_input)

    @event_input.setter
    def event_input(self, value: str) -> None:
        if value not in EVENT_INPUT_CHOICES:
            raise ValueError(f"event_input must be one of {EVENT_INPUT_CHOICES}; got {value!r}")
        self._event_input = value
        if isinstance(self.linear, EventLinear):
            self.linear.event_input = value


class SpikingConv2d(nn.Module):
    """``nn.Conv2d`` followed by :class:`LIF`.

    Input ``(T, B, C, H, W)`` (the convolution runs once over all ``T * B`` images) or a
    static ``(B, C, H, W)`` with ``steps`` (convolved once, repeated). ``beta`` and
    ``threshold`` may be per channel with shape ``(C_out, 1, 1)``. Keyword arguments besides
    the Conv2d ones and ``steps`` go to :class:`LIF` (``recurrent`` is not supported here).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        steps: int | None = None,
        **lif_kwargs: Any,
    ) -> None:
        super().__init__()
        if lif_kwargs.get("recurrent"):
            raise ValueError("recurrent=True is not supported by SpikingConv2d; use LIF")
        _check_conv_arguments(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias
        )
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias
        )
        self.lif = LIF(**lif_kwargs)
        self.steps = None if steps is None else _check_steps(steps)

    def forward(self, x: torch.Tensor, steps: int | None = None):
        """Conv2d then LIF; ``x`` ``(T, B, C, H, W)`` or static ``(B, C, H, W)`` with ``steps``.

        Raises:
            TypeError: ``x`` is not a float tensor of the weights' dtype.
            ValueError: another number of channels than ``in_channels``, images smaller than
                the (dilated) kernel, another number of dimensions, or another device.
        """
        _check_float_tensor("x", x)
        weight = self.conv.weight
        check_layer_input(
            "x",
            x,
            features=self.conv.in_channels,
            dtype=weight.dtype,
            device=weight.device,
            feature_dim=-3,
            ndims=(4, 5),
            what="channels",
        )
        _check_images(x, self.conv)
        if x.dim() == 4:
            n_steps = _check_steps(steps if steps is not None else self.steps)
            return self.lif(self.conv(x), steps=n_steps)
        elif x.dim() == 5:
            n_steps, batch = x.shape[:2]
            current = self.conv(x.reshape(n_steps * batch, *x.shape[2:]))
            current = current.view(n_steps, batch, *current.shape[1:])
        else:
            raise ValueError(
                f"x must have shape (T, B, C, H, W) or (B, C, H, W); got {tuple(x.shape)}"
            )
        return self.lif(current)


MAX_CONV_SIZE = 2**31 - 1
"""Largest kernel size, stride, dilation or padding (convolution backends index in 32 bits)."""


def _check_pair(name: str, value: Any, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each in ``[minimum, MAX_CONV_SIZE]``, as a pair."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints; got {value!r}")
        return (
            check_int(f"{name}[0]", value[0], minimum=minimum, maximum=MAX_CONV_SIZE),
            check_int(f"{name}[1]", value[1], minimum=minimum, maximum=MAX_CONV_SIZE),
        )
    number = check_int(name, value, minimum=minimum, maximum=MAX_CONV_SIZE)
    return number, number


def _check_conv_arguments(
    in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias
) -> None:
    """The arguments of :class:`SpikingConv2d`'s convolution, checked before torch sees them
    (sizes are integers >= 1, ``padding`` >= 0 or ``"same"`` / ``"valid"``, ``groups``
    divides both channel counts, the weights fit the memory budget)."""
    in_channels = check_int("in_channels", in_channels, minimum=1)
    out_channels = check_int("out_channels", out_channels, minimum=1)
    kh, kw = _check_pair("kernel_size", kernel_size, 1)
    _check_pair("stride", stride, 1)
    _check_pair("dilation", dilation, 1)
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(
                f"padding must be an int >= 0, a pair, 'same' or 'valid'; got {padding!r}"
            )
    else:
        _check_pair("padding", padding, 0)
    groups = check_int("groups", groups, minimum=1)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"groups = {groups} must divide in_channels = {in_channels} and out_channels = "
            f"{out_channels}"
        )
    check_bool("bias", bias)
    _check_weight_bytes(
        f"SpikingConv2d(in_channels={in_channels}, out_channels={out_channels}, "
        f"kernel_size={(kh, kw)})",
        out_channels * (in_channels // groups) * kh * kw,
    )


def _check_images(x: torch.Tensor, conv: nn.Conv2d) -> None:
    """Refuse images smaller than ``conv``'s dilated kernel (after its padding) and, for large
    ones, a padded input and outputs over the memory budget. Shape arithmetic only."""
    images = int(np.prod(x.shape[:-3]))
    if conv.padding == "same":
        padded, out = tuple(x.shape[-2:]), tuple(x.shape[-2:])
    else:
        pad = (0, 0) if conv.padding == "valid" else conv.padding
        padded, out = [], []
        for i, axis in enumerate(("height", "width")):
            size = x.shape[i - 2]
            span = conv.dilation[i] * (conv.kernel_size[i] - 1) + 1
            if size + 2 * pad[i] < span:
                raise ValueError(
                    f"x's images are too small: {axis} {size} (shape {tuple(x.shape)}) plus "
                    f"padding {pad[i]} on each side is less than the dilated kernel's {span}"
                )
            padded.append(size + 2 * pad[i])
            out.append((size + 2 * pad[i] - span) // conv.stride[i] + 1)
    # the padded input, and the convolution's output with the spikes and membranes after it
    elements = images * (
        conv.in_channels * padded[0] * padded[1] + 3 * conv.out_channels * out[0] * out[1]
    )
    n_bytes = size_in_bytes(elements, x.element_size())
    if n_bytes > LARGE_OUTPUT_BYTES:
        check_allocation(
            f"SpikingConv2d on x of shape {tuple(x.shape)}: padded images {tuple(padded)}, "
            f"outputs {tuple(out)}",
            n_bytes,
        )


def _check_sequence(name: str, value: torch.Tensor) -> None:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(value).__name__}")
    if value.dim() < 2:
        raise ValueError(f"{name} must have shape (T, B, ...); got {tuple(value.shape)}")
    if value.shape[0] == 0:
        raise ValueError(f"{name} must have at least one time step; got T = 0")


def spike_count(spk: torch.Tensor) -> torch.Tensor:
    """Spikes per neuron summed over time: ``(T, B, ...)`` -> ``(B, ...)`` (differentiable)."""
    _check_sequence("spk", spk)
    return spk.sum(0)


def spike_rate(spk: torch.Tensor) -> torch.Tensor:
    """Spikes per step averaged over time (in [0, 1]): ``(T, B, ...)`` -> ``(B, ...)``."""
    _check_sequence("spk", spk)
    return spk.mean(0)


def last_membrane(mem: torch.Tensor) -> torch.Tensor:
    """Membrane at the last step: ``(T, B, ...)`` -> ``(B, ...)``."""
    _check_sequence("mem", mem)
    return mem[-1]


# ---------------------------------------------------------------------------------------------
# snnTorch interop
# ---------------------------------------------------------------------------------------------

_SNNTORCH_SURROGATES = {
    "atan": ("atan", "alpha"),
    "fast_sigmoid": ("fast_sigmoid", "slope"),
    "sigmoid": ("sigmoid", "slope"),
    "straight_through_estimator": ("straight_through", None),
}


def _snntorch_surrogate(leaky: nn.Module) -> tuple[str, float]:
    """Name and slope of an snnTorch ``spike_grad`` built by ``snntorch.surrogate``."""
    fn = leaky.spike_grad
    if getattr(leaky, "surrogate_disable", False):
        raise ValueError("leaky uses surrogate_disable=True, which has no surrogate to reproduce")
    qualname = getattr(fn, "__qualname__", "")
    module = getattr(fn, "__module__", "")
    factory = qualname.split(".<locals>")[0]
    if module != "snntorch.surrogate" or factory not in _SNNTORCH_SURROGATES:
        raise ValueError(
            f"leaky.spike_grad {qualname or fn!r} is not supported; supported snntorch.surrogate "
            f"factories: {tuple(_SNNTORCH_SURROGATES)}"
        )
    name, slope_var = _SNNTORCH_SURROGATES[factory]
    if slope_var is None:
        return name, 1.0
    cells = [c.cell_contents for c in fn.__closure__ or ()]
    closure = dict(zip(fn.__code__.co_freevars, cells, strict=True))
    return name, float(closure[slope_var])


def _leaky_options(leaky: nn.Module) -> dict[str, Any]:
    try:
        import snntorch
    except ImportError as exc:  # pragma: no cover - snntorch is an optional dependency
        raise ImportError("snntorch is needed to convert snntorch.Leaky layers") from exc
    if not isinstance(leaky, snntorch.Leaky):
        raise TypeError(f"leaky must be a snntorch.Leaky; got {type(leaky).__name__}")
    reset = leaky.reset_mechanism
    if reset not in RESET_MODES:
        raise ValueError(f"leaky.reset_mechanism must be one of {RESET_MODES}; got {reset!r}")
    if not getattr(leaky, "reset_delay", True):
        raise ValueError("leaky.reset_delay=False is not supported (only snnTorch's default True)")
    if leaky.inhibition:
        raise ValueError("leaky.inhibition=True is not supported")
    if leaky.state_quant:
        raise ValueError("leaky.state_quant is not supported")
    gsf = leaky.graded_spikes_factor
    if isinstance(gsf, nn.Parameter) or bool((torch.as_tensor(gsf) != 1).any()):
        raise ValueError("leaky.graded_spikes_factor must be 1 (not learnable) to convert")
    surrogate, slope = _snntorch_surrogate(leaky)
    return {
        "beta": leaky.beta.detach().clone(),
        "threshold": leaky.threshold.detach().clone(),
        "learn_beta": isinstance(leaky.beta, nn.Parameter),
        "learn_threshold": isinstance(leaky.threshold, nn.Parameter),
        "reset": reset,
        "surrogate": surrogate,
        "slope": slope,
        "init_hidden": bool(leaky.init_hidden),
        "output": bool(leaky.output),
    }


def from_snntorch_leaky(leaky: nn.Module, *, backend: str = "auto") -> LIF:
    """A multi-step :class:`LIF` with the parameters of a ``snntorch.Leaky``.

    ``beta``, ``threshold`` (values, and whether they are learnable), reset mechanism and
    surrogate (atan, fast_sigmoid, sigmoid, straight-through estimator, with their slope)
    are copied. The result runs over whole ``(T, B, ...)`` sequences.

    Raises:
        TypeError: ``leaky`` is not a ``snntorch.Leaky``.
        ValueError: it uses an option without an equivalent (reset "none", inhibition,
            graded spikes, ``reset_delay=False``, state quantisation, other surrogates).
    """
    opts = _leaky_options(leaky)
    opts.pop("init_hidden")
    opts.pop("output")
    return LIF(**opts, backend=backend)


class LeakyStep(_LIFParameters):
    """Single-step drop-in for ``snntorch.Leaky`` on the fused kernels.

    Follows snnTorch's call convention: ``spk, mem = layer(x_t, mem)`` (or, with
    ``init_hidden=True``, ``spk = layer(x_t)`` keeping the membrane in ``self.mem``, and
    ``spk, mem`` when ``output=True``). ``x_t`` has any shape; ``beta``/``threshold``
    broadcast against it as in snnTorch. Without ``mem`` the stored membrane is used
    (zeros when its shape does not match), as in snnTorch. Build it with
    :func:`swap_snntorch_leaky` or :meth:`from_leaky`.
    """

    def __init__(
        self,
        beta: torch.Tensor | float = 0.9,
        threshold: torch.Tensor | float = 1.0,
        *,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        reset: str = "subtract",
        surrogate: str = "atan",
        slope: float = 2.0,
        init_hidden: bool = False,
        output: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__(
            beta, threshold, learn_beta, learn_threshold, reset, surrogate, slope, backend
        )
        self.init_hidden = bool(init_hidden)
        self.output = bool(output)
        self.register_buffer("mem", torch.zeros(0), persistent=False)

    @classmethod
    def from_leaky(cls, leaky: nn.Module, *, backend: str = "auto") -> LeakyStep:
        """Build from a ``snntorch.Leaky`` (same checks as :func:`from_snntorch_leaky`)."""
        layer = cls(**_leaky_options(leaky), backend=backend)
        return layer.to(leaky.beta.device)

    def reset_mem(self) -> torch.Tensor:
        """Zero the stored membrane (snnTorch's ``reset_mem``)."""
        self.mem = torch.zeros_like(self.mem)
        return self.mem

    def forward(self, input_: torch.Tensor, mem: torch.Tensor | None = None):
        """One step: returns ``spk, mem`` (or ``spk`` with ``init_hidden`` and not ``output``)."""
        if self.init_hidden and mem is not None:
            raise TypeError("`mem` should not be passed as an argument while `init_hidden=True`")
        _check_float_tensor("input_", input_)
        if mem is not None:
            self.mem = mem
        if self.mem.shape != input_.shape:
            self.mem = torch.zeros_like(input_)
        shape = input_.shape
        beta = _broadcast_param("beta", self.beta, shape)
        threshold = _broadcast_param("threshold", self.threshold, shape)
        spk, new_mem = lif_sequence(
            input_.reshape(1, 1, -1),
            beta,
            threshold,
            self.mem.reshape(1, -1).to(input_.dtype),
            reset=self.reset,
            surrogate=self.surrogate,
            slope=self.slope,
            backend=self.backend,
            clamp_beta=True,
        )
        spk = spk.view(shape)
        self.mem = new_mem.view(shape)
        if self.init_hidden and not self.output:
            return spk
        return spk, self.mem


def swap_snntorch_leaky(model: nn.Module, *, backend: str = "auto") -> nn.Module:
    """Replace every ``snntorch.Leaky`` in ``model`` by an equivalent :class:`LeakyStep`.

    The replacement keeps snnTorch's single-step call convention, so a user's time loop
    (``spk, mem = lif(x_t, mem)``, or ``nn.Sequential`` with ``init_hidden=True``) runs
    unchanged. Modules are replaced in place; returns ``model`` (or the replacement when
    ``model`` itself is a ``Leaky``). Reset stored membranes with ``LeakyStep.reset_mem``.
    """
    import snntorch

    if isinstance(model, snntorch.Leaky):
        return LeakyStep.from_leaky(model, backend=backend)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    for name, child in list(model.named_children()):
        if isinstance(child, snntorch.Leaky):
            setattr(model, name, LeakyStep.from_leaky(child, backend=backend))
        else:
            swap_snntorch_leaky(child, backend=backend)
    return model
