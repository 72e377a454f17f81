"""Shared fixtures of the FORCE sine tests: a small run, made once."""

from __future__ import annotations

import pytest

from spikesub.force_sine import ForceSineConfig

SMALL = {
    "n_neurons": 50,
    "duration_ms": 300.0,
    "train_start_ms": 100.0,
    "train_stop_ms": 200.0,
    "seed": 2,
}
"""A run of a fraction of a second: 50 neurons, 100 ms settling, training and test each."""

SMALL_OPTIONS = [
    "--n-neurons", "50", "--duration-ms", "300", "--train-start-ms", "100",
    "--train-stop-ms", "200", "--seed", "2",
]  # fmt: skip
""":data:`SMALL` as command-line options."""


@pytest.fixture
def small():
    """:data:`SMALL`, a fresh copy."""
    return dict(SMALL)


@pytest.fixture
def small_options():
    """:data:`SMALL_OPTIONS`, a fresh copy."""
    return list(SMALL_OPTIONS)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """The folder of a :data:`SMALL` run (no figure drawn)."""
    from spikesub.force_sine.run import run

    return run(ForceSineConfig(**SMALL), tmp_path_factory.mktemp("force-sine") / "run")
