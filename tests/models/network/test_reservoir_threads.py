"""The reservoir's threads: the automatic count, explicit counts, and the measured fallback to
one thread (spikesub.models.network.loop_choice), whose switches never change a spike.

Timings are never asserted: the chooser's decisions are driven by scripted seconds.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from spikesub.kernels import threads
from spikesub.models.network import reservoir as reservoir_module
from spikesub.models.network.inputs import PoissonInput
from spikesub.models.network.loop_choice import SERIAL, THREADED, LoopChooser
from spikesub.models.network.reservoir import IzhikevichReservoir

# ----------------------------------------------------------------------------------------------
# The chooser on its own
# ----------------------------------------------------------------------------------------------


def drive(chooser: LoopChooser, seconds_per_step: dict[str, float], steps: int) -> list[str]:
    """Run ``steps`` steps through the chooser with the given costs; the mode of each chunk."""
    modes = []
    done = 0
    while done < steps:
        mode, count = chooser.next_chunk(steps - done)
        assert 1 <= count <= steps - done
        chooser.record(mode, count, count * seconds_per_step[mode])
        modes.append(mode)
        done += count
    return modes


def test_first_chunks_measure_both_loops_then_keep_the_faster():
    chooser = LoopChooser(1000, probe_steps=100)
    assert chooser.next_chunk(10_000) == (SERIAL, 100)  # the serial loop is probed first
    chooser.record(SERIAL, 100, 100 * 2e-5)
    assert chooser.next_chunk(10_000) == (THREADED, 100)
    chooser.record(THREADED, 100, 100 * 1e-5)
    assert chooser.mode == THREADED
    # the threaded loop keeps winning: its chunks double up to the longest chunk
    lengths = []
    for _ in range(5):
        mode, count = chooser.next_chunk(10_000)
        assert mode == THREADED
        chooser.record(mode, count, count * 1e-5)
        lengths.append(count)
    assert lengths == [200, 400, 800, 1000, 1000]


def test_a_slower_threaded_loop_falls_back_to_one_thread():
    chooser = LoopChooser(1000, first_reprobe_s=1e9, reprobe_s=1e9)
    modes = drive(chooser, {THREADED: 3e-5, SERIAL: 2e-5}, 20_000)
    assert chooser.mode == SERIAL
    assert chooser.switches == 1
    assert modes[:3] == [SERIAL, THREADED, SERIAL]
    assert set(modes[2:]) == {SERIAL}
    assert chooser.steps[THREADED] == chooser.probe_steps


def test_within_the_margin_the_loop_in_use_is_kept():
    chooser = LoopChooser(1000, margin=0.05, first_reprobe_s=1e9, reprobe_s=1e9)
    drive(chooser, {THREADED: 1.0e-5, SERIAL: 0.97e-5}, 10_000)
    assert chooser.mode == THREADED and chooser.switches == 0


def test_a_load_that_comes_and_goes_is_followed():
    chooser = LoopChooser(1000, reprobe_s=0.05)
    drive(chooser, {THREADED: 1e-5, SERIAL: 2e-5}, 20_000)  # quiet: threads win
    assert chooser.mode == THREADED
    drive(chooser, {THREADED: 2e-4, SERIAL: 3e-5}, 20_000)  # loaded: one thread wins
    assert chooser.mode == SERIAL
    # quiet again: a probe finds it, within the interval that keeps the (now 7x slower)
    # threaded loop's probes at 1 % of the running time
    drive(chooser, {THREADED: 1e-5, SERIAL: 2e-5}, 200_000)
    assert chooser.mode == THREADED
    assert chooser.switches == 2


def test_a_stale_measurement_is_probed_again_before_switching():
    chooser = LoopChooser(1000, first_reprobe_s=1e9, reprobe_s=1e9, fresh_s=0.01)
    drive(chooser, {THREADED: 1e-5, SERIAL: 2e-5}, 50_000)  # serial measured once, long ago
    probes = chooser.probes
    # everything slows down (a load on both loops): the old serial figure is not trusted
    mode, count = chooser.next_chunk(10_000)
    chooser.record(mode, count, count * 4e-5)
    assert chooser.mode == THREADED
    mode, count = chooser.next_chunk(10_000)
    assert mode == SERIAL and chooser.probes == probes  # the probe comes first
    chooser.record(mode, count, count * 8e-5)
    assert chooser.mode == THREADED and chooser.probes == probes + 1


def test_probes_come_soon_at_first_then_less_often():
    chooser = LoopChooser(
        100, probe_steps=10, first_reprobe_s=0.001, reprobe_s=0.016, probe_fraction=0.1
    )
    costs = {THREADED: 1e-5, SERIAL: 2e-5}
    probes_at = []  # seconds of running when each probe of the serial loop started
    elapsed = 0.0
    for _ in range(400):
        mode, count = chooser.next_chunk(100)
        if mode == SERIAL:
            probes_at.append(elapsed)
        chooser.record(mode, count, count * costs[mode])
        elapsed += count * costs[mode]
    gaps = np.diff(probes_at)
    chunk_s = 100 * costs[THREADED]  # probes start on chunk boundaries
    assert gaps[0] <= 0.001 + 2 * chunk_s
    assert gaps[-1] >= 0.016
    assert np.all(np.diff(gaps) > -2 * chunk_s)  # the interval grows, never shrinks


def test_probes_cost_a_bounded_share_of_the_running_time():
    """Even when the probed loop is 50x slower, probes take about ``probe_fraction``."""
    chooser = LoopChooser(1000, reprobe_s=0.5, probe_fraction=0.01)
    costs = {THREADED: 1e-3, SERIAL: 2e-5}
    drive(chooser, costs, 2000)  # settle on the serial loop
    chooser.begin_run()
    drive(chooser, costs, 1_500_000)
    probe_s = chooser.steps[THREADED] * costs[THREADED]
    total_s = probe_s + chooser.steps[SERIAL] * costs[SERIAL]
    assert chooser.probes >= 2
    assert probe_s / total_s < 0.015


def test_a_chunk_that_compiled_is_not_a_measure():
    chooser = LoopChooser(1000)
    mode, count = chooser.next_chunk(10_000)
    chooser.record(mode, count, None)  # the serial probe compiled: probe again
    assert chooser.seconds_per_step[SERIAL] is None
    assert chooser.next_chunk(10_000)[0] == SERIAL
    with pytest.raises(ValueError, match="mode"):
        chooser.record("gpu", 1, 1.0)


def drive_with_cpu(chooser, seconds_per_step, cores_held, steps):
    """Like :func:`drive`, with the process's CPU seconds: the threaded loop's threads hold
    ``cores_held`` cores between them, the serial loop one."""
    done = 0
    while done < steps:
        mode, count = chooser.next_chunk(steps - done)
        seconds = count * seconds_per_step[mode]
        chooser.record(mode, count, seconds, seconds * (cores_held if mode == THREADED else 1.0))
        done += count


def test_a_contended_threaded_loop_must_be_far_ahead_to_be_chosen():
    # 10 % ahead with its threads on one core between them (two busy processes beside it):
    # a lucky moment on a busy machine, not a reason to leave the serial loop
    chooser = LoopChooser(1000, n_threads=2, first_reprobe_s=1e9, reprobe_s=1e9)
    drive_with_cpu(chooser, {THREADED: 1.8e-5, SERIAL: 2e-5}, 1.0, 10_000)
    assert chooser.mode == SERIAL
    assert chooser.summary()["contended_chunks"] >= 1
    # the same 10 % with both cores held is chosen
    chooser = LoopChooser(1000, n_threads=2, first_reprobe_s=1e9, reprobe_s=1e9)
    drive_with_cpu(chooser, {THREADED: 1.8e-5, SERIAL: 2e-5}, 2.0, 10_000)
    assert chooser.mode == THREADED and chooser.summary()["contended_chunks"] == 0
    # far ahead despite sharing its cores (many cores, some busy): still chosen
    chooser = LoopChooser(1000, n_threads=16, first_reprobe_s=1e9, reprobe_s=1e9)
    drive_with_cpu(chooser, {THREADED: 0.5e-5, SERIAL: 2e-5}, 8.0, 10_000)
    assert chooser.mode == THREADED


def test_a_threaded_loop_that_becomes_contended_falls_back():
    chooser = LoopChooser(1000, n_threads=2, reprobe_s=0.05)
    drive_with_cpu(chooser, {THREADED: 1.2e-5, SERIAL: 2e-5}, 2.0, 10_000)
    assert chooser.mode == THREADED
    # the same speed ratio, but now the threads hold one core between them
    drive_with_cpu(chooser, {THREADED: 1.8e-5, SERIAL: 2e-5}, 1.0, 20_000)
    assert chooser.mode == SERIAL


def test_no_threaded_probes_while_one_thread_lacks_its_core():
    chooser = LoopChooser(1000, n_threads=2, reprobe_s=0.05)
    costs = {THREADED: 3e-5, SERIAL: 2e-5}
    drive(chooser, costs, 5000)  # both loops measured, the serial one kept
    assert chooser.mode == SERIAL
    chooser.begin_run()
    # two busy processes beside one thread: it holds 2/3 of a core, all of it now and then
    done = 0
    for chunk in range(200):
        mode, count = chooser.next_chunk(10**9)
        share = 1.0 if chunk % 5 == 4 else 0.6
        chooser.record(mode, count, count * costs[mode], share * count * costs[mode])
        done += count
    assert chooser.steps[THREADED] == 0 and chooser.probes == 0
    # the core comes back: the threaded loop, faster now, is probed at once and chosen
    costs = {THREADED: 1e-5, SERIAL: 2e-5}
    for _ in range(3):
        mode, count = chooser.next_chunk(10_000)
        chooser.record(mode, count, count * costs[mode], count * costs[mode] * 2)
    assert chooser.probes == 1 and chooser.mode == THREADED


def test_summary_counts_the_run():
    chooser = LoopChooser(1000, first_reprobe_s=1e9, reprobe_s=1e9)
    drive(chooser, {THREADED: 3e-5, SERIAL: 2e-5}, 5000)
    summary = chooser.summary()
    assert summary["steps_threaded"] + summary["steps_serial"] == 5000
    assert math.isclose(summary["threaded_fraction"], summary["steps_threaded"] / 5000)
    assert summary["switches"] == 1 and summary["final_mode"] == SERIAL
    chooser.begin_run()
    assert math.isnan(chooser.summary()["threaded_fraction"])


# ----------------------------------------------------------------------------------------------
# The reservoir
# ----------------------------------------------------------------------------------------------


class ScriptedChooser(LoopChooser):
    """A chooser fed scripted seconds instead of measured ones: the threaded loop is slow for
    the first ``slow_chunks`` recorded chunks, fast afterwards, and so on in turns."""

    def __init__(self, max_steps: int, turn: int = 4) -> None:
        super().__init__(
            max_steps, probe_steps=30, min_probe_steps=10, reprobe_s=2e-3, probe_fraction=0.5
        )
        self.turn = turn
        self.recorded = 0

    def record(self, mode, steps, seconds, cpu_seconds=None, work=None):
        slow_threads = (self.recorded // self.turn) % 2 == 0
        self.recorded += 1
        cost = {THREADED: 5e-5 if slow_threads else 1e-5, SERIAL: 2e-5}[mode]
        super().record(mode, steps, None if seconds is None else steps * cost)


def small_network(n_threads=None, seed=4):
    return IzhikevichReservoir.izhikevich_2003(
        160, 40, p=0.2, backend="numba", seed=seed, n_threads=n_threads
    )


@pytest.fixture
def automatic_two_threads(monkeypatch):
    """Small networks get the automatic mode with two threads (tests/conftest.py gives Numba
    at least two), so the chooser runs whatever this machine's cores."""
    assert numba.config.NUMBA_NUM_THREADS >= 2
    monkeypatch.setattr(reservoir_module, "PARALLEL_MIN_NEURONS", 1)
    monkeypatch.setattr(reservoir_module, "automatic_threads", lambda: 2)


