"""FORCE training of a spiking network to produce a 5 Hz sine (Nicola & Clopath 2017, Fig. 2).

A network of ``N`` Izhikevich (2007) neurons with static random weights, double-exponential
synapses and a linear readout ``z = phi r`` whose output is fed back into every neuron
(``encoder z``) runs for ``duration_ms``. During the training window the decoder ``phi`` is
learned by recursive least squares every ``update_every`` steps (FORCE); after it, the network
runs on its own and the readout is compared with the target in the test window.

Defaults (Nicola & Clopath 2017; step order of their MATLAB code, see
:mod:`spikesub.kernels.force_loop`):

* neurons: ``C = 250`` pF, ``k = 2.5`` nS/mV, ``v_r = -60`` mV, ``v_t = -40`` mV, ``b = 0``,
  ``a = 0.01``/ms, ``d = 200`` pA, ``v_peak = 30`` mV, ``v_reset = -65`` mV, bias 1000 pA,
  forward Euler with ``dt = 0.04`` ms, initial ``v = v_r + (v_peak - v_r) U(0, 1)``, ``u = 0``;
* static weights ``G N(0, 1) [U < p] / (sqrt(N) p)`` with ``G = 5000`` pA, ``p = 0.1``, the
  mean of each neuron's nonzero input weights removed (``balance_rows``);
* feedback encoder ``Q (2 U(0, 1) - 1)``, ``Q = 5000`` pA; decoder starting at 0;
* synapses and readout rates filtered with ``tau_rise = 2`` ms, ``tau_decay = 20`` ms;
* RLS (:mod:`spikesub.kernels.plasticity`) with ``P(0) = I / alpha``, ``alpha = 0.5``, every
  20 steps in ``[5 s, 10 s)``; 15 s in all; target ``sin(2 pi 5 t)``.

The authors' MATLAB script for this figure (IZFORCESINE) differs in three places:
``b = -2`` nS, ``v_t = v_r + 40 - b / k = -19.2`` mV (which puts the 1000 pA bias at the
rheobase) and no row balancing; :data:`MATLAB_NEURONS` holds those settings. Its RLS step
also moves the decoder along ``P_old r`` where the toolkit's RLS uses ``P_new r``.
"""

from __future__ import annotations

import math
import numbers
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from spikesub.kernels.force_loop import STATUS_OK, force_loop_numba, force_loop_numpy
from spikesub.models.errors import NonFiniteStateError
from spikesub.models.neurons import IzhikevichPopulation
from spikesub.runs import config_fingerprint, prepare_run_dir, write_json, write_npz

EXPERIMENT = "force_sine"
FIGURE_NAME = "force_sine.png"
ARRAYS_NAME = "force_sine.npz"

#: Full-size run (the paper's Fig. 2 set-up).
FULL = {
    "n_neurons": 2000,
    "duration_ms": 15000.0,
    "train_start_ms": 5000.0,
    "train_stop_ms": 10000.0,
}
#: Small and short run (about ten seconds of CPU time): 1 s settling, 2 s training, 2 s test.
QUICK = {
    "n_neurons": 500,
    "duration_ms": 5000.0,
    "train_start_ms": 1000.0,
    "train_stop_ms": 3000.0,
}

#: Neuron and weight settings of the authors' MATLAB script IZFORCESINE.
MATLAB_NEURONS = {"b_nS": -2.0, "v_t_mV": -19.2, "balance_rows": False}

N_RASTER = 20
N_VOLTAGE = 5
SAMPLE_MS = 1.0
CHUNK_MS = 100.0


