"""Continual learning for spiking networks: lateral Hebbian subspaces and orthogonal projection.

* :mod:`~spikesub.continual.subspace`: :class:`HebbianSubspace`, the lateral Hebbian circuit
  (Oja / GHA, rate or spiking neurons) that learns the principal subspace of a layer's activity;
* :mod:`~spikesub.continual.taps`: :class:`ActivityTap`, presynaptic activity of Linear / Conv2d
  layers (our spiking layers and snnTorch models alike);
* :mod:`~spikesub.continual.projection`: orthogonal projection of weight gradients and the
  subspace algebra of GPM;
* :mod:`~spikesub.continual.strategies`: :class:`Strategy` and :class:`FineTune`,
  :class:`EWC`, :class:`GPM`, :class:`HLOP`, built by name with :func:`make_strategy`;
* :mod:`~spikesub.continual.online`: online training with presynaptic traces (OTTT);
* :mod:`~spikesub.continual.distributed`: data-parallel runs under ``torchrun``.
"""

from __future__ import annotations

from spikesub.kernels.lazy_exports import lazy_getattr

# torch takes seconds to import: the names load on first use (``spikesub --help`` stays fast)
_EXPORTS = {
    "OnlineTraceLinear": "online",
    "OnlineTrainer": "online",
    "make_online_trainer": "online",
    "train_step_online": "online",
    "extend_basis": "projection",
    "principal_angles": "projection",
    "project_out": "projection",
    "project_out_lateral": "projection",
    "EWC": "strategies",
    "GPM": "strategies",
    "HLOP": "strategies",
    "STRATEGIES": "strategies",
    "FineTune": "strategies",
    "Strategy": "strategies",
    "make_strategy": "strategies",
    "protected_layers": "strategies",
    "HebbianSubspace": "subspace",
    "SubspaceDivergedError": "subspace",
    "ActivityTap": "taps",
    "record_activity": "taps",
}

__all__ = [
    "ActivityTap",
    "EWC",
    "FineTune",
    "GPM",
    "HLOP",
    "HebbianSubspace",
    "OnlineTraceLinear",
    "OnlineTrainer",
    "STRATEGIES",
    "Strategy",
    "SubspaceDivergedError",
    "extend_basis",
    "make_online_trainer",
    "make_strategy",
    "principal_angles",
    "project_out",
    "project_out_lateral",
    "protected_layers",
    "record_activity",
    "train_step_online",
]


__getattr__ = lazy_getattr("spikesub.continual", _EXPORTS, globals())
