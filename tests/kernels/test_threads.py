"""Thread counts and the threading layer (spikesub.kernels.threads), and what `info` says."""

from __future__ import annotations

import os
import warnings

import numba
import numpy as np
import pytest

from spikesub.kernels import threads


@pytest.fixture
def cores(monkeypatch):
    """Pretend this process may run on ``n`` cores and Numba's pool has ``pool`` threads."""

    def set_cores(n: int, pool: int | None = None) -> None:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(n)), raising=False)
        if pool is not None:
            monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", pool)

    return set_cores


# ----------------------------------------------------------------------------------------------
# Cores and the automatic choice
# ----------------------------------------------------------------------------------------------


def test_available_cores_follow_the_affinity_not_the_machine(cores):
    cores(3)
    assert threads.available_cores() == 3


def test_available_cores_without_affinity_fall_back_to_cpu_count(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 5)
    assert threads.available_cores() == 5
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert threads.available_cores() == 1


def test_automatic_is_the_cores_capped_at_numbas_pool(cores):
    cores(3, pool=8)
    assert threads.automatic_threads() == 3
    cores(16, pool=4)
    assert threads.automatic_threads() == 4


# ----------------------------------------------------------------------------------------------
# A user's thread count
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, 0, np.int64(0)])
def test_none_or_zero_is_automatic(cores, value):
    cores(3, pool=8)
    assert threads.resolve_threads(value) == 3


@pytest.mark.parametrize("value", [1, 2, np.int32(2)])
def test_a_count_within_the_cores_is_used_silently(cores, value):
    cores(4, pool=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert threads.resolve_threads(value) == int(value)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (-1, ValueError),
        (np.int64(-3), ValueError),
        (True, TypeError),
        (False, TypeError),
        (1.5, TypeError),
        (2.0, TypeError),
        ("2", TypeError),
        ([2], TypeError),
    ],
)
def test_negative_or_non_integer_counts_are_refused_naming_the_parameter(value, error):
    with pytest.raises(error, match="threads must be an integer >= 0"):
        threads.resolve_threads(value)
    with pytest.raises(error, match="^n_jobs must be"):
        threads.resolve_threads(value, name="n_jobs")


def test_a_count_above_the_cores_is_used_with_one_warning_line(cores):
    cores(2, pool=8)
    with pytest.warns(RuntimeWarning) as caught:
        assert threads.resolve_threads(6) == 6
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "\n" not in message
    assert "threads = 6" in message and "2 cores" in message


def test_a_count_above_numbas_pool_is_capped_and_says_so(cores):
    cores(16, pool=4)
    with pytest.warns(RuntimeWarning, match="NUMBA_NUM_THREADS.*using 4"):
        assert threads.resolve_threads(6) == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert threads.resolve_threads(6, warn=False) == 4


def test_numba_threads_sets_and_restores_the_count():
    before = numba.get_num_threads()
    with threads.numba_threads(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before


def test_set_default_threads_applies_and_is_undone_by_none():
    before = numba.get_num_threads()
    try:
        assert threads.set_default_threads(1) == 1
        assert threads.default_threads() == 1
        assert numba.get_num_threads() == 1
        assert threads.set_default_threads(None) == threads.automatic_threads()
        assert threads.default_threads() is None
        threads.set_default_threads(1)
        threads.set_default_threads(0)
        assert threads.default_threads() is None
        with pytest.raises(ValueError, match="threads"):
            threads.set_default_threads(-2)
    finally:
        threads.set_default_threads(None)
        numba.set_num_threads(before)


# ----------------------------------------------------------------------------------------------
# Threading layer
# ----------------------------------------------------------------------------------------------


def test_thread_info_names_the_choice():
    info = threads.thread_info()
    assert set(info) == {
        "cores_available",
        "pool_threads",
        "automatic_threads",
        "threading_layer",
        "requested_layer",
        "tbb_available",
    }
    assert info["automatic_threads"] == min(info["cores_available"], info["pool_threads"])
    assert info["threading_layer"] in ("tbb", "omp", "workqueue")


def test_tbb_is_the_layer_when_it_is_installed_and_no_layer_was_asked_for():
    info = threads.thread_info()
    if info["requested_layer"].lower() != "default" or not info["tbb_available"]:
        pytest.skip("a threading layer was named, or TBB is not installed here")
    assert info["threading_layer"] == "tbb"


def test_a_missing_tbb_library_is_no_error(monkeypatch):
    monkeypatch.setattr(threads, "_tbb_library_candidates", lambda: iter(["/nonexistent/x.so"]))
    assert threads._load_tbb_library() is False


def test_describe_threads_says_what_automatic_picks():
    lines = threads.describe_threads()
    text = "\n".join(lines)
    assert f"automatic picks {threads.automatic_threads()}" in text
    assert f"threading layer: {threads.threading_layer()}" in text


def test_info_command_reports_cores_automatic_threads_and_layer(capsys):
    from spikesub.cli import main

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"automatic picks {threads.automatic_threads()}" in out
    assert f"{threads.available_cores()} core" in out
    assert f"threading layer: {threads.threading_layer()}" in out
