"""Brian2 reference simulations of spikesub reservoirs.

:func:`run_brian2` rebuilds an :class:`~spikesub.models.network.reservoir.IzhikevichReservoir` in
Brian2 (same neurons, initial state, weights, bias, noise statistics and external current) and runs
it, so that spike trains and run times can be compared with spikesub's own simulation. Brian2 is an
optional dependency (``pip install 'spikesub[reference]'``) and is imported only when a function of
this module is called.

One time step ``n`` (``t = n * dt_ms``) of the Brian2 network follows Brian2's default schedule,
which is the order spikesub's reservoir uses too:

1. ``start``: every ``noise_interval_ms`` the noise current is redrawn,
   ``I_noise = noise_std * randn()``, and held until the next draw;
2. ``groups``: forward Euler update of ``v`` and ``u`` from their values at the start of the step
   (``method="euler"``) with ``I = bias_current + I_noise + current[n]``;
3. ``thresholds``: a neuron spikes when ``v >= v_peak``; the spike is recorded at ``t = n * dt``;
4. ``synapses``: delta synapses add their weight to the postsynaptic ``v`` (no delay);
5. ``resets``: ``v = c``, ``u += d``.

Variables are dimensionless (``v`` in mV, ``I`` in the model's current unit) and time enters
only through ``/ms`` in the differential equations.

Brian2 draws its noise from its own generator, so runs with noise agree with spikesub in
statistics only; runs with noise switched off and the same ``current`` array agree spike for
spike up to floating-point rounding.

The network runs in Brian2's runtime mode (``target="cython"`` or ``"numpy"``: Python drives
the steps, each object's compiled code runs in turn) or as a C++ standalone program
(``target="cpp_standalone"``: Brian2 writes the whole simulation as C++, compiles it and runs
it, on one thread or with OpenMP on several), the mode a speed-minded Brian2 user picks.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spikesub.models.network.monitors import SpikeTrains

__all__ = ["STANDALONE", "TARGETS", "Brian2Run", "brian2_available", "import_brian2", "run_brian2"]

#: Brian2's C++ standalone device: the whole simulation as one compiled C++ program.
STANDALONE = "cpp_standalone"

#: Brian2 targets that :func:`run_brian2` accepts: two code generation targets of the runtime
#: mode, and the C++ standalone device.
TARGETS: tuple[str, ...] = ("cython", "numpy", STANDALONE)

_INSTALL_HINT = "pip install 'spikesub[reference]'"


def import_brian2() -> Any:
    """Import and return the ``brian2`` module.

    Raises:
        ImportError: Brian2 is not installed; the message says how to install it.
    """
    try:
        import brian2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"the Brian2 reference needs Brian2 and Cython: {_INSTALL_HINT}") from exc
    return brian2


def brian2_available() -> bool:
    """True when Brian2 can be imported."""
    try:
        import_brian2()
    except ImportError:
        return False
    return True


@dataclass
class Brian2Run:
    """Outcome of one Brian2 reference run.

    Attributes:
        spikes: spike trains of the whole network; times are exact multiples of ``dt_ms``.
        build_s: wall time in s to create the Brian2 objects (groups, synapses, monitors),
            connecting the synapses included (runtime mode); in standalone mode the Python
            side: the objects, the generated C++ code and the arrays written to disk.
        compile_s: wall time in s of a first zero-length run, which generates the code of every
            object and compiles it (``cython``: loads it from the on-disk cache when the same
            code was compiled before); in standalone mode, Brian2's ``make`` of the program.
        run_s: wall time in s of the simulation itself (``net.run(duration)``, which includes
            Brian2's own per-run preparation in runtime mode, see ``prepare_s``); in standalone
            mode the network's run inside the C++ program, timed there.
        target: ``"cython"``, ``"numpy"`` or ``"cpp_standalone"``.
        prepare_s: wall time in s of a second zero-length run: the preparation that every
            ``net.run`` repeats (code generation with compiled code cached), part of ``run_s``
            (runtime mode; 0 in standalone mode).
        run_cpu_s: CPU time in s during the run: of this process (runtime mode, single-threaded,
            so this is the run time without other processes' load), or of the C++ program, all
            its threads (standalone mode).
        v: ``(samples, n_recorded)`` float64 membrane potential of the neurons in
            ``v_indices``, sampled at the start of every step (before its update, as spikesub's
            reservoir samples), or ``None``.
        v_times_ms: ``(samples,)`` sample times ``n * dt_ms`` in ms.
        v_indices: ``(n_recorded,)`` int64 indices of the recorded neurons.
        dt_ms: time step in ms.
        duration_ms: simulated time in ms.
        n_synapses: number of synapses in the Brian2 network.
        threads: threads the simulation ran on (1 in runtime mode).
        binary_s: standalone mode: wall time in s of the whole C++ program (reading its arrays,
            creating the synapses, the run, writing the results); 0 in runtime mode.
    """

    spikes: SpikeTrains
    build_s: float
    compile_s: float
    run_s: float
    target: str
    prepare_s: float = 0.0
    run_cpu_s: float = 0.0
    v: np.ndarray | None = None
    v_times_ms: np.ndarray | None = None
    v_indices: np.ndarray | None = None
    dt_ms: float = 0.0
    duration_ms: float = 0.0
    n_synapses: int = 0
    threads: int = 1
    binary_s: float = 0.0

    @property
    def n_steps(self) -> int:
        """Number of simulated time steps."""
        return int(round(self.duration_ms / self.dt_ms)) if self.dt_ms > 0 else 0


def _per_neuron(name: str, value: Any, n: int) -> np.ndarray:
    """``value`` as a ``(n,)`` float64 array (scalars are broadcast)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},); got shape {arr.shape}")
    return arr.copy()


