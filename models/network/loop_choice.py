"""Chunk by chunk, run the network on the threaded or the serial loop, whichever measures faster.

A threaded loop synchronises its threads at every time step, so when other processes compete
for the cores it can fall far behind one thread (the step waits for a descheduled thread).
Both loops give the same floats in the same order, so a run may switch between them at any
chunk boundary. :class:`LoopChooser` times every chunk, keeps the latest seconds per step of
each loop, and runs the next chunk on the faster one.

The loop not in use is timed again on a short probe chunk, so a load that comes and goes is
followed: first after ``first_reprobe_s`` seconds of running, then after twice as long, up to
every ``reprobe_s`` (the interval starts short again after a switch), so that one unlucky
early measurement does not decide for long. A probe is sized to take ``probe_fraction`` of
the interval at the probed loop's last speed, which bounds what probes cost whatever that
loop costs. Only measurements taken close together are compared (the load of a moment slows
both loops): when the loop in use slows down, the other is probed again before the chooser
switches to it. After a switch, chunks start short and double, so a probe that measured a
lucky moment costs little.

Short timings on a busy machine are noisy: a threaded chunk that happened to run while the
other processes were off the cores measures fast, and the run then switches to a loop that is
slow most of the time. So the chooser also looks at the process's CPU time. A threaded chunk
whose threads held less than ``core_share`` of their cores (CPU seconds over wall seconds
below ``core_share * n_threads``) ran contended, and a contended measurement counts as faster
than the serial loop only by the wider ``contended_margin``: on two cores a contended threaded
loop cannot be much faster than one thread, while on many cores a loop that is far ahead
despite sharing them is still chosen. A serial chunk that held less than ``core_share`` of its
core (averaged over about ``share_tau_s`` of running) shows the machine oversubscribed: the
threaded loop is not probed while that lasts (its threads would only share the same cores),
and once the serial loop holds its core again the threaded loop is probed on the next chunk.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

THREADED = "threaded"
SERIAL = "serial"
MODES = (THREADED, SERIAL)


def _other(mode: str) -> str:
    return SERIAL if mode == THREADED else THREADED


class LoopChooser:
    """Chooses the loop (:data:`THREADED` or :data:`SERIAL`) and the length of each chunk.

    Time is counted in seconds of running (the sum of the chunks' wall times), so gaps between
    runs neither trigger probes nor age measurements.

    Args:
        max_steps: the longest chunk, in steps (the caller's chunk).
        probe_steps: steps of the first chunk of each loop and of the first chunk after a
            switch (chunks then double up to ``max_steps``).
        min_probe_steps: the least a later probe runs (a probe of a few steps measures the
            threads' wake-up more than the loop).
        first_reprobe_s: seconds of running before the first probe after the first
            measurements or a switch; the interval then doubles up to ``reprobe_s``.
        reprobe_s: the longest interval between probes, in seconds of running.
        probe_fraction: a probe is sized to take this fraction of the current interval at the
            probed loop's last measured speed (if even ``min_probe_steps`` take longer, the
            interval is stretched), which bounds what probes cost.
        margin: the other loop must be faster per step by this fraction to switch to it
            (hysteresis against switching on noise).
        fresh_s: a measurement of the other loop older than this (seconds of running) is not
            compared with a new one of the current loop; the other loop is probed first, at
            most once per ``fresh_s``.
        n_threads: threads of the threaded loop (for the contention check).
        core_share: a threaded chunk whose CPU seconds fall below ``core_share * n_threads``
            times its wall seconds ran contended.
        contended_margin: the margin by which a contended threaded measurement must beat the
            serial loop to count as faster.
        share_tau_s: seconds of running over which the serial loop's share of its core is
            averaged.
        clock: seconds, monotonic (``time.perf_counter``; the caller times chunks with it).

    Use: ``mode, steps = chooser.next_chunk(remaining)``, run ``steps`` steps on that loop,
    then ``chooser.record(mode, steps, seconds, cpu_seconds)``.
    """

    def __init__(
        self,
        max_steps: int,
        *,
        probe_steps: int = 200,
        min_probe_steps: int = 100,
        first_reprobe_s: float = 0.05,
        reprobe_s: float = 1.0,
        probe_fraction: float = 0.01,
        margin: float = 0.05,
        fresh_s: float = 0.25,
        n_threads: int = 2,
        core_share: float = 0.75,
        contended_margin: float = 0.25,
        share_tau_s: float = 0.1,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.max_steps = max(1, int(max_steps))
        self.probe_steps = max(1, min(int(probe_steps), self.max_steps))
        self.min_probe_steps = max(1, min(int(min_probe_steps), self.probe_steps))
        self.reprobe_s = float(reprobe_s)
        self.first_reprobe_s = min(float(first_reprobe_s), self.reprobe_s)
        self.probe_fraction = float(probe_fraction)
        self.margin = float(margin)
        self.fresh_s = float(fresh_s)
        self.n_threads = max(1, int(n_threads))
        self.core_share = float(core_share)
        self.contended_margin = float(contended_margin)
        self.share_tau_s = float(share_tau_s)
        self.clock = clock
        self.mode = THREADED
        self.seconds_per_step: dict[str, float | None] = {THREADED: None, SERIAL: None}
        self._measured_at = {THREADED: -math.inf, SERIAL: -math.inf}
        self._threaded_contended = False
        self._serial_contended = False
        self._serial_share: float | None = None
        self._running_s = 0.0
        self._last_probe_at = 0.0
        self._interval = self.first_reprobe_s
        self._chunk = self.probe_steps
        self._probing = False
        self._probe_early = False
        self.begin_run()

    def begin_run(self) -> None:
        """Start counting steps, switches and probes afresh (measurements are kept)."""
        self.steps = {THREADED: 0, SERIAL: 0}
        self.switches = 0
        self.probes = 0
        self.contended_chunks = 0

    # ------------------------------------------------------------------------------------------
    def next_chunk(self, remaining: int) -> tuple[str, int]:
        """The loop and the number of steps (1..remaining) of the next chunk."""
        remaining = max(1, int(remaining))
        other = _other(self.mode)
        since_probe = self._running_s - self._last_probe_at
        self._probing = (
            self.seconds_per_step[other] is None
            or since_probe >= self._probe_interval(other)
            or (self._probe_early and since_probe >= self.fresh_s)
        )
        if self._probing and self._oversubscribed(other):
            self._probing = False
            self._last_probe_at = self._running_s  # ask again after another interval
        if self._probing:
            return other, min(self._probe_length(other), remaining)
        return self.mode, min(self._chunk, remaining)

    def _oversubscribed(self, probed: str) -> bool:
        """Whether a probe of the threaded loop would be wasted: its last measurement exists
        and the serial loop's last chunk did not hold its core."""
        return (
            probed == THREADED
            and self.seconds_per_step[THREADED] is not None
            and self._serial_contended
        )

    def record(
        self,
        mode: str,
        steps: int,
        seconds: float | None,
        cpu_seconds: float | None = None,
        work: float | None = None,
    ) -> None:
        """What the chunk just run took: wall ``seconds`` (``None`` when it is no fair measure,
        as when Numba compiled the loop during it: then only the steps are counted), the
        process's ``cpu_seconds`` over the chunk (``None``: not measured, not contended), and
        its ``work`` in steps of average cost (``None``: ``steps``). A network's steps cost
        more while it bursts; giving the work compares the loops on what they did, not on
        which phase of the rhythm each chunk fell on."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
        self.steps[mode] += int(steps)
        probe, self._probing = self._probing, False
        if probe:
            self.probes += 1
            self._probe_early = False
        if seconds is None or steps < 1:
            return
        self._running_s += max(seconds, 0.0)
        if probe:
            self._last_probe_at = self._running_s
            self._interval = min(2.0 * self._interval, self.reprobe_s)
        units = steps if work is None or work <= 0.0 else work
        self.seconds_per_step[mode] = max(seconds, 0.0) / units
        self._measured_at[mode] = self._running_s
        if mode == THREADED:
            self._threaded_contended = self._contended(seconds, cpu_seconds)
            self.contended_chunks += self._threaded_contended
        elif cpu_seconds is not None and seconds > 0.0:
            self._note_serial_share(seconds, cpu_seconds)
        self._decide(probe)

    def _note_serial_share(self, seconds: float, cpu_seconds: float) -> None:
        """Follow the share of its core that the serial loop holds, averaged over about
        ``share_tau_s`` seconds of running (one lucky chunk is no sign that the load is
        gone); when it comes back above ``core_share``, probe the threads on the next chunk."""
        share = cpu_seconds / seconds
        if self._serial_share is None:
            self._serial_share = share
        else:
            weight = 1.0 - math.exp(-seconds / self.share_tau_s)
            self._serial_share += weight * (share - self._serial_share)
        was_contended = self._serial_contended
        self._serial_contended = self._serial_share < self.core_share
        if was_contended and not self._serial_contended:
            self._last_probe_at = -math.inf

    # ------------------------------------------------------------------------------------------
    def _decide(self, after_probe: bool) -> None:
        """Switch when the other loop measured faster, if that measurement is recent; if it is
        not, probe the other loop soon rather than trust it."""
        other = _other(self.mode)
        if not self._faster(other):
            if not after_probe:
                self._chunk = min(2 * self._chunk, self.max_steps)
            return
        if self._running_s - self._measured_at[other] <= self.fresh_s:
            self.mode = other
            self.switches += 1
            self._chunk = self.probe_steps
            self._interval = self.first_reprobe_s
        else:
            self._probe_early = True

    def _faster(self, candidate: str) -> bool:
        """Whether ``candidate`` measured faster per step than the current loop, by the margin
        (by ``contended_margin`` where the threaded loop's last chunk ran contended)."""
        mine = self.seconds_per_step[self.mode]
        theirs = self.seconds_per_step[candidate]
        if mine is None or theirs is None:
            return False
        if not self._threaded_contended:
            return theirs < mine * (1.0 - self.margin)
        threaded, serial = (theirs, mine) if candidate == THREADED else (mine, theirs)
        ahead = threaded < serial * (1.0 - self.contended_margin)
        return ahead if candidate == THREADED else not ahead

    def _contended(self, seconds: float, cpu_seconds: float | None) -> bool:
        """Whether a threaded chunk's threads held less than ``core_share`` of their cores."""
        if cpu_seconds is None or seconds <= 0.0:
            return False
        return cpu_seconds < self.core_share * self.n_threads * seconds

    def _probe_interval(self, mode: str) -> float:
        """Seconds of running before the next probe of ``mode``: the current interval, or
        longer when even the shortest probe of a very slow loop would cost more than
        ``probe_fraction`` of it."""
        last = self.seconds_per_step[mode] or 0.0
        return max(self._interval, self.min_probe_steps * last / self.probe_fraction)

    def _probe_length(self, mode: str) -> int:
        """Steps of a probe of ``mode``: ``probe_steps`` the first time, later as many as take
        ``probe_fraction`` of the current interval at that loop's last measured speed (at
        least ``min_probe_steps``, at most half a chunk)."""
        last = self.seconds_per_step[mode]
        if last is None:
            return self.probe_steps
        budget = self.probe_fraction * self._interval / max(last, 1e-12)
        return max(self.min_probe_steps, min(int(budget), self.max_steps // 2))

    # ------------------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """JSON-able account since :meth:`begin_run`: steps per loop, the threaded fraction,
        switches, probes, the last seconds per step of each loop and the loop now chosen."""
        total = self.steps[THREADED] + self.steps[SERIAL]
        return {
            "steps_threaded": self.steps[THREADED],
            "steps_serial": self.steps[SERIAL],
            "threaded_fraction": self.steps[THREADED] / total if total else math.nan,
            "switches": self.switches,
            "probes": self.probes,
            "contended_chunks": self.contended_chunks,
            "seconds_per_step": dict(self.seconds_per_step),
            "final_mode": self.mode,
        }
