"""Exceptions raised by simulations."""

from __future__ import annotations


class SpikesubError(Exception):
    """Base class of the toolkit's own exceptions."""


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
