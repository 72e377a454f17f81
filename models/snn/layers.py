"""Spiking layers for PyTorch on the fused LIF kernels, and readouts of their outputs.

Layers: :class:`LIF` (multi-step over ``(T, B, F)`` or ``(T, B, C, H, W)``, optionally
recurrent), :class:`SpikingLinear` (``nn.Linear`` then LIF, with event-driven products for
spike inputs) and :class:`SpikingConv2d` (``nn.Conv2d`` then LIF); each runs
:func:`~spikesub.models.snn.functional.lif_sequence` over the whole sequence. Readouts:
:func:`spike_count`, :func:`spike_rate`, :func:`last_membrane`.

Sequences are time-first, ``(T, B, ...)``. Every layer and readout takes ``batch_first=True``
for ``(B, T, ...)`` inputs (and then returns ``(B, T, ...)``); :func:`to_time_first` and
:func:`to_batch_first` swap the two axes where no option fits (the functional
:func:`~spikesub.models.snn.functional.lif_sequence`). A layer that knows its number of
steps (``steps=``) refuses a sequence whose axes are visibly swapped
(:func:`~spikesub.models.snn.validation.check_time_axis`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from spikesub.models.memory import check_allocation
from spikesub.models.snn.functional import (
    LARGE_OUTPUT_BYTES,
    LIF_BACKENDS,
    check_reset,
    lif_sequence,
)
from spikesub.models.snn.products import EVENT_INPUT_CHOICES, EventLinear, event_linear
from spikesub.models.snn.surrogate import check_surrogate
from spikesub.models.snn.validation import (
    as_float,
    broadcast_param,
    check_beta_values,
    check_float_tensor,
    check_layer_input,
    check_linear_input,
    check_linear_sizes,
    check_slope,
    check_steps,
    check_threshold_values,
    check_time_axis,
    check_weight_bytes,
)
from spikesub.models.validation import check_bool, check_int, size_in_bytes

OUTPUT_CHOICES: tuple[str, ...] = ("spikes", "membrane", "both")
"""What :class:`LIF` returns."""


def _as_param_tensor(name: str, value: torch.Tensor | float) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        if not value.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor; got {value.dtype}")
        return value.detach().clone()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float or a tensor; got {type(value).__name__}")
    return torch.tensor(as_float(value))


class LIFParameters(nn.Module):
    """Holds ``beta``, ``threshold`` (buffers or parameters) and the neuron options; the base of
    :class:`LIF` and of :class:`~spikesub.models.snn.snntorch_interop.LeakyStep`."""

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
        check_beta_values(beta_t)
        check_threshold_values(threshold_t)
        check_reset(reset)
        check_surrogate(surrogate)
        self.slope = check_slope(slope)
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
        check_float_tensor("x", x)
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
            n_steps = check_steps(steps)
            if x.dim() < 2:
                raise ValueError(
                    f"a static x (with steps) must have shape (B, F) or (B, C, H, W); "
                    f"got {tuple(x.shape)}"
                )
            batch = x.shape[0]
            tail = x.shape[1:]
        features = int(np.prod(tail))
        beta = broadcast_param("beta", self.beta, tail)
        threshold = broadcast_param("threshold", self.threshold, tail)
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
        text = (
            f"reset={self.reset!r}, surrogate={self.surrogate!r}, slope={self.slope}, "
            f"backend={self.backend!r}"
        )
        if getattr(self, "steps", None) is not None:
            text += f", steps={self.steps}"
        if getattr(self, "batch_first", False):
            text += ", batch_first=True"
        return text


class LIF(LIFParameters):
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
        steps: the number of time steps of the sequences this layer takes, when known
            (None: any). A sequence whose time axis has another size while its batch axis
            has ``steps`` is refused as one with swapped axes (the message says which
            ``batch_first=`` to pass). Sequences of other lengths pass.
        batch_first: take and return ``(B, T, ...)`` instead of ``(T, B, ...)``.

    Input ``(T, B, F)`` or ``(T, B, C, H, W)`` (flattened per step), optional ``mem0`` of
    shape ``(B, *neuron_shape)``; output of the same shape as the input. A static input
    (the same current at every step) may be given once, ``(B, *neuron_shape)``, with
    ``steps=T``: the output is ``(T, B, *neuron_shape)``, and the kernels read the input once
    per step instead of a ``T``-fold copy. With ``batch_first=True`` inputs and outputs are
    ``(B, T, ...)`` (a transposed view of the time-first result, no copy); ``mem0`` stays
    ``(B, *neuron_shape)``.
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
        steps: int | None = None,
        batch_first: bool = False,
    ) -> None:
        super().__init__(
            beta, threshold, learn_beta, learn_threshold, reset, surrogate, slope, backend
        )
        self.steps = None if steps is None else check_steps(steps)
        self.batch_first = check_bool("batch_first", batch_first)
        if output not in OUTPUT_CHOICES:
            raise ValueError(f"output must be one of {OUTPUT_CHOICES}; got {output!r}")
        self.output = output
        self.recurrent = check_bool("recurrent", recurrent)
        if self.recurrent and num_features is None:
            raise TypeError("num_features must be an int >= 1 when recurrent=True; got None")
        if num_features is not None:
            num_features = check_int("num_features", num_features, minimum=1)
        if self.recurrent:
            check_weight_bytes(f"LIF(recurrent=True, num_features={num_features})", num_features**2)
            self.recurrent_linear = nn.Linear(num_features, num_features)
        self.num_features = num_features

    def forward(
        self, x: torch.Tensor, mem0: torch.Tensor | None = None, *, steps: int | None = None
    ):
        """Run the layer over ``x`` ``(T, B, ...)`` (``(B, T, ...)`` when ``batch_first``),
        or a static ``x`` ``(B, ...)`` with ``steps``; see the class docstring for the
        output."""
        if steps is None:
            check_float_tensor("x", x)
            check_time_axis("x", x, self.steps, batch_first=self.batch_first, owner="this LIF")
            if self.batch_first:
                x = to_time_first(x)
        if self.recurrent:
            if steps is not None:
                check_float_tensor("x", x)
                x = x.unsqueeze(0).expand(check_steps(steps), *x.shape)
            spk, mem = self._run_recurrent(x, mem0)
        else:
            spk, mem = self._run(x, mem0, steps)
        if self.batch_first:
            spk, mem = spk.transpose(0, 1), mem.transpose(0, 1)
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


class SpikingLinear(nn.Module):
    """``nn.Linear`` followed by :class:`LIF`.

    Input ``(T, B, in_features)`` (the Linear runs once over all steps as one matmul), or a
    static ``(B, in_features)`` with ``steps`` given (here or in ``forward``): the Linear is
    computed once and repeated over ``steps``. Output as :class:`LIF` with ``output``.
    A sequence input that is mostly zeros (the spikes of a previous layer) takes the
    event-driven product on the CPU (see :func:`event_linear`; ``event_input`` is
    ``"auto"``, ``"always"`` or ``"never"``). With ``batch_first=True`` sequences are
    ``(B, T, in_features)`` and the output ``(B, T, out_features)``. With ``steps`` set, a
    sequence whose axes are visibly swapped is refused (see :class:`LIF`). Keyword arguments
    besides ``bias``, ``steps``, ``event_input`` and ``batch_first`` go to :class:`LIF`.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        steps: int | None = None,
        event_input: str = "auto",
        batch_first: bool = False,
        **lif_kwargs: Any,
    ) -> None:
        super().__init__()
        check_linear_sizes(type(self).__name__, in_features, out_features, bias)
        self.batch_first = check_bool("batch_first", batch_first)
        self.linear = EventLinear(in_features, out_features, bias=bias, event_input=event_input)
        self._event_input = event_input
        if lif_kwargs.get("recurrent"):
            lif_kwargs.setdefault("num_features", out_features)
        self.lif = LIF(**lif_kwargs, batch_first=batch_first)
        self.steps = None if steps is None else check_steps(steps)

    def forward(self, x: torch.Tensor, steps: int | None = None):
        """Linear then LIF; ``x`` ``(T, B, in)`` (``(B, T, in)`` when ``batch_first``) or
        static ``(B, in)`` with ``steps``.

        Raises:
            TypeError: ``x`` is not a float tensor of the weights' dtype (e.g. float64 for a
                float32 layer: pass ``x.float()`` or convert the layer with ``.double()``).
            ValueError: ``x`` has another number of features than ``in_features``, another
                number of dimensions, lies on another device than the weights, or is a
                sequence whose time and batch axes are visibly swapped.
        """
        check_float_tensor("x", x)
        if not isinstance(self.linear, EventLinear):  # an EventLinear checks x itself
            check_linear_input(x, self.linear.weight)
        if x.dim() not in (2, 3):
            raise ValueError(
                f"x must have shape (T, B, in_features) or (B, in_features); got {tuple(x.shape)}"
            )
        n_steps = None
        if x.dim() == 2:  # a static input: the Linear once, repeated over the steps
            n_steps = check_steps(steps if steps is not None else self.steps)
        else:
            check_time_axis(
                "x", x, self.steps, batch_first=self.batch_first, owner="this SpikingLinear"
            )
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
    ``threshold`` may be per channel with shape ``(C_out, 1, 1)``. With ``batch_first=True``
    sequences are ``(B, T, C, H, W)``, and so is the output. With ``steps`` set, a sequence
    whose axes are visibly swapped is refused (see :class:`LIF`). Keyword arguments besides
    the Conv2d ones, ``steps`` and ``batch_first`` go to :class:`LIF` (``recurrent`` is not
    supported here).
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
        batch_first: bool = False,
        **lif_kwargs: Any,
    ) -> None:
        super().__init__()
        self.batch_first = check_bool("batch_first", batch_first)
        if lif_kwargs.get("recurrent"):
            raise ValueError("recurrent=True is not supported by SpikingConv2d; use LIF")
        _check_conv_arguments(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias
        )
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias
        )
        self.lif = LIF(**lif_kwargs, batch_first=batch_first)
        self.steps = None if steps is None else check_steps(steps)

    def forward(self, x: torch.Tensor, steps: int | None = None):
        """Conv2d then LIF; ``x`` ``(T, B, C, H, W)`` (``(B, T, C, H, W)`` when
        ``batch_first``) or static ``(B, C, H, W)`` with ``steps``.

        Raises:
            TypeError: ``x`` is not a float tensor of the weights' dtype.
            ValueError: another number of channels than ``in_channels``, images smaller than
                the (dilated) kernel, another number of dimensions, another device, or a
                sequence whose time and batch axes are visibly swapped.
        """
        check_float_tensor("x", x)
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
            n_steps = check_steps(steps if steps is not None else self.steps)
            return self.lif(self.conv(x), steps=n_steps)
        elif x.dim() == 5:
            check_time_axis(
                "x", x, self.steps, batch_first=self.batch_first, owner="this SpikingConv2d"
            )
            lead = x.shape[:2]  # (T, B), or (B, T) when batch_first: the LIF reads them
            current = self.conv(x.reshape(lead[0] * lead[1], *x.shape[2:]))
            current = current.view(*lead, *current.shape[1:])
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
    check_weight_bytes(
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


def _check_sequence(name: str, value: torch.Tensor, batch_first: bool = False) -> int:
    """The time axis of ``value``, a ``(T, B, ...)`` (or ``(B, T, ...)``) sequence."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(value).__name__}")
    check_bool("batch_first", batch_first)
    layout = "(B, T, ...)" if batch_first else "(T, B, ...)"
    if value.dim() < 2:
        raise ValueError(f"{name} must have shape {layout}; got {tuple(value.shape)}")
    time_dim = 1 if batch_first else 0
    if value.shape[time_dim] == 0:
        raise ValueError(
            f"{name} must have at least one time step; got T = 0 (shape {tuple(value.shape)})"
        )
    return time_dim


def to_time_first(x: torch.Tensor) -> torch.Tensor:
    """``(B, T, ...)`` -> ``(T, B, ...)``: a transposed view (no copy)."""
    _check_sequence("x", x, batch_first=True)
    return x.transpose(0, 1)


def to_batch_first(x: torch.Tensor) -> torch.Tensor:
    """``(T, B, ...)`` -> ``(B, T, ...)``: a transposed view (no copy)."""
    _check_sequence("x", x)
    return x.transpose(0, 1)


def spike_count(spk: torch.Tensor, *, batch_first: bool = False) -> torch.Tensor:
    """Spikes per neuron summed over time: ``(T, B, ...)`` (or ``(B, T, ...)`` when
    ``batch_first``) -> ``(B, ...)`` (differentiable)."""
    return spk.sum(_check_sequence("spk", spk, batch_first))


def spike_rate(spk: torch.Tensor, *, batch_first: bool = False) -> torch.Tensor:
    """Spikes per step averaged over time (in [0, 1]): ``(T, B, ...)`` (or ``(B, T, ...)``
    when ``batch_first``) -> ``(B, ...)``."""
    return spk.mean(_check_sequence("spk", spk, batch_first))


def last_membrane(mem: torch.Tensor, *, batch_first: bool = False) -> torch.Tensor:
    """Membrane at the last step: ``(T, B, ...)`` (or ``(B, T, ...)`` when ``batch_first``)
    -> ``(B, ...)``."""
    return mem.select(_check_sequence("mem", mem, batch_first), -1)
