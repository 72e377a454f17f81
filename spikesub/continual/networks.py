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

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from spikesub.continual.sizes import check_network_memory
from spikesub.models.snn import LIF, SpikingLinear

__all__ = [
    "CONV_ARCHITECTURES",
    "conv_layer_count",
    "ConvSpec",
    "ConvUnit",
    "SnnTorchMLP",
    "SpikingConvNet",
    "SpikingMLP",
    "SpikingResNet",
    "snntorch_mlp",
    "spiking_convnet",
    "spiking_mlp",
]


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


# ---------------------------------------------------------------------------------------------
# Convolutional networks


@dataclass(frozen=True)
class ConvSpec:
    """One convolutional stage: ``Conv2d(in, channels, kernel, stride, padding, bias=False)``,
    optionally ``BatchNorm2d``, LIF neurons, then average pooling by ``pool`` (1: none)."""

    channels: int
    kernel: int = 3
    stride: int = 1
    padding: int = 1
    pool: int = 1


CONV_ARCHITECTURES: dict[str, dict[str, Any]] = {
    # a small net for MNIST-sized images, cheap on a CPU: three 3x3 conv stages of 16, 32
    # and 64 channels with batch norm and 2x2 pooling (28 -> 14 -> 7 -> 3: the readout sees
    # 576 spike rates, so the (576, 576) eigendecompositions of GPM / HLOP stay cheap)
    "convnet": dict(
        convs=(ConvSpec(16, 3, 1, 1, 2), ConvSpec(32, 3, 1, 1, 2), ConvSpec(64, 3, 1, 1, 2)),
        hidden=(),
        norm=True,
    ),
    # the HLOP paper's CIFAR-100 network (its code's "spiking_cnn"): three 3x3 conv stages of
    # 64, 128, 256 channels, each with batch norm, LIF and 2x2 average pooling, then the
    # 4*4*256 spike rates to the task's head
    "cifar_cnn": dict(
        convs=(ConvSpec(64, 3, 1, 1, 2), ConvSpec(128, 3, 1, 1, 2), ConvSpec(256, 3, 1, 1, 2)),
        hidden=(),
        norm=True,
    ),
}
"""The plain (non-residual) spiking conv nets by name; ``resnet18`` is :class:`SpikingResNet`."""


class ConvUnit(nn.Module):
    """``nn.Conv2d`` (no bias), optional ``nn.BatchNorm2d``, :class:`LIF`, optional average
    pooling. Input ``(B, C, H, W)`` (static, the current is computed once and repeated over
    ``steps``) or ``(T, B, C, H, W)`` spikes; output ``(T, B, C', H', W')`` spikes.

    ``input_shape`` ``(C, H, W)`` and ``input_steps`` (1 for a static input, else ``steps``)
    are what the convolution sees per example, for the memory checks of
    :mod:`spikesub.continual.sizes`.
    """

    def __init__(
        self,
        in_channels: int,
        spec: ConvSpec,
        input_shape: tuple[int, int, int],
        input_steps: int,
        steps: int,
        *,
        norm: bool,
        lif: dict[str, Any],
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, spec.channels, spec.kernel, spec.stride, spec.padding, bias=False
        )
        self.norm = nn.BatchNorm2d(spec.channels) if norm else None
        self.lif = LIF(**lif)
        self.pool = nn.AvgPool2d(spec.pool) if spec.pool > 1 else None
        self.steps = steps
        self.input_shape = tuple(int(v) for v in input_shape)
        self.input_steps = int(input_steps)
        _, h, w = self.input_shape
        h = (h + 2 * spec.padding - spec.kernel) // spec.stride + 1
        w = (w + 2 * spec.padding - spec.kernel) // spec.stride + 1
        if h < 1 or w < 1:
            raise ValueError(
                f"images of shape {self.input_shape} are smaller than the {spec.kernel}x"
                f"{spec.kernel} kernel of a conv stage"
            )
        self.conv_shape = (spec.channels, h, w)
        if spec.pool > 1:
            h, w = h // spec.pool, w // spec.pool
            if h < 1 or w < 1:
                raise ValueError(
                    f"a {spec.pool}x{spec.pool} pooling leaves no pixel of {self.conv_shape}"
                )
        self.output_shape = (spec.channels, h, w)

    def current(self, x: torch.Tensor) -> torch.Tensor:
        """The synaptic current: the convolution (and batch norm) of ``x``, static
        ``(B, C, H, W)`` or a sequence ``(T, B, C, H, W)`` (returned with its time axis)."""
        if x.dim() == 5:
            t, b = x.shape[:2]
            out = self.conv(x.reshape(t * b, *x.shape[2:]))
        else:
            out = self.conv(x)
        if self.norm is not None:
            out = self.norm(out)
        if x.dim() == 5:
            out = out.view(t, b, *out.shape[1:])
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        current = self.current(x)
        spikes = self.lif(current, steps=self.steps) if x.dim() == 4 else self.lif(current)
        if self.pool is not None:
            t, b = spikes.shape[:2]
            spikes = self.pool(spikes.reshape(t * b, *spikes.shape[2:]))
            spikes = spikes.view(t, b, *spikes.shape[1:])
        return spikes


