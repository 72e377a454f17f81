"""Sweep files of the sweep tests: the repository's quick sweep and a tiny simulation."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QUICK = REPO / "sweeps" / "quick.toml"

TINY_SIMULATION = """
    job = "simulate"

    [base]
    n_exc = 80
    n_inh = 20
    duration_ms = 50.0
    backend = "numba"
    n_traces = 0
"""
"""A simulation of 100 neurons for 50 ms: a fraction of a second per trial."""