def _form_of(population: Any) -> str:
    """``"2003"`` or ``"2007"`` from the population's ``form`` field."""
    form = str(getattr(population, "form", "")).lower()
    if "2003" in form:
        return "2003"
    if "2007" in form:
        return "2007"
    raise ValueError(
        f"population.form must name the Izhikevich 2003 or 2007 form; got {population.form!r}"
    )


def _check_duration(duration_ms: float, dt_ms: float) -> int:
    if isinstance(duration_ms, bool) or not isinstance(duration_ms, (int, float, np.number)):
        raise TypeError(f"duration_ms must be a number of ms; got {type(duration_ms).__name__}")
    duration_ms = float(duration_ms)
    if not np.isfinite(duration_ms) or duration_ms < 0:
        raise ValueError(f"duration_ms must be finite and >= 0; got {duration_ms}")
    n_steps = int(round(duration_ms / dt_ms))
    if abs(n_steps * dt_ms - duration_ms) > 1e-9 * max(1.0, duration_ms):
        raise ValueError(
            f"duration_ms must be a whole number of steps of dt_ms = {dt_ms}; got {duration_ms}"
        )
    return n_steps


def _project(signal: Any, encoder: Any) -> np.ndarray:
    """``(steps, N)`` current ``signal @ encoder.T`` (``encoder`` ``(N, channels)``), summed
    over channels in ascending order as spikesub's loop sums them (so the rounding is the
    same)."""
    signal = np.asarray(signal, dtype=np.float64)
    encoder = np.asarray(encoder, dtype=np.float64)
    out = np.zeros((signal.shape[0], encoder.shape[0]))
    for q in range(signal.shape[1]):
        out += signal[:, q : q + 1] * encoder[:, q]
    return out


def _equations(form: str, with_noise: bool, with_current: bool) -> str:
    terms = ["I_bias"]
    if with_noise:
        terms.append("I_noise")
    if with_current:
        terms.append("I_ext(t, i)")
    current = " + ".join(terms)
    if form == "2003":
        model = (
            "dv/dt = (0.04*v**2 + 5*v + 140 - u + I)/ms : 1\n"
            "du/dt = a*(b*v - u)/ms : 1\n"
            "a : 1 (constant)\nb : 1 (constant)\n"
        )
    else:
        model = (
            "dv/dt = (k*(v - v_r)*(v - v_t) - u + I)/C/ms : 1\n"
            "du/dt = a*(b*(v - v_r) - u)/ms : 1\n"
            "a : 1 (constant)\nb : 1 (constant)\n"
            "C : 1 (constant)\nk : 1 (constant)\n"
            "v_r : 1 (constant)\nv_t : 1 (constant)\n"
        )
    model += (
        f"I = {current} : 1\n"
        "c : 1 (constant)\nd : 1 (constant)\nv_peak : 1 (constant)\n"
        "I_bias : 1 (constant)\n"
    )
    if with_noise:
        model += "I_noise : 1\nsigma : 1 (constant)\n"
    return model