class _ConvBase(nn.Module):
    """What the conv nets share: the flat input reshaped to images, batch norms frozen after
    the first task, the memory check of the conv stages' unfolded inputs."""

    image_shape: tuple[int, int, int]

    def _images(self, x: torch.Tensor) -> torch.Tensor:
        c, h, w = self.image_shape
        if x.dim() == 2 and x.shape[1] == c * h * w:
            return x.view(x.shape[0], c, h, w)
        if x.dim() == 4 and tuple(x.shape[1:]) == self.image_shape:
            return x
        raise ValueError(
            f"x must have shape (batch, {c * h * w}) or (batch, {c}, {h}, {w}); "
            f"got {tuple(x.shape)}"
        )

    def average_norm_statistics(self) -> None:
        """From now on, batch norm's running statistics are the plain average of the batches'
        statistics (``momentum=None``), restarted from nothing. Called for the first task's
        last epoch: an exponential average with the default momentum 0.1 still holds 19 % of
        its initial 0 and 1 after 16 batches (500 digits in batches of 32, one epoch), which
        :meth:`freeze_norm` would then keep for every later task."""
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.reset_running_stats()
                module.momentum = None

    def freeze_norm(self) -> None:
        """Batch norm as the HLOP paper's code runs it after the first task: running
        statistics and affine parameters frozen (eval mode, no gradient), so later tasks
        cannot shift what earlier tasks' units see. Kept across ``train()``."""
        self.norm_frozen = True
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
                for p in module.parameters():
                    p.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if getattr(self, "norm_frozen", False):
            for module in self.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.eval()
        return self

    def conv_units(self) -> list[ConvUnit]:
        """Every :class:`ConvUnit` (its ``.conv`` is a protected layer)."""
        return [m for m in self.modules() if isinstance(m, ConvUnit)]

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")


