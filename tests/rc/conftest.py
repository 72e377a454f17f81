"""Shared pieces of the reservoir-computing job's tests: a tiny configuration, run once."""

from __future__ import annotations

import pytest

TINY = {
    "n_neurons": 30,
    "washout": 30,
    "n_train": 150,
    "n_valid": 60,
    "n_test": 60,
    "budget": 2,
    "seeds": (0, 1),
    "mc_max_delay": 10,
}
"""A run of seconds: 30 neurons, 300 samples per series, two settings per model and task."""

TINY_OPTIONS = [
    "--n-neurons", "30", "--washout", "30", "--n-train", "150", "--n-valid", "60",
    "--n-test", "60", "--budget", "2", "--seeds", "0,1", "--mc-max-delay", "10",
]  # fmt: skip
""":data:`TINY` as command-line options."""


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The folder of a :data:`TINY` run of every task and model, figures drawn."""
    from spikesub.rc.config import RcConfig
    from spikesub.rc.figures import plot
    from spikesub.rc.run import run

    run_dir = run(RcConfig(**TINY), tmp_path_factory.mktemp("rc") / "run", progress=False)
    plot(run_dir)
    return run_dir


@pytest.fixture
def tiny():
    """:data:`TINY`, a fresh copy."""
    return dict(TINY)


@pytest.fixture
def tiny_options():
    """:data:`TINY_OPTIONS`, a fresh copy."""
    return list(TINY_OPTIONS)