@dataclass
class _Network:
    """The reservoir's network, checked and converted for Brian2 (see :func:`run_brian2`)."""

    reservoir: Any
    form: str
    n: int
    dt_ms: float
    n_steps: int
    bias: np.ndarray
    ext: np.ndarray | None
    rec: np.ndarray | None
    noise_std: np.ndarray
    with_noise: bool


def run_brian2(
    reservoir: Any,
    duration_ms: float,
    *,
    current: np.ndarray | None = None,
    target: str = "cython",
    threads: int = 1,
    runs: int = 1,
    record_v: np.ndarray | list[int] | None = None,
    seed: int | None = None,
    progress: bool = False,
    directory: str | os.PathLike | None = None,
) -> Brian2Run:
    """Simulate a spikesub reservoir in Brian2 and time it.

    The reservoir itself is not changed or advanced: Brian2 starts from the population's
    ``v_init`` / ``u_init``, like a fresh spikesub run.

    Args:
        reservoir: an ``IzhikevichReservoir`` with ``synapse="delta"`` and ``n_substeps == 1``.
        duration_ms: simulated time in ms, a whole number of steps of ``reservoir.dt_ms``.
        current: optional external current, as in ``IzhikevichReservoir.run``: ``(n_neurons,)``
            constant (added to the bias), ``(steps, n_neurons)`` with row ``n`` applied during
            step ``n`` (at least ``duration_ms / dt_ms`` rows; extra rows are ignored), or a
            ``CurrentInput`` (``encoder @ signal[n]``, summed over channels in ascending order).
        target: one of :data:`TARGETS`: ``"cython"`` or ``"numpy"`` (runtime mode, one
            thread), or ``"cpp_standalone"`` (Brian2 writes, compiles and runs a C++ program;
            see :func:`_run_standalone`).
        threads: threads of the ``"cpp_standalone"`` program: 1 compiles it without OpenMP,
            more with OpenMP on that many threads. The runtime targets take only 1.
        runs: ``"cpp_standalone"``: run the compiled program this many times (the same seed, so
            the same spikes) and report the fastest run. The runtime targets take only 1.
        record_v: optional indices of neurons whose ``v`` is sampled at the start of every step.
        seed: seed of Brian2's random generator (NumPy's global one in runtime mode, the C++
            program's in standalone mode); defaults to ``reservoir.seed`` (0 when that is not an
            int).
        progress: show a tqdm progress bar of the simulated time (updated about once a second;
            runtime targets only).
        directory: where ``"cpp_standalone"`` writes its project (kept afterwards); ``None``: a
            temporary folder, deleted afterwards.

    Returns:
        A :class:`Brian2Run` with the spike trains and the build / compile / run wall times.

    Raises:
        ImportError: Brian2 is not installed.
        ValueError: ``reservoir.synapse`` is not ``"delta"``, ``n_substeps`` is not 1, ``target``
            is unknown, ``threads`` or ``runs`` is below 1 (or above 1 for a runtime target),
            ``duration_ms`` is negative or not a whole number of steps, ``current`` or
            ``record_v`` have the wrong shape or values.
        TypeError: ``duration_ms``, ``target``, ``threads`` or ``runs`` have the wrong type.
        RuntimeError: the C++ program failed to compile or to run.
    """
    _check_target(target, threads, runs)
    net = _prepare(reservoir, duration_ms, current, record_v)
    if seed is None:
        seed = getattr(reservoir, "seed", 0)
        seed = int(seed) if isinstance(seed, (int, np.integer)) else 0
    seed = int(seed) % (2**32)

    b2 = import_brian2()
    if target == STANDALONE:
        return _run_standalone(b2, net, threads, runs, seed, directory)
    # Brian2's preferences and NumPy's global generator (Brian2's) are put back afterwards.
    old_target = b2.prefs.codegen.target
    old_random = np.random.get_state()  # noqa: NPY002 (the generator Brian2 draws from)
    b2.prefs.codegen.target = target
    b2.seed(seed)
    try:
        return _run_runtime(b2, net, target, progress)
    finally:
        b2.prefs.codegen.target = old_target
        np.random.set_state(old_random)  # noqa: NPY002


