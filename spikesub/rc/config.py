"""The configuration of ``spikesub rc``: the reservoir-computing benchmark.

The defaults are the full benchmark: reservoirs of 1,000 neurons, series of 200 washout +
2,000 training + 1,000 validation + 1,000 test samples, 16 settings drawn per model and
task, the chosen ones scored on three reservoir seeds. :data:`QUICK`
(:meth:`RcConfig.quick`) is a run of about half a minute on 150-neuron reservoirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from spikesub.config import JobConfig, name_list, setting

__all__ = ["MODELS", "QUICK", "TASKS", "RcConfig", "parse_names"]

TASKS: tuple[str, ...] = ("mc", "narma10", "mg1", "mg84")
"""The tasks by name: memory capacity, NARMA-10, Mackey-Glass (tau = 17) one step and 84
steps ahead (see :mod:`spikesub.rc.tasks`)."""

MODELS: tuple[str, ...] = ("izhikevich", "lif", "esn")
"""The models by name: spikesub's Izhikevich and LIF reservoirs, ReservoirPy's ESN."""

QUICK: dict[str, Any] = {
    "n_neurons": 150,
    "washout": 100,
    "n_train": 600,
    "n_valid": 300,
    "n_test": 300,
    "budget": 3,
    "seeds": (0, 1),
    "mc_max_delay": 40,
}
"""A run of about half a minute: 150 neurons, short series, three settings per model and
task."""


def parse_names(setting_name: str, text: str, known: tuple[str, ...]) -> tuple[str, ...]:
    """The names of a comma-separated list, each once, in the order of ``known``
    (:func:`spikesub.config.name_list`)."""
    return name_list(setting_name, text, known, order="known")


@dataclass(frozen=True)
class RcConfig(JobConfig):
    """What ``spikesub rc`` runs; each setting is also its command-line option."""

    job: ClassVar[str] = "rc"

    tasks: str = setting(
        ",".join(TASKS),
        help="comma-separated tasks: mc (memory capacity), narma10, mg1 and mg84 (Mackey-Glass "
        "tau = 17, one and 84 steps ahead)",
    )
    models: str = setting(
        ",".join(MODELS),
        help="comma-separated models: izhikevich, lif (spikesub's spiking reservoirs), esn "
        "(ReservoirPy's echo-state network; skipped when ReservoirPy is not installed)",
    )
    n_neurons: int = setting(1000, low=10, help="neurons (units) of every reservoir")
    washout: int = setting(
        200, low=1, help="samples at the start of each series that no readout sees"
    )
    n_train: int = setting(2000, low=10, help="training samples (after the washout)")
    n_valid: int = setting(1000, low=10, help="validation samples: the search scores them")
    n_test: int = setting(1000, low=10, help="test samples: the chosen settings score them")
    budget: int = setting(
        16, low=1, help="settings drawn per model and task (random search, the same for all)"
    )
    seeds: tuple[int, ...] = setting(
        (0, 1, 2),
        low=0,
        help="reservoir seeds of the test scores (weights, encoder, neurons); the search runs "
        "on the first",
    )
    search_seed: int = setting(0, low=0, help="seed of the settings the search draws")
    series_seed: int = setting(0, low=0, help="seed of the task inputs (MC and NARMA)")
    mc_max_delay: int = setting(
        100, low=1, help="longest delay of the memory capacity (at most the washout)"
    )
    read_input: bool = setting(
        True, help="every readout reads the input itself next to the reservoir's state"
    )
    fixed: dict = setting(
        default_factory=dict,
        help="fix a searched setting instead of drawing it: MODEL.NAME or NAME (all models "
        "that have it), e.g. esn.spectral_radius=0.9 or input_scaling=2",
    )
    dt_ms: float = setting(
        0.1, low=0.0, low_open=True, help="time step of the spiking reservoirs, ms"
    )
    backend: str = setting(
        "numba",
        choices=("numba", "numpy", "cuda", "auto"),
        help="backend of the spiking reservoirs",
    )

    @classmethod
    def quick(cls, **overrides: Any) -> RcConfig:
        """The run of about half a minute (:data:`QUICK`), with ``overrides`` on top."""
        return cls.from_dict({**QUICK, **overrides})

    def check(self) -> None:
        parse_names("tasks", self.tasks, TASKS)
        parse_names("models", self.models, MODELS)
        if "mc" in self.task_names and self.mc_max_delay > self.washout:
            raise ValueError(
                f"mc_max_delay ({self.mc_max_delay}) must be at most the washout "
                f"({self.washout}): the first training sample needs the inputs that far back"
            )
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct; got {list(self.seeds)}")
        from spikesub.rc.reservoirs import check_fixed

        check_fixed(self.fixed, self.model_names)

    @property
    def task_names(self) -> tuple[str, ...]:
        return parse_names("tasks", self.tasks, TASKS)

    @property
    def model_names(self) -> tuple[str, ...]:
        return parse_names("models", self.models, MODELS)

    @property
    def n_samples(self) -> int:
        """Samples of each series the reservoirs run on."""
        return self.washout + self.n_train + self.n_valid + self.n_test