def poisson_drive(n_neurons=200, seed=6):
    """12 Poisson channels onto every neuron (both threads' halves) of :func:`small_network`."""
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.0, 6.0, (n_neurons, 12)) * (rng.random((n_neurons, 12)) < 0.5)
    return PoissonInput(rate_hz=np.linspace(50.0, 400.0, 12), weights=weights)


@pytest.mark.parametrize("with_poisson", [False, True])
def test_switches_between_loops_leave_every_spike_as_one_thread_has_it(
    automatic_two_threads, with_poisson
):
    inputs = {"poisson": poisson_drive()} if with_poisson else {}
    record = {"record_state": ("v", "u"), "record_indices": np.arange(200)}
    reference = small_network(n_threads=1).run(400.0, **record, **inputs)
    res = small_network()
    assert res.threads_automatic and res.n_threads == 2
    res._loop_chooser = ScriptedChooser(res._loop_chooser.max_steps)
    out = res.run(400.0, **record, **inputs)
    stats = res.thread_stats
    assert stats["switches"] >= 3 and stats["probes"] >= 2
    assert 0 < stats["steps_threaded"] < 4000 and stats["steps_serial"] > 0
    assert stats["steps_threaded"] + stats["steps_serial"] == 4000
    assert len(reference.spikes) > 500
    np.testing.assert_array_equal(out.spikes.times_ms, reference.spikes.times_ms)
    np.testing.assert_array_equal(out.spikes.indices, reference.spikes.indices)
    np.testing.assert_array_equal(out.population_counts, reference.population_counts)
    np.testing.assert_array_equal(out.state["v"], reference.state["v"])
    np.testing.assert_array_equal(out.state["u"], reference.state["u"])