def _check_target(target: Any, threads: Any, runs: Any) -> None:
    if not isinstance(target, str):
        raise TypeError(f"target must be a string, one of {TARGETS}; got {target!r}")
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}; got {target!r}")
    for name, value in (("threads", threads), ("runs", runs)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an integer >= 1; got {value!r}")
        if value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value}")
    if threads != 1 and target != STANDALONE:
        raise ValueError(
            f"threads must be 1 for the runtime target {target!r} (Brian2's runtime mode is "
            f"single-threaded; target='{STANDALONE}' runs on several); got {threads}"
        )
    if runs != 1 and target != STANDALONE:
        raise ValueError(f"runs must be 1 for the runtime target {target!r}; got {runs}")


def _prepare(reservoir: Any, duration_ms: float, current: Any, record_v: Any) -> _Network:
    """Check the reservoir and the run's arguments; convert them to what Brian2 needs."""
    synapse = getattr(reservoir, "synapse", "delta")
    if synapse != "delta":
        raise ValueError(
            f"synapse must be 'delta' for the Brian2 reference; the reservoir has "
            f"synapse={synapse!r}"
        )
    population = reservoir.population
    n = int(reservoir.n_neurons)
    dt_ms = float(reservoir.dt_ms)
    form = _form_of(population)
    n_substeps = np.unique(np.asarray(population.n_substeps))
    if n_substeps.size != 1 or int(n_substeps[0]) != 1:
        raise ValueError(
            f"n_substeps must be 1 for the Brian2 reference (Brian2's euler takes one step of "
            f"dt); the population has n_substeps={population.n_substeps!r}"
        )
    n_steps = _check_duration(duration_ms, dt_ms)
    ext = None
    bias = _per_neuron("bias_current", reservoir.bias_current, n)
    if current is not None and hasattr(current, "per_step") and hasattr(current, "encoder"):
        current = _project(current.per_step(n_steps, dt_ms), current.encoder)
    if current is not None and np.ndim(current) == 1:
        constant = np.asarray(current, dtype=np.float64)
        if constant.shape != (n,) or not np.all(np.isfinite(constant)):
            raise ValueError(f"current must be finite with shape ({n},); got {constant.shape}")
        bias = bias + constant
    elif current is not None:
        ext = np.asarray(current, dtype=np.float64)
        if ext.ndim != 2 or ext.shape[1] != n or ext.shape[0] < n_steps:
            raise ValueError(
                f"current must have shape (steps >= {n_steps}, {n}); got shape {ext.shape}"
            )
        if not np.all(np.isfinite(ext[:n_steps])):
            raise ValueError("current must be finite")
        ext = np.ascontiguousarray(ext[:n_steps]) if n_steps else None
    rec = None
    if record_v is not None:
        rec = np.asarray(record_v, dtype=np.int64).ravel()
        if rec.size == 0 or rec.min() < 0 or rec.max() >= n:
            raise ValueError(f"record_v must hold neuron indices in [0, {n - 1}]; got {record_v!r}")
    noise_std = _per_neuron("noise_std", reservoir.noise_std, n)
    if np.any(noise_std < 0):
        raise ValueError("noise_std must be >= 0")
    return _Network(
        reservoir=reservoir,
        form=form,
        n=n,
        dt_ms=dt_ms,
        n_steps=n_steps,
        bias=bias,
        ext=ext,
        rec=rec,
        noise_std=noise_std,
        with_noise=bool(np.any(noise_std > 0)),
    )


@dataclass
class _Objects:
    """The Brian2 objects of one network."""

    network: Any
    spikes: Any
    v: Any
    n_synapses: int