class SpikingConvNet(_ConvBase):
    """A spiking conv net: :class:`ConvUnit` stages, optional spiking fully connected layers
    (:class:`SpikingLinear`, no bias), and a non-spiking ``nn.Linear`` readout (no bias) of
    the last layer's spike rates (time average). The input is static and directly encoded.

    ``forward(x)`` takes ``(B, C*H*W)`` (flattened images, as the tasks hold them) or
    ``(B, C, H, W)`` and returns logits ``(B, n_outputs)``.
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        convs: Sequence[ConvSpec],
        hidden: Sequence[int],
        n_outputs: int,
        steps: int,
        *,
        norm: bool = False,
        **lif: Any,
    ) -> None:
        super().__init__()
        self.image_shape = _check_image_shape(image_shape)
        self.steps = _check_steps(steps)
        if not convs:
            raise ValueError("a conv net needs at least one conv stage")
        units = []
        shape, in_steps = self.image_shape, 1
        for spec in convs:
            unit = ConvUnit(shape[0], spec, shape, in_steps, self.steps, norm=norm, lif=lif)
            units.append(unit)
            shape, in_steps = unit.output_shape, self.steps
        self.features = nn.ModuleList(units)
        flat = math.prod(shape)
        sizes = (flat, *hidden)
        check_network_memory((*sizes, n_outputs), self.steps, "spiking conv net")
        self.hidden = nn.ModuleList(
            SpikingLinear(a, b, bias=False, steps=self.steps, **lif)
            for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.readout = nn.Linear(sizes[-1], int(n_outputs), bias=False)
        self._init_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self._images(x)
        for unit in self.features:
            h = unit(h)
        h = h.flatten(2)  # (T, B, C*H*W)
        for layer in self.hidden:
            h = layer(h)
        return self.readout(h.mean(0))


class _BasicBlock(nn.Module):
    """A residual block of two 3x3 :class:`ConvUnit` (batch norm), the shortcut (identity, or
    a 1x1 conv with batch norm when the shape changes) added to the second's current before
    its LIF neurons."""

    def __init__(self, in_channels, channels, stride, input_shape, steps, lif) -> None:
        super().__init__()
        self.first = ConvUnit(
            in_channels, ConvSpec(channels, 3, stride, 1), input_shape, steps, steps,
            norm=True, lif=lif,
        )  # fmt: skip
        self.second = ConvUnit(
            channels, ConvSpec(channels, 3, 1, 1), self.first.output_shape, steps, steps,
            norm=True, lif=lif,
        )  # fmt: skip
        self.shortcut = None
        if stride != 1 or in_channels != channels:
            self.shortcut = ConvUnit(
                in_channels, ConvSpec(channels, 1, stride, 0), input_shape, steps, steps,
                norm=True, lif=lif,
            )  # fmt: skip
        self.output_shape = self.second.output_shape
        self.steps = steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (T, B, C, H, W) spikes
        current = self.second.current(self.first(x))
        current = current + (x if self.shortcut is None else self.shortcut.current(x))
        return self.second.lif(current)


class SpikingResNet(_ConvBase):
    """The reduced ResNet-18 of GPM and the HLOP paper (5-Datasets, miniImageNet): a 3x3
    conv stem of ``width`` channels (stride ``stem_stride``: 1 for 32x32 images, 2 for
    84x84), four stages of two basic blocks with ``width * (1, 2, 4, 8)`` channels (strides
    1, 2, 2, 2), global average pooling of the spikes and a readout (no bias) of their
    rates. Every conv has batch norm and no bias; LIF neurons replace the ReLUs."""

    def __init__(
        self,
        image_shape: Sequence[int],
        n_outputs: int,
        steps: int,
        *,
        width: int = 20,
        stem_stride: int = 1,
        **lif: Any,
    ) -> None:
        super().__init__()
        self.image_shape = _check_image_shape(image_shape)
        self.steps = _check_steps(steps)
        self.stem = ConvUnit(
            self.image_shape[0], ConvSpec(width, 3, stem_stride, 1), self.image_shape, 1,
            self.steps, norm=True, lif=lif,
        )  # fmt: skip
        blocks = []
        shape, channels = self.stem.output_shape, width
        for i, mult in enumerate((1, 2, 4, 8)):
            for j in range(2):
                stride = 2 if i > 0 and j == 0 else 1
                block = _BasicBlock(shape[0], width * mult, stride, shape, self.steps, lif)
                blocks.append(block)
                shape = block.output_shape
            channels = width * mult
        self.blocks = nn.ModuleList(blocks)
        self.readout = nn.Linear(channels, int(n_outputs), bias=False)
        self._init_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(self._images(x))
        for block in self.blocks:
            h = block(h)
        return self.readout(h.mean(dim=(0, 3, 4)))  # rates averaged over time and space


def conv_layer_count(architecture: str) -> int:
    """Conv layers (protected by GPM / HLOP) of a conv architecture: its stages, or for
    ``resnet18`` the stem, two per block and the three 1x1 shortcuts."""
    if architecture == "resnet18":
        return 1 + 2 * 8 + 3
    return len(CONV_ARCHITECTURES[architecture]["convs"])


def _check_image_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(shape)
    if len(shape) != 3 or any(
        isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in shape
    ):
        raise ValueError(f"image_shape must be (channels, height, width) of ints >= 1; got {shape}")
    return shape


def spiking_convnet(
    architecture: str,
    image_shape: Sequence[int],
    n_outputs: int,
    steps: int,
    *,
    hidden: Sequence[int] = (),
    beta: float = 0.9,
    threshold: float = 1.0,
    seed: int | None = None,
    **lif: Any,
) -> SpikingConvNet | SpikingResNet:
    """A spiking conv net by name: ``"convnet"`` (small, for MNIST), ``"cifar_cnn"`` (the
    HLOP paper's CIFAR-100 net) or ``"resnet18"`` (the reduced ResNet-18 of 5-Datasets and
    miniImageNet; stem stride 2 for images wider than 64 pixels, as for miniImageNet's 84x84).

    Args:
        architecture: the name; image_shape: ``(C, H, W)``; n_outputs: readout width.
        steps: time steps per sample; hidden: spiking fully connected layers after the conv
            stages (plain conv nets only).
        beta, threshold, lif: LIF settings of every layer.
        seed: seeds torch before the weights are drawn.

    Raises:
        ValueError: unknown name, images too small for the stages.
        MemoryBudgetError: the weights would exceed the memory budget.
    """
    if seed is not None:
        torch.manual_seed(int(seed))
    lif = dict(beta=beta, threshold=threshold, **lif)
    if architecture == "resnet18":
        if hidden:
            raise ValueError("resnet18 takes no hidden fully connected layers")
        stride = 2 if image_shape[-1] > 64 else 1
        return SpikingResNet(image_shape, n_outputs, steps, stem_stride=stride, **lif)
    if architecture not in CONV_ARCHITECTURES:
        raise ValueError(
            f"architecture must be one of {(*CONV_ARCHITECTURES, 'resnet18')}; got {architecture!r}"
        )
    spec = CONV_ARCHITECTURES[architecture]
    return SpikingConvNet(
        image_shape, spec["convs"], tuple(hidden) or spec["hidden"], n_outputs, steps,
        norm=spec["norm"], **lif,
    )  # fmt: skip
