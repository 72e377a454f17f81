"""Readouts: linear maps from reservoir traces to outputs, and the rules that learn them.

* :class:`ThreeFactorReadout`: error-modulated, attention-gated three-factor Hebbian rule
  (local; online and consolidated outputs);
* :class:`FORCEReadout`: recursive least squares (FORCE), the classic online reference;
* :class:`RidgeReadout`: offline ridge regression, the non-local reference.

All share :class:`Readout`'s interface: ``weights``, ``predict``, ``fit_online``,
``fit_offline``, ``config``, ``state_dict``/``load_state_dict``.
"""

from __future__ import annotations

from spikesub.readouts.base import READOUT_BACKENDS, Readout, ReadoutDivergedError
from spikesub.readouts.force import FORCEReadout
from spikesub.readouts.ridge import RidgeReadout
from spikesub.readouts.three_factor import POST_FACTORS, ThreeFactorReadout

__all__ = [
    "FORCEReadout",
    "POST_FACTORS",
    "READOUT_BACKENDS",
    "Readout",
    "ReadoutDivergedError",
    "RidgeReadout",
    "ThreeFactorReadout",
]
