"""The toolkit's exceptions below the package level.

Every one derives from :class:`SpikesubError` (defined in the kernels, the lowest floor), and
those that report a bad argument also derive from :class:`ValueError`, so code written against
the standard exception types keeps working.
"""

from __future__ import annotations

from spikesub.kernels.errors import SpikesubError

__all__ = [
    "MemoryBudgetError",
    "NonFiniteStateError",
    "RunFolderError",
    "SpikesubError",
]


class MemoryBudgetError(SpikesubError, ValueError):
    """An allocation was refused before it was made: it would exceed the memory budget.

    Attributes:
        what: what would have been allocated (names the argument that sets its size).
        n_bytes: its estimated size in bytes.
        budget_bytes: the budget in force.
    """

    def __init__(self, message: str, *, what: str = "", n_bytes: int = 0, budget_bytes: int = 0):
        self.what = what
        self.n_bytes = int(n_bytes)
        self.budget_bytes = int(budget_bytes)
        super().__init__(message)


class RunFolderError(SpikesubError, ValueError):
    """A run folder cannot be written or resumed: another job's folder, another configuration,
    or a checkpoint that does not belong to it."""


class SavedModelError(SpikesubError, ValueError):
    """A saved reservoir that cannot be loaded: not such a file, damaged, of another format
    version, or with contents that do not fit together; the message names the file."""


class NonFiniteStateError(SpikesubError, FloatingPointError):
    """A simulation's state became NaN or infinite.

    Attributes:
        step: the time step (0-based, counted from the start of the run) at which it happened.
        neuron: the index of the first neuron found non-finite.
        variable: the state variable's name (``"v"``, ``"u"``, ...).
    """

    def __init__(self, step: int, neuron: int, variable: str = "v", dt_ms: float | None = None):
        self.step = int(step)
        self.neuron = int(neuron)
        self.variable = variable
        when = f" (t = {self.step * dt_ms:.3f} ms)" if dt_ms is not None else ""
        super().__init__(
            f"simulation state became non-finite at step {self.step}{when}, neuron {self.neuron} "
            f"({variable}); lower dt_ms, the input current or the weights"
        )
