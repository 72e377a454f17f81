"""Online training through time with presynaptic traces (OTTT, Xiao et al., NeurIPS 2022).

Backpropagation through time stores the whole sequence. The online method trains one time
step at a time: membranes are detached between steps (no gradient flows back in time), and
the weight gradient of a layer at step ``t`` uses, instead of the input spikes ``s_t``, the
presynaptic trace

    ``a_t = lam * a_{t-1} + s_t``     (``a_{-1} = 0``)

which summarises how earlier inputs still sit in the membrane (``lam`` = the membrane decay
``beta`` of the postsynaptic layer, so ``a_t = d mem_t / d W`` when no reset occurred). At
each step the loss is computed on that step's readout, ``loss_fn(W_out s_t, y) / T``, and its
gradient — errors propagated across layers within the step through the surrogate spike
derivative — accumulates in ``.grad``; the weight gradient of a layer is
``sum_t delta_t a_t^T``. Memory does not grow with ``T``.

:class:`OnlineTraceLinear` is that linear map: forward ``W s_t (+ b)``, weight gradient
``delta_t^T a_t``, input gradient ``delta_t W``.

For continual learning, a layer trained this way has weight gradients in the span of its
presynaptic traces, and :meth:`OnlineTrainer.forward` feeds those traces to the strategies'
taps (:func:`spikesub.continual.taps.record_activity`) so GPM / HLOP protect their principal
subspace. Per input sequence, the traces and the spikes span the same space (``s_t = a_t -
lam a_{t-1}``), so protecting either keeps the layer's response to old inputs; the traces
weight the slow components more.

Networks: a :class:`~spikesub.continual.networks.SpikingMLP` (``.hidden`` SpikingLinear layers
and a non-spiking ``.readout`` Linear), or any list of :class:`~spikesub.models.snn.
SpikingLinear` layers with a readout ``nn.Linear``, fed a static ``(B, in)`` input (repeated
over ``steps``) or a sequence ``(T, B, in)``. The readout of the last hidden spikes gives
the step's logits; the model's logits in evaluation (their time average) are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spikesub.continual.taps import record_activity
from spikesub.models.snn import SpikingLinear, lif_sequence

__all__ = [
    "OnlineTraceLinear",
    "OnlineTrainer",
    "make_online_trainer",
    "online_layers",
    "train_step_online",
]


class OnlineTraceLinear(torch.autograd.Function):
    """``apply(s, trace, weight, bias=None)``: forward ``s @ W^T + b`` ``(B, out)`` for
    ``s``, ``trace`` ``(B, in)`` and ``W`` ``(out, in)``; backward: ``dW = delta^T trace``,
    ``ds = delta W``, ``db = sum_b delta`` (``trace`` gets no gradient)."""

    @staticmethod
    def forward(ctx: Any, s, trace, weight, bias=None):
        ctx.save_for_backward(trace, weight)
        ctx.has_bias = bias is not None
        out = s @ weight.T
        if bias is not None:
            out = out + bias
        return out

    @staticmethod
    def backward(ctx: Any, grad_out):
        trace, weight = ctx.saved_tensors
        grad_s = grad_out @ weight if ctx.needs_input_grad[0] else None
        grad_w = grad_out.T @ trace if ctx.needs_input_grad[2] else None
        grad_b = grad_out.sum(0) if ctx.has_bias and ctx.needs_input_grad[3] else None
        return grad_s, None, grad_w, grad_b


def online_layers(model: nn.Module) -> tuple[list[SpikingLinear], nn.Linear]:
    """The spiking layers (in order) and the readout of a spiking MLP.

    Uses ``model.hidden`` and ``model.readout`` when present; otherwise every
    :class:`SpikingLinear` in module order and the last ``nn.Linear`` outside them.
    """
    if hasattr(model, "hidden") and isinstance(getattr(model, "readout", None), nn.Linear):
        layers = list(model.hidden)
        readout = model.readout
    else:
        layers = [m for m in model.modules() if isinstance(m, SpikingLinear)]
        inner = {id(layer.linear) for layer in layers}
        outer = [m for m in model.modules() if isinstance(m, nn.Linear) and id(m) not in inner]
        if not outer:
            raise ValueError("model has no nn.Linear readout outside its SpikingLinear layers")
        readout = outer[-1]
    for i, layer in enumerate(layers):
        if not isinstance(layer, SpikingLinear):
            raise TypeError(f"layer {i} must be a SpikingLinear; got {type(layer).__name__}")
        if layer.lif.recurrent:
            raise ValueError(f"layer {i} is recurrent, which online training does not support")
    return layers, readout


def _decay(layer: SpikingLinear, lam: float | None) -> float:
    if lam is not None:
        return lam
    return float(layer.lif.beta.detach().float().mean())


class OnlineTrainer:
    """One-step-at-a-time training of a spiking MLP with presynaptic traces.

    Args:
        model: the network (see :func:`online_layers`); or pass ``layers`` and ``readout``.
        layers: :class:`SpikingLinear` layers, applied in order.
        readout: non-spiking ``nn.Linear`` on the last layer's spikes.
        steps: time steps for a static input (default: the first layer's ``steps``, or
            ``model.steps``).
        lam: trace decay in [0, 1) for every layer (default: each layer's mean ``beta``).

    ``trainer(x, y, mask, penalty, loss_fn)`` accumulates the gradients of one batch into
    ``.grad`` and returns its loss (a float); :meth:`forward` gives the logits without
    gradients and records presynaptic traces for the strategies' taps.
    """

    def __init__(
        self,
        model: nn.Module | None = None,
        *,
        layers: Sequence[SpikingLinear] | None = None,
        readout: nn.Linear | None = None,
        steps: int | None = None,
        lam: float | None = None,
    ) -> None:
        if layers is None or readout is None:
            if model is None:
                raise ValueError("OnlineTrainer needs a model, or both layers and readout")
            found_layers, found_readout = online_layers(model)
            layers = found_layers if layers is None else layers
            readout = found_readout if readout is None else readout
        if not isinstance(readout, nn.Linear):
            raise TypeError(f"readout must be an nn.Linear; got {type(readout).__name__}")
        self.layers = list(layers)
        self.readout = readout
        if steps is None:
            steps = getattr(model, "steps", None)
            if steps is None and self.layers:
                steps = self.layers[0].steps
        if steps is not None and (
            isinstance(steps, bool) or not isinstance(steps, int) or steps < 1
        ):
            raise ValueError(f"steps must be an int >= 1; got {steps!r}")
        self.steps = steps
        if lam is not None:
            if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0 <= lam < 1:
                raise ValueError(f"lam must be a number in [0, 1); got {lam!r}")
            lam = float(lam)
        self.lams = [_decay(layer, lam) for layer in self.layers]

    def _n_steps(self, x: torch.Tensor) -> int:
        if x.dim() == 3:
            return x.shape[0]
        if x.dim() != 2:
            raise ValueError(f"x must have shape (B, in) or (T, B, in); got {tuple(x.shape)}")
        if self.steps is None:
            raise ValueError("a static input (B, in) needs steps (given to OnlineTrainer)")
        return self.steps

    def _run(self, x: torch.Tensor, on_step: Callable[[int, torch.Tensor], None], record: bool):
        """Run all steps; ``on_step(t, logits_t)`` is called after each step's readout."""
        n_steps = self._n_steps(x)
        mems: list[torch.Tensor | None] = [None] * len(self.layers)
        traces: list[torch.Tensor | None] = [None] * len(self.layers)
        for t in range(n_steps):
            s = x if x.dim() == 2 else x[t]
            for i, layer in enumerate(self.layers):
                s_in = s.detach() if i == 0 else s
                prev = traces[i]
                a = s_in.detach() if prev is None else self.lams[i] * prev + s_in.detach()
                traces[i] = a
                if record:
                    record_activity(layer.linear, a)
                current = OnlineTraceLinear.apply(s_in, a, layer.linear.weight, layer.linear.bias)
                lif = layer.lif
                spk, mem = lif_sequence(
                    current.unsqueeze(0),
                    lif.beta.reshape(-1) if lif.beta.numel() > 1 else lif.beta,
                    lif.threshold.reshape(-1) if lif.threshold.numel() > 1 else lif.threshold,
                    mems[i],
                    reset=lif.reset,
                    surrogate=lif.surrogate,
                    slope=lif.slope,
                    backend=lif.backend,
                    clamp_beta=True,
                )
                mems[i] = mem[0].detach()
                s = spk[0]
            if record:
                record_activity(self.readout, s.detach())
            on_step(t, F.linear(s, self.readout.weight, self.readout.bias))

    def __call__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        mask: torch.Tensor | None = None,
        penalty: torch.Tensor | None = None,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ) -> float:
        """Accumulate one batch's gradients (does not zero ``.grad`` nor step).

        Args:
            x: ``(B, in)`` static input or ``(T, B, in)`` sequence.
            y: targets for ``loss_fn``, e.g. class indices ``(B,)``.
            mask: bool ``(n_out,)`` or ``(B, n_out)``: logits outside it are set to -inf
                before the loss (task-incremental heads); None: all classes.
            penalty: a scalar added once to the loss (e.g. ``strategy.penalty()``).
            loss_fn: ``loss_fn(logits, y)``, mean over the batch (default cross-entropy).

        Returns:
            the loss, ``mean_t loss_fn(logits_t, y)`` plus the penalty.
        """
        loss_fn = F.cross_entropy if loss_fn is None else loss_fn
        n_steps = self._n_steps(x)
        total = 0.0

        def on_step(t: int, logits: torch.Tensor) -> None:
            nonlocal total
            if mask is not None and not bool(mask.all()):
                logits = logits.masked_fill(~mask.to(logits.device), float("-inf"))
            loss = loss_fn(logits, y) / n_steps
            loss.backward()
            total += float(loss.detach())

        self._run(x, on_step, record=False)
        if penalty is not None and isinstance(penalty, torch.Tensor) and penalty.requires_grad:
            penalty.backward()
        if penalty is not None:
            total += (
                float(penalty.detach()) if isinstance(penalty, torch.Tensor) else float(penalty)
            )
        return total

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_out)``, the time average of the step readouts (no gradient); feeds
        the presynaptic traces of every layer (and the readout's input spikes) to the taps."""
        out: list[torch.Tensor] = []
        with torch.no_grad():
            self._run(x, lambda t, logits: out.append(logits), record=True)
        return torch.stack(out).mean(0)


def make_online_trainer(model: nn.Module, **kwargs: Any) -> OnlineTrainer:
    """An :class:`OnlineTrainer` for ``model`` (keyword arguments as the class)."""
    return OnlineTrainer(model, **kwargs)


def train_step_online(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    *,
    strategy: Any = None,
    mask: torch.Tensor | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    trainer: OnlineTrainer | None = None,
) -> float:
    """One online training step: zero the gradients, accumulate them step by step (plus the
    strategy's penalty), let the strategy edit them (``before_step``), update the weights.

    Returns the loss (float). Pass a ``trainer`` to reuse one (and its options).
    """
    trainer = make_online_trainer(model) if trainer is None else trainer
    optimizer.zero_grad(set_to_none=True)
    penalty = strategy.penalty() if strategy is not None else None
    loss = trainer(x, y, mask, penalty, loss_fn)
    if strategy is not None:
        strategy.before_step()
    optimizer.step()
    return loss
