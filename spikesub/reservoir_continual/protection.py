"""Where the protected subspace of the old tasks comes from: lateral Hebbian neurons (HLOP)
or an exact SVD basis (GPM).

After a task is learnt, each protection takes that task's presynaptic traces (the rows the
readout's eligibility saw while its gate was open) and extends the subspace it protects:

* :class:`HebbianProtection`: HLOP's lateral circuit
  (:class:`spikesub.continual.subspace.HebbianSubspace`). New lateral neurons are added (as
  many as the energy criterion asks, GPM's rule applied to the residual outside what the
  frozen rows already span), learn the principal subspace of the task's traces with Oja's
  subspace rule (Hebbian ``y r^T``, anti-Hebbian ``-y y^T H`` through all rows), then freeze.
  Each update is local to a lateral neuron and its synapses.
* :class:`ExactProtection`: GPM's basis (:func:`spikesub.continual.projection.extend_basis`):
  the top eigenvectors of the residual's second moment, up to the same energy threshold.

Both give rows ``H`` ``(k, n)`` for :meth:`ProjectedThreeFactorReadout.protect
<spikesub.reservoir_continual.readout.ProjectedThreeFactorReadout.protect>`.
"""

from __future__ import annotations

import numpy as np
import torch

from spikesub.continual.projection import extend_basis
from spikesub.continual.subspace import HebbianSubspace
from spikesub.models.validation import check_int, check_real

__all__ = ["ExactProtection", "HebbianProtection", "NoProtection", "Protection"]


class Protection:
    """No subspace: the rows are empty and stay so."""

    def __init__(self, n_inputs: int) -> None:
        self.n_inputs = check_int("n_inputs", n_inputs, minimum=1)
        self.k_per_task: list[int] = []
        self._rows = np.zeros((0, self.n_inputs))

    @property
    def rows(self) -> np.ndarray:
        """``(k, n_inputs)`` float64 rows ``H`` of the protected subspace, old tasks first."""
        return self._rows

    def task_rows(self, task: int) -> np.ndarray:
        """The rows added after task ``task``."""
        start = sum(self.k_per_task[:task])
        return self._rows[start : start + self.k_per_task[task]]

    def _check_rows(self, rows: np.ndarray) -> torch.Tensor:
        x = np.asarray(rows, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_inputs or x.shape[0] == 0:
            raise ValueError(f"rows must have shape (m >= 1, {self.n_inputs}); got {x.shape}")
        return torch.from_numpy(np.ascontiguousarray(x))

    def add_task(self, rows: np.ndarray) -> int:
        """Protect what task's traces ``rows`` ``(m, n_inputs)`` span; returns the rows added."""
        self._check_rows(rows)
        self.k_per_task.append(0)
        return 0


NoProtection = Protection


class ExactProtection(Protection):
    """GPM: an orthonormal basis from the eigenvectors of the traces' second moment.

    Args:
        n_inputs: length of a trace row.
        energy_threshold: fraction of each task's trace energy the subspace must hold, [0, 1].
    """

    def __init__(self, n_inputs: int, energy_threshold: float = 0.97) -> None:
        super().__init__(n_inputs)
        self.energy_threshold = check_real("energy_threshold", energy_threshold, low=0.0, high=1.0)
        self._basis: torch.Tensor | None = None

    def add_task(self, rows: np.ndarray) -> int:
        x = self._check_rows(rows)
        self._basis, info = extend_basis(x.T @ x, self._basis, self.energy_threshold)
        self._rows = self._basis.double().T.numpy().copy()
        self.k_per_task.append(int(info["k_new"]))
        return int(info["k_new"])


class HebbianProtection(Protection):
    """HLOP: lateral neurons that learn each task's principal subspace with Hebbian updates.

    Args:
        n_inputs: length of a trace row.
        energy_threshold: how many lateral neurons a task gets: enough that with the frozen
            rows they could hold this fraction of its trace energy, [0, 1].
        epochs: Hebbian passes over the task's traces, >= 1.
        batch_rows: trace rows per Hebbian update, >= 1.
        lr: the Hebbian step (dimensionless, in (0, 1]), decaying to ``lr_final * lr``.
        lr_final: in (0, 1].
        momentum: momentum of the Hebbian updates, in [0, 1) (the weak directions of a
            trace subspace converge much faster with it).
        seed: seed of the new neurons' initial weights.
    """

    def __init__(
        self,
        n_inputs: int,
        energy_threshold: float = 0.97,
        *,
        epochs: int = 100,
        batch_rows: int = 64,
        lr: float = 0.5,
        lr_final: float = 0.1,
        momentum: float = 0.9,
        seed: int = 0,
    ) -> None:
        super().__init__(n_inputs)
        self.energy_threshold = check_real("energy_threshold", energy_threshold, low=0.0, high=1.0)
        self.epochs = check_int("epochs", epochs, minimum=1)
        self.batch_rows = check_int("batch_rows", batch_rows, minimum=1)
        self.lr_final = check_real("lr_final", lr_final, low=0.0, high=1.0, low_open=True)
        self.circuit = HebbianSubspace(
            self.n_inputs, rule="oja", lr=lr, momentum=momentum, seed=seed, dtype=torch.float64
        )

    def add_task(self, rows: np.ndarray) -> int:
        x = self._check_rows(rows)
        k = self.circuit.choose_k(energy_threshold=self.energy_threshold, gram=x.T @ x)
        self.circuit.add_neurons(k)
        batches = [x[i : i + self.batch_rows] for i in range(0, x.shape[0], self.batch_rows)]
        self.circuit.learn(batches, epochs=self.epochs, lr_final=self.lr_final)
        self.circuit.freeze()
        self._rows = self.circuit.H_old.double().numpy().copy()
        self.k_per_task.append(int(k))
        return int(k)
