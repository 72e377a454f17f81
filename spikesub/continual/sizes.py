"""Memory estimates of the continual-learning networks and runs, checked before anything is built.

The large allocations of a run, in bytes (float32 tensors, 4 bytes a value):

* weights: ``4 * sum(n_in * n_out)`` over the ``nn.Linear`` layers of ``sizes = (inputs,
  hidden..., outputs)``; training keeps their gradients and, with momentum, SGD's momentum
  buffers too: 2 or 3 copies;
* one training step through time (BPTT): ``copies * steps * batch * sum(hidden) * 4`` with
  :data:`BPTT_COPIES` values per hidden neuron and time step;
* forward passes without gradients (evaluation, the GPM / HLOP recording pass):
  :data:`NO_GRAD_COPIES` values per hidden neuron, time step and example of a batch of
  ``max(batch_size, EVAL_BATCH)``;
* the activity HLOP keeps for its Hebbian learning: per protected layer and forward call, at
  most ``max_rows`` rows (:func:`activity_rows_per_example` rows per example) of the layer's
  input width; GPM and HLOP also hold a few ``(d, d)`` matrices per layer (Gram, basis,
  projector), EWC a few copies of the weights.

:func:`check_continual_memory` adds them up and refuses a run over the memory budget
(:mod:`spikesub.models.memory`) with the parts named.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from spikesub.models.memory import check_allocation

__all__ = [
    "BPTT_COPIES",
    "EVAL_BATCH",
    "NO_GRAD_COPIES",
    "activity_rows_per_example",
    "bptt_activation_bytes",
    "check_continual_memory",
    "check_conv_memory",
    "check_network_memory",
    "recorded_activity_bytes",
    "unfolded_activity_bytes",
    "weight_bytes",
]

FLOAT_BYTES = 4

BPTT_COPIES: dict[str, int] = {"spikesub": 5, "snntorch": 6}
"""Values of ``(steps, batch)`` size per hidden neuron alive at the peak of a BPTT step.