def _real(value: Any, name: str, *, positive: bool = False, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    if positive and value <= 0.0:
        raise ValueError(f"{name} must be > 0; got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return value


def _int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def force_weights(
    n_neurons: int,
    *,
    gain_pA: float = 5e3,
    p_connect: float = 0.1,
    balance_rows: bool = False,
    rng: np.random.Generator,
) -> np.ndarray:
    """Static weights of the FORCE network, dense ``(post, pre)`` float64, in pA.

    ``gain_pA * N(0, 1) * [U(0, 1) < p_connect] / (sqrt(N) * p_connect)``, drawn as one
    ``(N, N)`` normal array then one ``(N, N)`` uniform array from ``rng``. With
    ``balance_rows`` the mean of each row's nonzero entries is subtracted from them, so every
    neuron's input weights sum to zero.
    """
    n = _int(n_neurons, "n_neurons", 1)
    p = _real(p_connect, "p_connect", positive=True)
    if p > 1.0:
        raise ValueError(f"p_connect must be in (0, 1]; got {p}")
    weights = rng.standard_normal((n, n))
    mask = rng.random((n, n)) < p
    weights *= mask * (float(gain_pA) / (math.sqrt(n) * p))
    if balance_rows:
        counts = mask.sum(axis=1)
        means = np.divide(weights.sum(axis=1), counts, out=np.zeros(n), where=counts > 0)
        weights -= mask * means[:, None]
    return weights


def csr_by_presynaptic(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR over presynaptic rows of a dense ``(post, pre)`` matrix's nonzero entries.

    Returns:
        ``(indptr, indices, values)``: int64 ``(N_pre + 1,)``, int32 ``(nnz,)`` postsynaptic
        indices ascending within a row, float64 ``(nnz,)``.
    """
    by_pre = np.ascontiguousarray(weights.T)
    pre, post = np.nonzero(by_pre)
    indptr = np.zeros(by_pre.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(pre, minlength=by_pre.shape[0]), out=indptr[1:])
    return indptr, post.astype(np.int32), by_pre[pre, post].astype(np.float64)


def sine_target(
    n_steps: int, dt_ms: float, frequency_hz: float, amplitude: float = 1.0
) -> np.ndarray:
    """``amplitude * sin(2 pi f t)`` at the end of each step ``g``, ``t = (g + 1) dt``.

    Returns:
        ``(n_steps, 1)`` float64.
    """
    t_ms = (np.arange(n_steps, dtype=np.float64) + 1.0) * dt_ms
    return (amplitude * np.sin(2.0 * np.pi * frequency_hz * t_ms / 1000.0))[:, None]


def relative_rmse(z: np.ndarray, target: np.ndarray) -> float:
    """``||z - target|| / ||target||`` over all entries (``inf`` when the target is 0)."""
    norm = float(np.linalg.norm(target))
    return float(np.linalg.norm(z - target)) / norm if norm > 0.0 else math.inf


def oscillation_frequency_hz(x: np.ndarray, dt_ms: float) -> float:
    """Mean frequency of a signal from its upward crossings of its own mean (``nan`` if < 2).

    Args:
        x: ``(n_steps,)`` samples, ``dt_ms`` apart.
    """
    x = np.asarray(x, dtype=np.float64) - float(np.mean(x))
    up = np.flatnonzero((x[:-1] < 0.0) & (x[1:] >= 0.0))
    if up.size < 2:
        return math.nan
    # linear interpolation of the crossing inside its step
    t = (up + x[up] / (x[up] - x[up + 1])) * dt_ms
    return 1000.0 * (up.size - 1) / (t[-1] - t[0])


def run_force_sine(
    out: str | Path | None = None,
    *,
    quick: bool = False,
    seed: int = 0,
    n_neurons: int | None = None,
    duration_ms: float | None = None,
    train_start_ms: float | None = None,
    train_stop_ms: float | None = None,
    dt_ms: float = 0.04,
    frequency_hz: float = 5.0,
    amplitude: float = 1.0,
    gain_static_pA: float = 5e3,
    gain_feedback_pA: float = 5e3,
    p_connect: float = 0.1,
    balance_rows: bool = True,
    bias_pA: float = 1000.0,
    b_nS: float = 0.0,
    v_t_mV: float = -40.0,
    tau_rise_ms: float = 2.0,
    tau_decay_ms: float = 20.0,
    rls_alpha: float = 0.5,
    update_every: int = 20,
    backend: str = "numba",
    progress: bool = True,
    plot: bool = True,
) -> dict[str, Any]:
    """Train the Nicola & Clopath (2017) spiking network on a sine with FORCE; write a run folder.

    Args:
        out: run folder (created); ``None`` makes ``runs/force-sine-<date>-<time>``.
        quick: small, short defaults (:data:`QUICK`) instead of the full run (:data:`FULL`);
            ``n_neurons``, ``duration_ms`` and the training window override either.
        seed: seeds one ``numpy.random.Generator``, drawn in this order: initial ``v``, static
            weights (normals, then the mask), encoder.
        dt_ms: Euler step (ms).
        frequency_hz, amplitude: the target ``amplitude * sin(2 pi f t)``.
        gain_static_pA, gain_feedback_pA, p_connect: ``G``, ``Q`` and the connection
            probability.
        balance_rows: remove the mean of each neuron's nonzero input weights.
        bias_pA: constant input current of every neuron.
        b_nS, v_t_mV: recovery coupling and threshold of the neurons (``**MATLAB_NEURONS``
            gives the settings of the authors' script).
        tau_rise_ms, tau_decay_ms: double-exponential filter of synapses and readout.
        rls_alpha: RLS regulariser, ``P(0) = I / rls_alpha``.
        update_every: steps between RLS updates during training.
        backend: ``"numba"`` (default) or ``"numpy"`` (reference, slow); ``"auto"`` means
            ``"numba"`` (the loop has no CUDA version).
        progress: tqdm bar over the simulated time (also off when stderr is not a terminal).
        plot: draw ``force_sine.png`` with :func:`spikesub.force_sine_plots.plot_force_sine`.

    Returns:
        the metrics also written to ``metrics.json`` plus ``run_dir``, the folder's path as
        a string. ``test_rel_rmse`` is ``||z - target|| / ||target||`` over the test window
        (``test_rel_rmse_first_s`` over its first second), ``train_rmse`` and
        ``train_rel_rmse`` over the last second of training, ``test_frequency_hz`` and
        ``test_amplitude`` describe the free-running output, ``mean_rate_hz`` and
        ``test_rate_hz`` the firing, ``wall_s`` the simulation time (``compile_s`` the
        compilation before it).

    Raises:
        ValueError / TypeError: bad parameters, naming the parameter.
        NonFiniteStateError: the network's state became non-finite (names step and neuron).
    """
    if not isinstance(quick, (bool, np.bool_)):
        raise TypeError(f"quick must be a bool; got {quick!r}")
    preset = QUICK if quick else FULL
    n = _int(preset["n_neurons"] if n_neurons is None else n_neurons, "n_neurons", 1)
    duration = _real(
        preset["duration_ms"] if duration_ms is None else duration_ms, "duration_ms", positive=True
    )
    t_start = _real(
        preset["train_start_ms"] if train_start_ms is None else train_start_ms,
        "train_start_ms",
        minimum=0.0,
    )
    t_stop = _real(
        preset["train_stop_ms"] if train_stop_ms is None else train_stop_ms,
        "train_stop_ms",
        minimum=0.0,
    )
    if not t_start < t_stop < duration:
        raise ValueError(
            "need train_start_ms < train_stop_ms < duration_ms (a training and a test window); "
            f"got {t_start}, {t_stop}, {duration}"
        )
    seed = _int(seed, "seed", 0)
    dt = _real(dt_ms, "dt_ms", positive=True)
    freq = _real(frequency_hz, "frequency_hz", positive=True)
    amp = _real(amplitude, "amplitude", positive=True)
    g_static = _real(gain_static_pA, "gain_static_pA", minimum=0.0)
    q_feedback = _real(gain_feedback_pA, "gain_feedback_pA", minimum=0.0)
    p_conn = _real(p_connect, "p_connect", positive=True)
    if p_conn > 1.0:
        raise ValueError(f"p_connect must be in (0, 1]; got {p_conn}")
    bias = _real(bias_pA, "bias_pA")
    b = _real(b_nS, "b_nS")
    tau_r = _real(tau_rise_ms, "tau_rise_ms", positive=True)
    tau_d = _real(tau_decay_ms, "tau_decay_ms", positive=True)
    alpha = _real(rls_alpha, "rls_alpha", positive=True)
    every = _int(update_every, "update_every", 1)
    if not isinstance(balance_rows, (bool, np.bool_)):
        raise TypeError(f"balance_rows must be a bool; got {balance_rows!r}")
    if not isinstance(backend, str) or backend.lower() not in ("auto", "numba", "numpy"):
        raise ValueError(
            f"backend must be 'numba', 'numpy' or 'auto' (the loop has no CUDA version); "
            f"got {backend!r}"
        )
    backend_name = "numpy" if backend.lower() == "numpy" else "numba"
    loop = force_loop_numba if backend_name == "numba" else force_loop_numpy

    k_gain, v_r = 2.5, -60.0
    v_t = _real(v_t_mV, "v_t_mV")
    n_steps = int(round(duration / dt))
    start_step = int(round(t_start / dt))
    stop_step = int(round(t_stop / dt))
    sample_every = max(1, int(round(SAMPLE_MS / dt)))
    chunk_steps = sample_every * max(1, int(round(CHUNK_MS / (sample_every * dt))))

    config = {
        "experiment": EXPERIMENT,
        "quick": bool(quick),
        "seed": seed,
        "n_neurons": n,
        "n_out": 1,
        "duration_ms": duration,
        "train_start_ms": t_start,
        "train_stop_ms": t_stop,
        "dt_ms": dt,
        "frequency_hz": freq,
        "amplitude": amp,
        "gain_static_pA": g_static,
        "gain_feedback_pA": q_feedback,
        "p_connect": p_conn,
        "balance_rows": bool(balance_rows),
        "bias_pA": bias,
        "neuron": {
            "C_pF": 250.0,
            "k_nS_per_mV": k_gain,
            "v_r_mV": v_r,
            "v_t_mV": v_t,
            "v_peak_mV": 30.0,
            "v_reset_mV": -65.0,
            "a_per_ms": 0.01,
            "b_nS": b,
            "d_pA": 200.0,
        },
        "tau_rise_ms": tau_r,
        "tau_decay_ms": tau_d,
        "rls_alpha": alpha,
        "update_every": every,
        "sample_ms": sample_every * dt,
        "backend": backend_name,
    }

    rng = np.random.default_rng(seed)
    pop = IzhikevichPopulation.izhikevich_2007(
        n, v_t=v_t, b=b, k=k_gain, v_r=v_r, C=250.0, a=0.01, d=200.0, seed=rng
    )
    weights = force_weights(
        n, gain_pA=g_static, p_connect=p_conn, balance_rows=bool(balance_rows), rng=rng
    )
    encoder = q_feedback * (2.0 * rng.random((1, n)) - 1.0)
    indptr, indices, values = csr_by_presynaptic(weights)
    del weights

    def per_neuron(x) -> np.ndarray:
        # a writeable copy: the population's arrays are read-only, and the compiled loop
        # would otherwise be compiled a second time for read-only arrays
        return np.array(np.broadcast_to(np.asarray(x, dtype=np.float64), (n,)))

    neuron = (
        *(per_neuron(x) for x in (pop.C, pop.k, pop.v_r, pop.v_t, pop.a, pop.b, pop.c, pop.d)),
        per_neuron(bias),
        float(pop.v_peak),
        dt,
    )
    state = (
        pop.v_init.astype(np.float64),
        pop.u_init.astype(np.float64),
        *(np.zeros(n) for _ in range(4)),
        np.zeros(1),
    )
    phi = np.zeros((1, n))
    P = np.eye(n) / alpha
    target = sine_target(n_steps, dt, freq, amp)
    raster_idx = np.arange(min(N_RASTER, n), dtype=np.int64)
    v_idx = np.arange(min(N_VOLTAGE, n), dtype=np.int64)

    z_all = np.zeros((n_steps, 1))
    counts = np.zeros(n_steps, dtype=np.int32)
    spikes_rec = np.zeros((n_steps, raster_idx.size), dtype=bool)
    n_samples = n_steps // sample_every
    v_rec = np.zeros((n_samples, v_idx.size))
    phi_norm = np.zeros(n_samples)

    settings = {k: v for k, v in config.items() if k != "experiment"}
    run_dir = prepare_run_dir(out, job=EXPERIMENT, config=settings, prefix="force-sine")
    fingerprint = config_fingerprint(EXPERIMENT, settings)
    write_json(run_dir / "config.json", {**config, "job": EXPERIMENT, "fingerprint": fingerprint})
    show = bool(progress) and sys.stderr.isatty()
    synapse = (tau_r, tau_d)
    network = (indptr, indices, values, encoder)
    started = time.perf_counter()
    if backend_name == "numba":  # compile before timing: a call with no steps changes nothing
        loop(
            neuron,
            synapse,
            state,
            network,
            (phi, P, target[:0], 0, start_step, stop_step, every),
            (z_all[:0], counts[:0], raster_idx, spikes_rec[:0], v_idx, v_rec[:0], phi_norm[:0], 1),
        )
    compile_s = time.perf_counter() - started
    started = time.perf_counter()
    with tqdm(
        total=round(duration), disable=not show, unit="ms", desc="force sine", leave=False
    ) as bar:
        for lo in range(0, n_steps, chunk_steps):
            hi = min(n_steps, lo + chunk_steps)
            s_lo, s_hi = lo // sample_every, hi // sample_every
            learning = (phi, P, target[lo:hi], lo, start_step, stop_step, every)
            record = (
                z_all[lo:hi],
                counts[lo:hi],
                raster_idx,
                spikes_rec[lo:hi],
                v_idx,
                v_rec[s_lo:s_hi],
                phi_norm[s_lo:s_hi],
                sample_every,
            )
            status, err_step, err_neuron = loop(neuron, synapse, state, network, learning, record)
            if status != STATUS_OK:
                raise NonFiniteStateError(err_step, err_neuron, "v", dt_ms=dt)
            bar.update(round(hi * dt) - bar.n)
    wall = time.perf_counter() - started

    test = slice(stop_step, n_steps)
    first_test = slice(stop_step, min(n_steps, stop_step + int(round(1000.0 / dt))))
    last_train = slice(max(start_step, stop_step - int(round(1000.0 / dt))), stop_step)
    err_train = z_all[last_train] - target[last_train]
    metrics = {
        "experiment": EXPERIMENT,
        "test_rel_rmse": relative_rmse(z_all[test], target[test]),
        "test_rmse": float(np.sqrt(np.mean((z_all[test] - target[test]) ** 2))),
        "train_rmse": float(np.sqrt(np.mean(err_train**2))),
        "train_rel_rmse": relative_rmse(z_all[last_train], target[last_train]),
        "test_rel_rmse_first_s": relative_rmse(z_all[first_test], target[first_test]),
        "test_frequency_hz": oscillation_frequency_hz(z_all[test, 0], dt),
        "test_amplitude": float(np.sqrt(2.0) * np.std(z_all[test, 0])),
        "pre_train_rel_rmse": relative_rmse(z_all[:start_step], target[:start_step]),
        "mean_rate_hz": float(counts.sum()) / (n * duration / 1000.0),
        "test_rate_hz": float(counts[test].sum()) / (n * (n_steps - stop_step) * dt / 1000.0),
        "final_phi_norm": float(np.linalg.norm(phi)),
        "rls_updates": len(range(start_step + (-start_step) % every, stop_step, every)),
        "wall_s": wall,
        "compile_s": compile_s,
        "steps_per_s": n_steps / wall if wall > 0 else math.inf,
    }
    write_json(run_dir / "metrics.json", metrics)

    sample_steps = (np.arange(n_samples) + 1) * sample_every - 1
    spike_step, spike_col = np.nonzero(spikes_rec)
    rate_counts = counts[: n_samples * sample_every].reshape(n_samples, sample_every).sum(axis=1)
    write_npz(
        run_dir / ARRAYS_NAME,
        t_ms=(sample_steps + 1) * dt,
        z=z_all[sample_steps],
        target=target[sample_steps],
        phi_norm=phi_norm,
        v=v_rec,
        v_neurons=v_idx,
        rate_hz=rate_counts / (n * sample_every * dt / 1000.0),
        spike_times_ms=(spike_step + 1) * dt,
        spike_neurons=raster_idx[spike_col],
        raster_neurons=raster_idx,
        phi=phi,
        encoder=encoder,
    )
    if plot:
        from spikesub.force_sine_plots import plot_force_sine

        plot_force_sine(run_dir)
    return {**metrics, "run_dir": str(run_dir)}