def test_automatic_mode_reports_its_choice(automatic_two_threads):
    res = small_network()
    res.run(50.0)
    stats = res.thread_stats
    assert stats["threads"] == 2 and stats["automatic"] is True
    assert stats["steps_threaded"] + stats["steps_serial"] == 500
    assert set(stats["seconds_per_step"]) == {THREADED, SERIAL}
    assert stats["contended_chunks"] >= 0
    assert res.config()["threads_automatic"] is True
    # the threaded loop's rows are split for its two threads; the serial loop walks them whole
    assert res._splits[THREADED].shape == (res.n_neurons, 3)
    assert res._splits[SERIAL].shape == (res.n_neurons, 2)


def test_default_threads_follow_the_affinity_from_2048_neurons(monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: 1)
    res = IzhikevichReservoir.izhikevich_2003(1800, 450, p=0.01, backend="numba")
    assert res.n_threads == 1 and res._loop_chooser is None
    monkeypatch.setattr(reservoir_module, "automatic_threads", lambda: 2)
    res = IzhikevichReservoir.izhikevich_2003(1800, 450, p=0.01, backend="numba")
    assert res.n_threads == 2 and res._loop_chooser is not None
    small = IzhikevichReservoir.izhikevich_2003(160, 40, p=0.2, backend="numba")
    assert small.n_threads == 1 and small.threads_automatic


