"""Shared pieces of the reservoir-continual tests: a tiny run of the job, made once."""

from __future__ import annotations

import pytest

TINY = {
    "n_tasks": 3,
    "n_neurons": 200,
    "n_train": 60,
    "n_test": 40,
    "epochs": 10,
    "hebbian_epochs": 30,
    "seeds": (1,),
}
"""A run of a few seconds: three tasks on 200 neurons."""


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The folder of a :data:`TINY` run (no figures drawn yet)."""
    from spikesub.reservoir_continual.config import ReservoirContinualConfig
    from spikesub.reservoir_continual.run import run

    out = tmp_path_factory.mktemp("reservoir-continual") / "run"
    return run(ReservoirContinualConfig.from_dict(TINY), out, progress=False)
