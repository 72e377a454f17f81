"""Spiking multilayer perceptrons for the continual-learning benchmarks.

:func:`spiking_mlp` builds the network the benchmarks train: hidden layers of
:class:`spikesub.models.snn.SpikingLinear` (``nn.Linear`` then leaky integrate-and-fire neurons
on the fused kernels) and a non-spiking ``nn.Linear`` readout. The input is static and
directly encoded: the first layer's synaptic current ``W x`` is computed once and repeated over
the ``steps`` time steps. The logits are the time average of the readout of the last hidden
layer's spikes, ``mean_t (W_out s_t) = W_out mean_t s_t`` (the readout applied to the spike
rate; the output neurons do not spike).

Every ``nn.Linear`` has ``bias=False``: the projection methods of :mod:`spikesub.continual`
edit weight gradients, and a bias, which sees a constant input, would let a later task shift
every earlier task's outputs.

:func:`snntorch_mlp` is the same architecture written the snnTorch way (``nn.Linear`` and
``snntorch.Leaky`` called once per step in a Python loop), for checking that the strategies work
on a model that was not built from this toolkit's layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from spikesub.continual.sizes import check_network_memory
from spikesub.models.snn import SpikingLinear

__all__ = ["SnnTorchMLP", "SpikingMLP", "snntorch_mlp", "spiking_mlp"]


def _check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least (inputs, outputs); got {sizes}")
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"sizes must be ints >= 1; got {sizes}")
    return sizes


def _check_steps(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1; got {steps!r}")
    return steps


class SpikingMLP(nn.Module):
    """Spiking MLP with a static, directly encoded input and a rate readout.

    Attributes:
        hidden: the :class:`SpikingLinear` layers (their ``.linear`` are the weights).
        readout: ``nn.Linear(sizes[-2], sizes[-1], bias=False)``, non-spiking.
        steps: time steps per sample.

    ``forward(x)`` takes ``(B, sizes[0])`` and returns logits ``(B, sizes[-1])``. With no
    hidden layer (``len(sizes) == 2``) the readout acts on the input directly.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        steps: int,
        *,
        beta: float = 0.9,
        threshold: float = 1.0,
        reset: str = "subtract",
        surrogate: str = "atan",
        slope: float = 2.0,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        self.sizes = _check_sizes(sizes)
        self.steps = _check_steps(steps)
        check_network_memory(self.sizes, self.steps, "spiking MLP")
        lif: dict[str, Any] = dict(
            beta=beta,
            threshold=threshold,
            reset=reset,
            surrogate=surrogate,
            slope=slope,
            backend=backend,
        )
        self.hidden = nn.ModuleList(
            SpikingLinear(n_in, n_out, bias=False, steps=self.steps, **lif)
            for n_in, n_out in zip(self.sizes[:-2], self.sizes[1:-1], strict=True)
        )
        self.readout = nn.Linear(self.sizes[-2], self.sizes[-1], bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_out)`` of a batch of static inputs ``x`` ``(B, n_in)``."""
        if x.dim() != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"x must have shape (batch, {self.sizes[0]}); got {tuple(x.shape)}")
        if not self.hidden:
            return self.readout(x)
        h = x
        for layer in self.hidden:
            h = layer(h)  # (B, in) -> (T, B, out); later layers take (T, B, in)
        return self.readout(h.mean(0))


def spiking_mlp(
    sizes: Sequence[int] = (784, 800, 800, 10),
    steps: int = 20,
    *,
    beta: float = 0.9,
    threshold: float = 1.0,
    reset: str = "subtract",
    surrogate: str = "atan",
    slope: float = 2.0,
    backend: str = "auto",
    seed: int | None = None,
) -> SpikingMLP:
    """The spiking MLP of the continual-learning benchmarks.

    Args:
        sizes: ``(inputs, hidden..., outputs)``; the default is the permuted-MNIST network.
        steps: time steps per sample (the static input is repeated ``steps`` times).
        beta: membrane decay per step of the hidden LIF neurons, in (0, 1].
        threshold: firing threshold (> 0); ``reset``: ``"subtract"`` or ``"zero"``.
        surrogate, slope: surrogate gradient of the spike (see :mod:`spikesub.models.snn`).
        backend: LIF kernel backend (``"auto"``: Numba on CPU tensors, CUDA on GPU tensors).
        seed: seeds ``torch`` before the weights are drawn (PyTorch's default
            ``nn.Linear`` initialisation); ``None`` uses the current torch RNG.

    Returns:
        a :class:`SpikingMLP`; ``model(x)`` maps ``(B, sizes[0])`` to logits ``(B, sizes[-1])``.

    Raises:
        MemoryBudgetError: the weights (``4 * sum(n_in * n_out)`` bytes) would exceed the memory
            budget (:mod:`spikesub.models.memory`).
    """
    if seed is not None:
        torch.manual_seed(int(seed))
    return SpikingMLP(
        sizes,
        steps,
        beta=beta,
        threshold=threshold,
        reset=reset,
        surrogate=surrogate,
        slope=slope,
        backend=backend,
    )


class SnnTorchMLP(nn.Module):
    """The MLP of :func:`spiking_mlp` written with ``snntorch.Leaky`` and a loop over time.

    Each step calls every ``nn.Linear`` with ``(B, features)`` and every ``Leaky`` with its
    membrane; the logits are the readout averaged over the steps. All Linears have no bias.
    """

    def __init__(self, sizes: Sequence[int], steps: int, *, beta: float = 0.9) -> None:
        super().__init__()
        import snntorch

        self.sizes = _check_sizes(sizes)
        if len(self.sizes) < 3:
            raise ValueError(f"sizes needs at least one hidden layer; got {self.sizes}")
        self.steps = _check_steps(steps)
        check_network_memory(self.sizes, self.steps, "snnTorch MLP")
        self.linears = nn.ModuleList(
            nn.Linear(n_in, n_out, bias=False)
            for n_in, n_out in zip(self.sizes[:-2], self.sizes[1:-1], strict=True)
        )
        self.leakies = nn.ModuleList(snntorch.Leaky(beta=beta) for _ in self.linears)
        self.readout = nn.Linear(self.sizes[-2], self.sizes[-1], bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_out)`` of static inputs ``x`` ``(B, n_in)``."""
        mems = [
            torch.zeros(x.shape[0], lin.out_features, dtype=x.dtype, device=x.device)
            for lin in self.linears
        ]
        total = None
        for _ in range(self.steps):
            h = x
            for i, (linear, leaky) in enumerate(zip(self.linears, self.leakies, strict=True)):
                h, mems[i] = leaky(linear(h), mems[i])
            out = self.readout(h)
            total = out if total is None else total + out
        return total / self.steps


def snntorch_mlp(
    sizes: Sequence[int] = (784, 800, 800, 10),
    steps: int = 20,
    *,
    beta: float = 0.9,
    seed: int | None = None,
) -> SnnTorchMLP:
    """An snnTorch spiking MLP (``nn.Linear`` + ``snntorch.Leaky`` looped over time).

    Same architecture and readout as :func:`spiking_mlp` (atan surrogate, subtract reset,
    threshold 1, snnTorch's defaults), for running the continual-learning strategies on a
    plain snnTorch model.
    """
    if seed is not None:
        torch.manual_seed(int(seed))
    return SnnTorchMLP(sizes, steps, beta=beta)
