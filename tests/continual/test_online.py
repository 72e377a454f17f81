"""Online training with presynaptic traces: gradients by hand, learning, taps, strategies."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from spikesub.continual.online import (
    OnlineTraceLinear,
    OnlineTrainer,
    make_online_trainer,
    online_layers,
    train_step_online,
)
from spikesub.continual.projection import grad_matrix
from spikesub.continual.strategies import make_strategy
from spikesub.continual.taps import ActivityTap
from spikesub.models.snn import SpikingLinear

pytestmark = pytest.mark.usefixtures("one_thread")


class MLP(nn.Module):
    def __init__(self, sizes=(6, 16, 3), steps=3, beta=0.5, gain=3.0):
        super().__init__()
        self.steps = steps
        self.hidden = nn.ModuleList(
            SpikingLinear(a, b, bias=False, steps=steps, beta=beta)
            for a, b in zip(sizes[:-2], sizes[1:-1], strict=True)
        )
        self.readout = nn.Linear(sizes[-2], sizes[-1], bias=False)
        with torch.no_grad():
            for layer in self.hidden:
                layer.linear.weight.mul_(gain)

    def forward(self, x):
        h = x
        for layer in self.hidden:
            h = layer(h)
        return self.readout(h.mean(0))


def test_trace_linear_gradients():
    g = torch.Generator().manual_seed(0)
    s = torch.rand(4, 5, generator=g).requires_grad_()
    trace = torch.rand(4, 5, generator=g)
    w = torch.randn(3, 5, generator=g, requires_grad=True)
    b = torch.randn(3, generator=g, requires_grad=True)
    out = OnlineTraceLinear.apply(s, trace, w, b)
    torch.testing.assert_close(out, s @ w.T + b)
    c = torch.randn(4, 3, generator=g)
    (out * c).sum().backward()
    torch.testing.assert_close(w.grad, c.T @ trace)  # delta trace^T, not delta s^T
    torch.testing.assert_close(s.grad, c @ w.detach())
    torch.testing.assert_close(b.grad, c.sum(0))


def test_weight_gradient_equals_delta_times_trace_by_hand():
    torch.manual_seed(0)
    steps, beta, slope = 4, 0.5, 2.0
    model = MLP(steps=steps, beta=beta)
    x = torch.rand(8, 6)
    y = torch.randint(0, 3, (8,))
    trainer = OnlineTrainer(model)
    assert trainer.lams == [beta] and trainer.steps == steps
    loss = trainer(x, y)

    w1 = model.hidden[0].linear.weight.detach()
    wo = model.readout.weight.detach()
    mem = torch.zeros(8, 16)
    a = torch.zeros(8, 6)
    grad_w1 = torch.zeros_like(w1)
    grad_wo = torch.zeros_like(wo)
    total = 0.0
    n_spikes = 0.0
    for _ in range(steps):
        a = beta * a + x
        reset = (mem > 1.0).float()
        mem = beta * mem + x @ w1.T - reset * 1.0
        s = (mem > 1.0).float()
        n_spikes += float(s.sum())
        logits = s @ wo.T
        total += float(nn.functional.cross_entropy(logits, y)) / steps
        dlogits = (torch.softmax(logits, 1) - nn.functional.one_hot(y, 3)) / 8 / steps
        u = mem - 1.0
        surrogate = slope / 2 / (1 + (math.pi / 2 * slope * u) ** 2)
        delta = (dlogits @ wo) * surrogate
        grad_w1 += delta.T @ a
        grad_wo += dlogits.T @ s
    assert n_spikes > 0
    assert loss == pytest.approx(total, rel=1e-5)
    torch.testing.assert_close(model.hidden[0].linear.weight.grad, grad_w1, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(model.readout.weight.grad, grad_wo, atol=1e-6, rtol=1e-5)


def _toy(seed=0, n=256):
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(3, 6, generator=g) * 2
    y = torch.randint(0, 3, (n,), generator=g)
    x = (centres[y] + 0.3 * torch.randn(n, 6, generator=g)).clamp_min(0)
    return x, y


def test_online_learning_reduces_loss():
    torch.manual_seed(1)
    model = MLP(sizes=(6, 32, 32, 3), steps=4)
    x, y = _toy()
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    trainer = make_online_trainer(model)
    first = None
    for _epoch in range(6):
        losses = []
        for i in range(0, 256, 32):
            losses.append(
                train_step_online(model, x[i : i + 32], y[i : i + 32], opt, trainer=trainer)
            )
        first = first if first is not None else sum(losses) / len(losses)
    last = sum(losses) / len(losses)
    assert last < 0.6 * first
    with torch.no_grad():
        assert float((model(x).argmax(1) == y).float().mean()) > 0.8
        # the online readout (mean of step logits) and the model's logits agree
        torch.testing.assert_close(trainer.forward(x), model(x), atol=1e-5, rtol=1e-5)


def test_sequence_input_and_mask():
    torch.manual_seed(2)
    model = MLP(steps=3)
    trainer = OnlineTrainer(layers=list(model.hidden), readout=model.readout)
    x = torch.rand(5, 4, 6)  # (T, B, in)
    y = torch.tensor([0, 1, 0, 1])
    mask = torch.tensor([True, True, False])
    trainer(x, y, mask)
    # a masked class gets no gradient through the loss
    assert float(model.readout.weight.grad[2].abs().max()) == 0.0
    assert trainer.forward(x).shape == (4, 3)
    with pytest.raises(ValueError, match="x must have shape"):
        trainer(torch.rand(6), y)
    no_steps = [SpikingLinear(6, 16, bias=False)]
    with pytest.raises(ValueError, match="needs steps"):
        OnlineTrainer(layers=no_steps, readout=model.readout)(torch.rand(4, 6), y)
    with pytest.raises(ValueError, match="lam"):
        OnlineTrainer(model, lam=1.0)


def test_forward_feeds_traces_to_taps():
    torch.manual_seed(3)
    model = MLP(sizes=(6, 16, 16, 3), steps=3, beta=0.5)
    trainer = OnlineTrainer(model)
    x = torch.rand(4, 6)
    taps = [ActivityTap(layer.linear) for layer in model.hidden] + [ActivityTap(model.readout)]
    for tap in taps:
        tap.start()
    trainer.forward(x)
    rows = [tap.pop() for tap in taps]
    assert [r.shape for r in rows] == [(12, 6), (12, 16), (12, 16)]
    # the first layer's trace of a static input is x * (1 + lam + ... + lam^t)
    for t in range(3):
        factor = sum(0.5**k for k in range(t + 1))
        torch.testing.assert_close(rows[0][4 * t : 4 * t + 4], x * factor)
    # the second layer's trace obeys a_t = lam a_{t-1} + s_t with binary spikes s_t
    spikes = rows[1][4:8] - 0.5 * rows[1][:4]
    assert bool(((spikes == 0) | (spikes == 1)).all())
    assert bool(((rows[2] == 0) | (rows[2] == 1)).all())  # readout: instantaneous spikes


def test_online_training_with_gpm_projection():
    torch.manual_seed(4)
    model = MLP(sizes=(6, 16, 3), steps=3)
    layers, readout = online_layers(model)
    assert layers == list(model.hidden) and readout is model.readout
    trainer = OnlineTrainer(model)
    strategy = make_strategy("gpm", model, energy_threshold=0.99)
    x, y = _toy(n=64)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    strategy.begin_task(0)
    train_step_online(model, x, y, opt, strategy=strategy, trainer=trainer)
    strategy.end_task(0, [(x, y)], trainer.forward, nn.functional.cross_entropy)
    strategy.begin_task(1)
    opt.zero_grad()
    trainer(torch.rand(64, 6) * 2, y)
    strategy.before_step()
    for module, basis in zip(strategy.layers, strategy.bases, strict=True):
        assert basis.shape[1] > 0
        assert float((grad_matrix(module) @ basis).abs().max()) < 1e-5