def _build(b2: Any, net: _Network) -> _Objects:
    """Create the Brian2 objects on the active device (runtime or standalone)."""
    ms = b2.ms
    population = net.reservoir.population
    n = net.n
    clock = b2.Clock(dt=net.dt_ms * ms, name="spikesub_clock")
    namespace: dict[str, Any] = {}
    if net.ext is not None:
        namespace["I_ext"] = b2.TimedArray(net.ext, dt=net.dt_ms * ms, name="spikesub_current")
    group = b2.NeuronGroup(
        n,
        _equations(net.form, net.with_noise, net.ext is not None),
        threshold="v >= v_peak",
        reset="v = c\nu += d",
        method="euler",
        clock=clock,
        namespace=namespace,
        name="spikesub_neurons",
    )
    group.v = _per_neuron("v_init", population.v_init, n)
    group.u = _per_neuron("u_init", population.u_init, n)
    group.a = _per_neuron("a", population.a, n)
    group.b = _per_neuron("b", population.b, n)
    group.c = _per_neuron("c", population.c, n)
    group.d = _per_neuron("d", population.d, n)
    group.v_peak = _per_neuron("v_peak", population.v_peak, n)
    group.I_bias = net.bias
    if net.form == "2007":
        group.C = _per_neuron("C", population.C, n)
        group.k = _per_neuron("k", population.k, n)
        group.v_r = _per_neuron("v_r", population.v_r, n)
        group.v_t = _per_neuron("v_t", population.v_t, n)
    objects: list[Any] = [group]
    if net.with_noise:
        group.sigma = net.noise_std
        group.I_noise = 0.0
        interval_ms = float(net.reservoir.noise_interval_ms)
        objects.append(
            group.run_regularly(
                "I_noise = sigma*randn()",
                dt=interval_ms * ms,
                when="start",
                name="spikesub_noise",
            )
        )
    pre, post = net.reservoir.weights.pre_post()
    weights = np.asarray(net.reservoir.weights.weights, dtype=np.float64)
    n_synapses = int(weights.shape[0])
    if n_synapses:
        syn = b2.Synapses(
            group,
            group,
            model="w : 1 (constant)",
            on_pre="v_post += w",
            clock=clock,
            name="spikesub_synapses",
        )
        syn.connect(i=np.asarray(pre, dtype=np.int32), j=np.asarray(post, dtype=np.int32))
        syn.w[:] = weights
        objects.append(syn)
    del pre, post
    spike_mon = b2.SpikeMonitor(group, name="spikesub_spikes")
    objects.append(spike_mon)
    state_mon = None
    if net.rec is not None:
        state_mon = b2.StateMonitor(
            group, "v", record=net.rec, when="start", order=-1, clock=clock, name="spikesub_v"
        )
        objects.append(state_mon)
    network = b2.Network(*objects, name="spikesub_network")
    return _Objects(network=network, spikes=spike_mon, v=state_mon, n_synapses=n_synapses)


def _result(net: _Network, objects: _Objects, target: str, **timings: float) -> Brian2Run:
    """The :class:`Brian2Run` of a finished run (spikes sorted by time, then index)."""
    dt_ms = net.dt_ms
    dt_s = dt_ms * 1e-3
    steps = np.rint(np.asarray(objects.spikes.t_) / dt_s).astype(np.int64)
    idx = np.asarray(objects.spikes.i[:], dtype=np.int32)
    order = np.lexsort((idx, steps))
    spikes = SpikeTrains(
        times_ms=steps[order] * dt_ms,
        indices=idx[order],
        n_neurons=net.n,
        t_start_ms=0.0,
        duration_ms=net.n_steps * dt_ms,
    )
    v = v_times = None
    if objects.v is not None:
        v = np.asarray(objects.v.v[:], dtype=np.float64).T.copy()
        v_times = np.rint(np.asarray(objects.v.t_) / dt_s) * dt_ms
    return Brian2Run(
        spikes=spikes,
        target=target,
        v=v,
        v_times_ms=v_times,
        v_indices=net.rec,
        dt_ms=dt_ms,
        duration_ms=net.n_steps * dt_ms,
        n_synapses=objects.n_synapses,
        **timings,
    )


def _run_runtime(b2: Any, net: _Network, target: str, progress: bool) -> Brian2Run:
    """Build, compile (a zero-length run) and run in Brian2's runtime mode."""
    ms = b2.ms
    t0 = time.perf_counter()
    objects = _build(b2, net)
    build_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    objects.network.run(0 * ms, namespace={})
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    objects.network.run(0 * ms, namespace={})
    prepare_s = time.perf_counter() - t0

    n_steps = net.n_steps
    report = None
    bar = None
    if progress and n_steps:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_steps, unit="step", desc=f"brian2 ({target})", leave=False)

        def report(elapsed: Any, completed: float, start: Any, duration: Any) -> None:
            bar.update(int(round(completed * n_steps)) - bar.n)

    t0 = time.perf_counter()
    c0 = time.process_time()
    try:
        objects.network.run(
            n_steps * net.dt_ms * ms,
            namespace={},
            report=report,
            report_period=1.0 * b2.second,
        )
    finally:
        if bar is not None:
            bar.close()
    run_s = time.perf_counter() - t0
    run_cpu_s = time.process_time() - c0
    return _result(
        net, objects, target, build_s=build_s, compile_s=compile_s, run_s=run_s,
        prepare_s=prepare_s, run_cpu_s=run_cpu_s,
    )  # fmt: skip


