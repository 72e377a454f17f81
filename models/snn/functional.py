"""Leaky integrate-and-fire neurons over a whole sequence: the functional API.

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
against. :class:`LIFSequenceFunction` is the autograd function of the kernels.

The ``"cuda"`` backend needs CUDA tensors on a real GPU. Under Numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``, no GPU) it accepts CPU tensors instead, whose NumPy views the
simulator copies to its emulated device and back; this is how the tests run it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.autograd.function import once_differentiable

import spikesub.kernels.lif_sequence as lif_kernels
from spikesub.kernels.backends import (
    BackendUnavailableError,
    cuda_available,
    cuda_simulator_enabled,
)
from spikesub.models.memory import check_allocation
from spikesub.models.snn.surrogate import BUILTIN_SURROGATES, SpikeFunction, check_surrogate
from spikesub.models.snn.validation import (
    as_float,
    check_beta_values,
    check_float_tensor,
    check_slope,
    check_steps,
    check_threshold_values,
)
from spikesub.models.validation import size_in_bytes

RESET_MODES: tuple[str, ...] = ("subtract", "zero")
"""Reset mechanisms: ``"subtract"`` (keep the overshoot) and ``"zero"``."""

LIF_BACKENDS: tuple[str, ...] = ("auto", "torch", "numpy", "numba", "cuda")
"""``backend`` choices of :func:`lif_sequence`; ``"auto"`` picks ``"cuda"`` for CUDA tensors,
``"numba"`` for CPU tensors and ``"torch"`` for custom surrogates."""

LARGE_OUTPUT_BYTES = 1 << 26
"""Outputs of :func:`lif_sequence` above this size (64 MiB) are checked against the memory
budget first; smaller ones are not worth reading the free memory on every forward pass."""


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
        spks.append(SpikeFunction.apply(mem - threshold, surrogate, slope))
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
# Argument checks
# ---------------------------------------------------------------------------------------------


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


def _check_output_bytes(n_steps: int, batch: int, features: int, itemsize: int) -> None:
    """Refuse ``spk`` and ``mem`` ``(T, B, F)`` over the memory budget before allocating them."""
    n_bytes = size_in_bytes(2, n_steps, batch, features, itemsize)
    if n_bytes > LARGE_OUTPUT_BYTES:
        check_allocation(
            f"the spikes and membranes of (T, B, F) = ({n_steps:,}, {batch:,}, {features:,})",
            n_bytes,
        )


def check_reset(reset: str) -> None:
    """``reset`` must be one of :data:`RESET_MODES`."""
    if reset not in RESET_MODES:
        raise ValueError(f"reset must be one of {RESET_MODES}; got {reset!r}")


def _per_feature(
    name: str, value: torch.Tensor | float, features: int, like: torch.Tensor
) -> torch.Tensor:
    """``value`` as a ``(F,)`` tensor of ``like``'s dtype and device (autograd kept)."""
    if not isinstance(value, torch.Tensor):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a float or a tensor; got {type(value).__name__}")
        number = as_float(value)
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


# ---------------------------------------------------------------------------------------------
# The functional API
# ---------------------------------------------------------------------------------------------


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
    batch_first: bool = False,
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
        batch_first: ``x`` is ``(B, T, F)`` (tonic's and many datasets' layout), and so are
            the outputs; the kernels still run time-first (a transposed view in, the outputs
            transposed back).

    Returns:
        ``spk, mem``, both ``(T, B, F)`` (``(B, T, F)`` with ``batch_first``) in ``x``'s dtype
        and device; differentiable with respect to ``x``, ``mem0``, ``beta`` and ``threshold``
        where those require grad.

    Raises:
        TypeError: a tensor argument of the wrong type or dtype.
        ValueError: wrong shapes, ``T == 0``, non-finite input, parameters out of range,
            tensors on different devices, or a backend that does not run on ``x``'s device.
        BackendUnavailableError: ``backend="cuda"`` and Numba cannot reach a GPU.
    """
    check_float_tensor("x", x)
    if batch_first and steps is None:
        if x.dim() != 3:
            raise ValueError(
                f"x must have shape (B, T, F) with batch_first (3 dimensions); got {tuple(x.shape)}"
            )
        spk, mem = lif_sequence(
            x.transpose(0, 1), beta, threshold, mem0, reset=reset, surrogate=surrogate,
            slope=slope, backend=backend, clamp_beta=clamp_beta, check_finite=check_finite,
        )  # fmt: skip
        return spk.transpose(0, 1), mem.transpose(0, 1)
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
        n_steps = check_steps(steps)
        batch, features = x.shape
    if n_steps == 0:
        raise ValueError("x must have at least one time step (T >= 1); got T = 0")
    _check_output_bytes(n_steps, batch, features, x.element_size())
    check_reset(reset)
    check_surrogate(surrogate)
    slope = check_slope(slope)
    name = _resolve_lif_backend(backend, x, surrogate)
    if check_finite:
        _check_finite("x", x)

    beta_f = _per_feature("beta", beta, features, x)
    threshold_f = _per_feature("threshold", threshold, features, x)
    if clamp_beta:
        beta_f = beta_f.clamp(0, 1)
    else:
        check_beta_values(beta_f.detach())
    check_threshold_values(threshold_f.detach())
    if mem0 is None:
        mem0 = torch.zeros((batch, features), dtype=x.dtype, device=x.device)
    else:
        check_float_tensor("mem0", mem0)
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
