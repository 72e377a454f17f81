"""Helpers shared by the spiking-layer tests: sizes, surrogate cases, a loss, a tolerance."""

from __future__ import annotations

import torch
from snntorch import surrogate as snn_surrogate

T, B, F_IN, F = 30, 4, 10, 16

# (our name, our slope, snnTorch factory)
SURROGATE_CASES = [
    ("atan", 2.0, lambda: snn_surrogate.atan(alpha=2.0)),
    ("fast_sigmoid", 25.0, lambda: snn_surrogate.fast_sigmoid(slope=25)),
    ("sigmoid", 5.0, lambda: snn_surrogate.sigmoid(slope=5)),
    ("straight_through", 1.0, lambda: snn_surrogate.straight_through_estimator()),
]


def assert_grad_close(ours: torch.Tensor, ref: torch.Tensor, rtol: float = 2e-4) -> None:
    """Gradients agree to float32 accumulation accuracy, relative to their scale."""
    scale = float(ref.abs().max()) + 1e-6
    torch.testing.assert_close(ours, ref, rtol=rtol, atol=rtol * scale)


def weighted_loss(spk: torch.Tensor, mem: torch.Tensor) -> torch.Tensor:
    """A loss weighing the steps unequally, on the spikes and (squared) membranes."""
    weights = torch.linspace(0.5, 1.5, spk.shape[0], device=spk.device)
    weights = weights.view(-1, *([1] * (spk.dim() - 1)))
    return (spk * weights).sum() + 0.05 * (mem * weights).pow(2).sum()