# C++ lines around the network's run in the standalone program's main(): the wall and CPU time
# of the run alone, written to the results folder. (Brian2's own measure of the run is CPU time
# without OpenMP and wall time with it.)
_TIMER_START = """\
struct timespec spikesub_wall0, spikesub_wall1, spikesub_cpu0, spikesub_cpu1;
clock_gettime(CLOCK_MONOTONIC, &spikesub_wall0);
clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spikesub_cpu0);"""
_TIMER_END = """\
clock_gettime(CLOCK_MONOTONIC, &spikesub_wall1);
clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spikesub_cpu1);
{
    std::ofstream spikesub_out(results_dir + "spikesub_run_times.txt");
    spikesub_out.precision(17);
    spikesub_out << (spikesub_wall1.tv_sec - spikesub_wall0.tv_sec)
                    + 1e-9 * (spikesub_wall1.tv_nsec - spikesub_wall0.tv_nsec) << " "
                 << (spikesub_cpu1.tv_sec - spikesub_cpu0.tv_sec)
                    + 1e-9 * (spikesub_cpu1.tv_nsec - spikesub_cpu0.tv_nsec) << std::endl;
}"""


def _run_standalone(
    b2: Any,
    net: _Network,
    threads: int,
    runs: int,
    seed: int,
    directory: str | os.PathLike | None,
) -> Brian2Run:
    """Build, compile and run the network as a Brian2 C++ standalone program.

    Brian2's ``cpp_standalone`` device is made active for this run only (Brian2's recipe for
    several standalone runs in one process: ``set_device(..., build_on_run=False)``,
    ``device.build(...)``, then ``device.reinit()``; the previous device, normally the
    runtime one, is restored afterwards, with the OpenMP preference). One thread compiles the
    program without OpenMP (``openmp_threads = 0``), Brian2's serial code; more threads
    compile it with OpenMP on that many threads.

    Timings: ``build_s`` is the Python side (objects, code generation, the arrays written to
    disk), ``compile_s`` Brian2's ``make``, ``run_s`` and ``run_cpu_s`` the wall and CPU time
    of the network's run inside the program (timers around it in ``main()``), ``binary_s``
    the whole program (reading the arrays, creating the synapses, the run, writing results).
    With ``runs > 1`` the program runs again (``device.run``) and the fastest run counts.
    """
    from brian2.devices.device import reset_device

    keep = directory is not None
    project = Path(directory) if keep else Path(tempfile.mkdtemp(prefix="spikesub_brian2_"))
    old_threads = b2.prefs.devices.cpp_standalone.openmp_threads
    b2.set_device("cpp_standalone", build_on_run=False, directory=str(project))
    try:
        b2.prefs.devices.cpp_standalone.openmp_threads = 0 if threads == 1 else int(threads)
        device = b2.get_device()
        b2.seed(seed)
        t0 = time.perf_counter()
        objects = _build(b2, net)
        device.insert_code("before_network_run", _TIMER_START)
        device.insert_code("after_network_run", _TIMER_END)
        objects.network.run(net.n_steps * net.dt_ms * b2.ms, namespace={})
        objects_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        device.build(directory=str(project), compile=True, run=True, with_output=False)
        total_s = time.perf_counter() - t0
        compile_s = float(device.timers["compile"]["make"] or 0.0)
        binary_s = float(device.timers["run_binary"] or 0.0)
        build_s = objects_s + max(0.0, total_s - compile_s - binary_s)  # + code generation
        run_s, run_cpu_s = _read_run_times(project)
        for _ in range(runs - 1):
            device.run(str(project), None, False)
            again = _read_run_times(project)
            if again[0] < run_s:
                (run_s, run_cpu_s), binary_s = again, float(device.timers["run_binary"] or 0.0)
        return _result(
            net, objects, STANDALONE, build_s=build_s, compile_s=compile_s, run_s=run_s,
            run_cpu_s=run_cpu_s, binary_s=binary_s, threads=int(threads),
        )  # fmt: skip
    finally:
        b2.device.reinit()
        reset_device()  # back to the device active before (normally the runtime one)
        b2.prefs.devices.cpp_standalone.openmp_threads = old_threads
        if not keep:
            shutil.rmtree(project, ignore_errors=True)


def _read_run_times(project: Path) -> tuple[float, float]:
    """``(wall s, CPU s)`` of the network's run, as the standalone program wrote them."""
    text = (project / "results" / "spikesub_run_times.txt").read_text().split()
    return float(text[0]), float(text[1])