def test_an_explicit_count_is_respected_without_fallback():
    assert numba.config.NUMBA_NUM_THREADS >= 2
    res = small_network(n_threads=2)
    assert res.n_threads == 2 and not res.threads_automatic and res._loop_chooser is None
    res.run(30.0)
    assert res.thread_stats["steps_threaded"] == 300
    assert res.thread_stats["switches"] == 0
    assert res.config()["threads_automatic"] is False


def test_an_explicit_count_above_the_cores_warns_once(monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: 1)
    with pytest.warns(RuntimeWarning, match="n_threads = 2 is more than the 1 cores") as caught:
        res = small_network(n_threads=2)
    assert len(caught) == 1 and res.n_threads == 2


def test_a_jobs_thread_count_is_the_default():
    before = numba.get_num_threads()
    try:
        threads.set_default_threads(1)
        res = IzhikevichReservoir.izhikevich_2003(1800, 450, p=0.01, backend="numba")
        assert res.n_threads == 1 and not res.threads_automatic
    finally:
        threads.set_default_threads(None)
        numba.set_num_threads(before)


@pytest.mark.parametrize(
    ("value", "error"),
    [(0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)],
)
def test_bad_thread_counts_are_refused_naming_n_threads(value, error):
    with pytest.raises(error, match="n_threads"):
        small_network(n_threads=value)


def test_numpy_backend_reports_serial_steps():
    res = IzhikevichReservoir.izhikevich_2003(40, 10, p=0.2, backend="numpy")
    res.run(10.0)
    assert res.thread_stats["steps_serial"] == 100 and res.thread_stats["steps_threaded"] == 0