``spikesub`` (:class:`~spikesub.models.snn.SpikingLinear` on the fused LIF kernel, see
:class:`~spikesub.models.snn.LIFSequenceFunction`): the spikes (the next layer's input) and the
membranes (saved for the backward pass), the next layer's input current, and in the backward
pass the spike gradient and the input gradient. ``snntorch`` (a Python loop over time): the
autograd graph keeps per step the Linear's output, the membrane, its reset and the spikes, and
the backward pass adds the gradients of a step.
"""

NO_GRAD_COPIES = 4
"""Values per hidden neuron, step and example of a forward pass without gradients: a layer's
spikes and membranes, the next layer's input current, and the presynaptic trace a GPM / HLOP
tap computes from the spikes."""

EVAL_BATCH = 1000
"""Examples per forward pass of :func:`spikesub.continual.metrics.evaluate` (its default)."""

_TAPPED_MATRICES = 4  # per protected layer: Gram (float64, 2 units), basis, projector (float32)
_EWC_COPIES = 3  # Fisher information, the old task's weights, the saved gradients


def weight_bytes(sizes: Sequence[int]) -> float:
    """Bytes of the float32 weights of the ``nn.Linear`` (no bias) layers between ``sizes``."""
    return float(FLOAT_BYTES * sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False)))


def check_network_memory(sizes: Sequence[int], steps: int, network: str = "spiking MLP") -> None:
    """Refuse (MemoryBudgetError) a network whose weights alone exceed the memory budget."""
    check_allocation(
        f"weights of the {network} with sizes {tuple(sizes)} (steps={steps})", weight_bytes(sizes)
    )


def bptt_activation_bytes(
    hidden: Sequence[int], steps: int, batch_size: int, network: str = "spikesub"
) -> float:
    """Bytes of one training step through time: ``copies * steps * batch * sum(hidden) * 4``."""
    return float(BPTT_COPIES[network]) * steps * batch_size * sum(hidden) * FLOAT_BYTES


def activity_rows_per_example(module: nn.Module, input_shape: Sequence[int], steps: int) -> int:
    """Activity rows one example gives a GPM / HLOP tap of ``module`` per forward call.

    Args:
        module: an ``nn.Linear`` or ``nn.Conv2d``.
        input_shape: one example's input without batch or time axes: ``(in_features,)``, or
            ``(C, H, W)`` for a convolution.
        steps: time steps the input carries in one call (1 for a static input).

    Returns:
        ``steps`` rows for a Linear; for a Conv2d ``steps`` times the number of output
        positions (one unfolded patch of ``C * kh * kw`` values each, see
        :func:`spikesub.continual.taps.activity_rows`).
    """
    if isinstance(module, nn.Linear):
        return int(steps)
    if not isinstance(module, nn.Conv2d):
        raise TypeError(f"module must be an nn.Linear or nn.Conv2d; got {type(module).__name__}")
    _, height, width = input_shape
    positions = 1
    for axis, size in enumerate((height, width)):
        kernel, stride = module.kernel_size[axis], module.stride[axis]
        dilation = module.dilation[axis]
        padding = _conv_padding(module, axis)
        span = dilation * (kernel - 1) + 1
        positions *= max(0, (size + padding - span) // stride + 1)
    return int(steps) * positions


def _conv_padding(module: nn.Conv2d, axis: int) -> int:
    """Total padding (both sides) of ``module`` along ``axis`` (0: height, 1: width)."""
    if module.padding == "valid":
        return 0
    if module.padding == "same":
        return module.dilation[axis] * (module.kernel_size[axis] - 1)
    return 2 * module.padding[axis]


def recorded_activity_bytes(
    layer_rows: Sequence[tuple[int, int]], n_calls: int, max_rows: int | None
) -> float:
    """Bytes of the activity rows a tapped strategy keeps (float32).

    Args:
        layer_rows: per protected layer, ``(rows per forward call, row width)``.
        n_calls: forward calls recorded (batches, times the steps of a loop over time).
        max_rows: rows kept per call and layer (None: all).
    """
    total = 0.0
    for rows, width in layer_rows:
        kept = rows if max_rows is None else min(rows, max_rows)
        total += float(n_calls) * kept * width * FLOAT_BYTES
    return total


def _strategy_state_bytes(method: str, sizes: Sequence[int]) -> float:
    if method in ("gpm", "hlop"):
        return float(sum(_TAPPED_MATRICES * 2 * FLOAT_BYTES * d * d for d in sizes[:-1]))
    if method == "ewc":
        return _EWC_COPIES * weight_bytes(sizes)
    return 0.0


def _hlop_rows(config: Any, sizes: Sequence[int], n_train: int, options: Mapping) -> float:
    """Bytes of the activity HLOP keeps for one task's Hebbian learning."""
    from spikesub.continual.strategies import HLOP

    max_rows = options.get("max_rows", HLOP.option_defaults["max_rows"])
    record = options.get("record_examples", HLOP.option_defaults["record_examples"])
    examples = n_train if record is None else min(int(record), n_train)
    batches = math.ceil(examples / config.batch_size)
    batch, steps = config.batch_size, config.steps
    if config.network == "snntorch":  # every Linear is called once per step with B rows
        layer_rows = [(batch, d) for d in sizes[:-1]]
        return recorded_activity_bytes(layer_rows, batches * steps, max_rows)
    # SpikingMLP: the first Linear sees the static input (B rows), the deeper ones the spike
    # sequence (T * B rows), the readout the spike rates (B rows)
    layer_rows = [(batch, sizes[0])]
    layer_rows += [(steps * batch, d) for d in sizes[1:-2]]
    if len(sizes) > 2:
        layer_rows.append((batch, sizes[-2]))
    return recorded_activity_bytes(layer_rows, batches, max_rows)


def check_continual_memory(
    config: Any, n_features: int, n_train: int, *, n_outputs: int = 10
) -> float:
    """Refuse (MemoryBudgetError) a continual-learning run over the memory budget, before its
    network is built.

    Args:
        config: a :class:`~spikesub.continual.run.ContinualConfig`.
        n_features: input width of the network.
        n_train: training examples of the largest stage (the union of the tasks for
            ``multitask``).
        n_outputs: width of the readout.

    The estimate is the weights with their gradients and momentum, the strategy's state, the
    activity HLOP keeps, and the larger of one BPTT step and one forward pass without
    gradients (see the module docstring for each formula).

    Returns:
        the estimate in bytes (within the budget).
    """
    hidden = tuple(config.hidden)
    sizes = (int(n_features), *hidden, int(n_outputs))
    copies = 3 if config.momentum > 0 else 2
    parts = {
        "weights with gradients and momentum": copies * weight_bytes(sizes),
        "strategy state": _strategy_state_bytes(config.method, sizes),
    }
    if config.training == "bptt":
        parts["one batch through time"] = bptt_activation_bytes(
            hidden, config.steps, config.batch_size, config.network
        )
    no_grad = NO_GRAD_COPIES * config.steps * max(config.batch_size, EVAL_BATCH) * sum(hidden)
    parts["a forward pass without gradients"] = float(no_grad * FLOAT_BYTES)
    if config.method == "hlop":
        parts["recorded activity"] = _hlop_rows(config, sizes, n_train, config.strategy_kwargs())
    # training steps and passes without gradients come one after the other: the larger counts
    through_time = ("one batch through time", "a forward pass without gradients")
    peak = max(parts.get(k, 0.0) for k in through_time)
    total = peak + sum(v for k, v in parts.items() if k not in through_time)
    check_allocation(
        f"continual run of a {config.network} network with hidden={list(hidden)}, "
        f"steps={config.steps}, batch_size={config.batch_size}",
        total,
        parts={name: n_bytes for name, n_bytes in parts.items() if n_bytes > 0},
    )
    return total


def unfolded_activity_bytes(
    module: nn.Conv2d, input_shape: Sequence[int], steps: int, batch: int
) -> float:
    """Bytes of the unfolded input patches of ``module`` for one batch (float32, twice: the
    patches and their transposed copy, as :func:`~spikesub.continual.taps.activity_rows`
    makes them): ``2 * batch * rows per example * C * kh * kw * 4``."""
    rows = activity_rows_per_example(module, input_shape, steps)
    kh, kw = module.kernel_size
    return 2.0 * batch * rows * module.in_channels * kh * kw * FLOAT_BYTES


def check_conv_memory(model: nn.Module, config: Any) -> float:
    """Refuse (MemoryBudgetError) a conv net whose training or recording would exceed the
    memory budget, before anything runs: first each conv layer's unfolded input patches of
    one batch (what GPM and HLOP record, and what a convolution's weights see), naming the
    layer; then one batch through time of all the conv stages with the weights.

    Args:
        model: a conv net of :mod:`spikesub.continual.networks` (its ``conv_units()`` know
            their input shapes).
        config: the run's :class:`~spikesub.continual.config.ContinualConfig`.

    Returns:
        the estimate of one training step in bytes.
    """
    batch = int(config.batch_size)
    units = list(model.conv_units())
    names = {id(m): name for name, m in model.named_modules()}
    if config.method in ("gpm", "hlop"):
        for unit in units:
            check_allocation(
                f"the unfolded input patches of conv layer {names.get(id(unit), '?')!r} "
                f"(Conv2d({unit.conv.in_channels}, {unit.conv.out_channels}, "
                f"kernel_size={tuple(unit.conv.kernel_size)}) on inputs {unit.input_shape} x "
                f"{unit.input_steps} steps) for a batch of {batch}",
                unfolded_activity_bytes(unit.conv, unit.input_shape, unit.input_steps, batch),
            )
    neurons = sum(math.prod(unit.conv_shape) for unit in units)
    copies = 3 if config.momentum > 0 else 2
    weights = copies * FLOAT_BYTES * sum(p.numel() for p in model.parameters())
    parts = {
        "weights with gradients and momentum": float(weights),
        "one batch through time": float(
            BPTT_COPIES["spikesub"] * config.steps * batch * neurons * FLOAT_BYTES
        ),
    }
    total = sum(parts.values())
    check_allocation(
        f"continual run of a {config.architecture} with steps={config.steps}, batch_size={batch}",
        total,
        parts=parts,
    )
    return total
